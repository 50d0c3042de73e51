"""What one training step asks of the engine, counted: graph nodes, arrays made from Python
scalars, and calls of the registered ops.

On a GPU each graph node is host work before any launch, each array made from a Python
scalar is an allocation and a copy from the host, and each registered op is one kernel
launch or more (``python -c "import minigan; minigan.info()"`` says which implementation
runs each op). These counts do not depend on the sizes or the machine, so they are
measured here on the CPU, for one step of bench/train_step.py's DCGAN and WGAN-GP critic
steps after a warm-up step:

    python bench/step_census.py [--batch 8] [--width 8]

It wraps ``Function.apply`` (one call per node), ``minigan.ops.common.as_tensor`` with a
number (one call per scalar array), and ``minigan.backend.run`` and, where Adam's step and
the norms' forward update arrays in place and ask the registry themselves,
``backend.implementation`` (one call per registered op) during the step, and prints each
count by kind.
"""
from __future__ import annotations

import argparse
import collections
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

import train_step
from minigan import autograd, backend
from minigan.ops import activation, arithmetic, attention, common, conv, normalization, \
    spectral
from minigan.optim import adam
from host_instructions import STEP_CASES  # bench/host_instructions.py

# every module that imported ``run``, ``as_tensor`` or ``implementation`` by name
RUN_USERS = (activation, attention, conv, normalization, spectral)
AS_TENSOR_USERS = (arithmetic, common)
IMPLEMENTATION_USERS = (adam, normalization)   # in-place updates ask the registry itself


@contextmanager
def counting() -> Iterator[dict[str, collections.Counter]]:
    """Counters of nodes (by Function class), scalar arrays and registered ops (by op)
    while the block runs."""
    counts = {"nodes": collections.Counter(), "scalar arrays": collections.Counter(),
              "registered ops": collections.Counter()}
    apply, as_tensor, run = autograd.Function.apply.__func__, common.as_tensor, backend.run
    implementation = backend.implementation

    def counted_apply(cls, *inputs, **params):
        counts["nodes"][cls.__name__] += 1
        return apply(cls, *inputs, **params)

    def counted_as_tensor(value, like, op):
        if not hasattr(value, "shape"):
            counts["scalar arrays"][op] += 1
        return as_tensor(value, like, op)

    def counted_run(op, *args):
        counts["registered ops"][op] += 1
        return run(op, *args)

    def counted_implementation(op, device_type):
        counts["registered ops"][op] += 1
        return implementation(op, device_type)

    patches = [(autograd.Function, "apply", classmethod(counted_apply)),
               *((module, "as_tensor", counted_as_tensor) for module in AS_TENSOR_USERS),
               *((module, "run", counted_run) for module in RUN_USERS),
               *((module, "implementation", counted_implementation)
                 for module in IMPLEMENTATION_USERS)]
    patches = [(owner, name, value) for owner, name, value in patches
               if name in owner.__dict__]                # a module may not use every one
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield counts
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def census(step: Callable[[], None]) -> dict[str, collections.Counter]:
    step()                                                  # warm-up: lazy state, caches
    with counting() as counts:
        step()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=8)
    args = parser.parse_args()
    train_step.WIDTH = args.width
    size = train_step.SIZE
    real = np.random.default_rng(0).uniform(-1, 1, (args.batch, 3, size, size))
    for case, recipe in STEP_CASES.items():
        _, step = train_step.minigan_case(recipe, real.astype(np.float32), "cpu")
        counts = census(step)
        print(f"{case} (batch {args.batch}, width {args.width})")
        for kind, counter in counts.items():
            listed = ", ".join(f"{name} {n}" for name, n in counter.most_common())
            print(f"  {kind}: {sum(counter.values())}" + (f" ({listed})" if listed else ""))


if __name__ == "__main__":
    main()
