"""Host instructions per call of one case, counted by valgrind instead of timed.

On a shared machine a time per call moves by 2x from one run to the next; the number of
instructions the CPU executes for the same code on the same inputs does not, provided
one thread does the work: callgrind counts every thread, and idle OpenMP and OpenBLAS
threads spin for as long as the timing of the run lets them (with them, counts differed
by up to 30% between two runs of the same command). This script runs one case of
bench/op_overhead.py (on minigan) or one tiny training step of bench/train_step.py
(batch 2, width 4, where the arithmetic is negligible) ``calls`` times after a short
warm-up; callgrind counts the whole process, so run it twice and subtract:

    export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python bench/host_instructions.py CASE 0        # start-up and warm-up only
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python bench/host_instructions.py CASE 1000     # the same plus 1000 calls

instructions per call = (second "Collected" count - first) / 1000. CASE is one of
``mul``, ``mul-no-graph``, ``relu``, ``linear``, ``backward``, ``double-backward``,
``dcgan-step``, ``wgan-gp-critic-step`` (bench/train_step.py's critic, without norms),
``wgan-gp-layer-norm-critic-step`` (the critic of examples/wgan_gp.py, with layer norm,
whose gradient penalty differentiates through the norms twice), or ``gpu-op-checks``:
what every op on CuPy arrays asks before its arithmetic (the same-device check of a
two-input op and one ``xp()`` lookup of the array module), on stand-in arrays that answer
``.device.id`` as CuPy's do, with a stand-in ``cupy`` module: no GPU needed.
"""
from __future__ import annotations

import argparse
import math
import sys
import types
from typing import Callable

import numpy as np

import op_overhead
import train_step
import minigan as mg
from minigan import autograd, backend, zoo

OP_CASES = {"mul": "a * b, recording", "mul-no-graph": "a * b, no graph", "relu": "relu(a)",
            "linear": "linear(a, w)", "backward": "mul-relu-sum + backward",
            "double-backward": "grad(create_graph) + backward"}
STEP_CASES = {"dcgan-step": zoo.RECIPES["dcgan"],
              "wgan-gp-critic-step": zoo.RECIPES["wgan_gp"].with_overrides(d_norm="none"),
              "wgan-gp-layer-norm-critic-step": zoo.RECIPES["wgan_gp"]}


class StandInGpuArray:
    """Answers what the op checks and the CUDA launchers ask of a float32 CuPy array on
    GPU 0, and nothing else: its attributes are plain values, as CuPy's are cheap C-level
    reads."""

    __module__ = "cupy"
    dtype = np.dtype(np.float32)
    device = types.SimpleNamespace(id=0)
    flags = types.SimpleNamespace(c_contiguous=True)

    def __init__(self, shape: tuple[int, ...] = (2, 3)) -> None:
        self.shape, self.ndim, self.size = shape, len(shape), math.prod(shape)
        self.data = types.SimpleNamespace(ptr=id(self))


def gpu_op_checks() -> Callable[[], object]:
    sys.modules.setdefault("cupy", types.ModuleType("cupy"))
    array = StandInGpuArray()
    inputs = (mg.Tensor(array), mg.Tensor(StandInGpuArray()))

    def checks():
        autograd._check_same_device("Add", inputs)
        return backend.xp(array)
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", choices=[*OP_CASES, *STEP_CASES, "gpu-op-checks"])
    parser.add_argument("calls", type=int)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if args.case == "gpu-op-checks":
        fn = gpu_op_checks()
    elif args.case in OP_CASES:
        a, b = (rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2))
        w = rng.standard_normal((4, 3)).astype(np.float32)
        fn = op_overhead.minigan_cases(a, b, w)[OP_CASES[args.case]]
    else:
        train_step.WIDTH = 4
        real = rng.uniform(-1, 1, (2, 3, train_step.SIZE, train_step.SIZE)).astype(np.float32)
        _, fn = train_step.minigan_case(STEP_CASES[args.case], real, "cpu")
    for _ in range(5):
        fn()
    for _ in range(args.calls):
        fn()


if __name__ == "__main__":
    main()
