"""Host cost of one op: minigan vs PyTorch CPU on tensors too small to compute anything.

On a 2x3 float32 tensor an op's arithmetic takes well under a microsecond, so what is
timed is the work every call does on the host: argument checks, dispatch, building the
graph node, and, in the backward cases, walking the graph and checking each gradient.
That work is paid again on every op of a GPU step, where the arithmetic is on the device
and the host must keep up with it (bench/train_step.py --device cuda), and it is most of
a training step of the small 2-D networks of examples/ on the CPU.

Cases (``a``, ``w`` require grad; ``b`` does not):

* ``a * b`` with no graph (inside ``no_grad``), and recording a graph;
* ``relu(a)`` and ``linear(a, w)`` recording;
* ``(a * b).relu().sum().backward()``: three ops forward, three backward, one leaf
  gradient;
* ``grad`` of that sum with ``create_graph=True``, then a backward through the gradient
  (the double backward of a gradient penalty).

Each case runs in timed blocks of ``--calls`` calls that alternate between the frameworks
over ``--rounds`` rounds; the table prints the median time per call in microseconds, the
best block, and the ratio minigan / PyTorch. The raw NumPy multiply is printed for scale.

    python bench/op_overhead.py [--calls 2000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np

import minigan as mg
import minigan.nn.functional as F

from ratio_table import print_rows  # bench/ratio_table.py


def minigan_cases(a_np: np.ndarray, b_np: np.ndarray, w_np: np.ndarray
                  ) -> dict[str, Callable[[], object]]:
    a = mg.tensor(a_np, requires_grad=True)
    b = mg.tensor(b_np)
    w = mg.tensor(w_np, requires_grad=True)

    def mul_no_graph():
        with mg.no_grad():
            return a * b

    def backward():
        (a * b).relu().sum().backward()
        a.grad = None

    def double_backward():
        (g,) = mg.grad((a * b).relu().square().sum(), a, create_graph=True)
        g.sum().backward()
        a.grad = None

    return {"a * b, no graph": mul_no_graph,
            "a * b, recording": lambda: a * b,
            "relu(a)": lambda: F.relu(a),
            "linear(a, w)": lambda: F.linear(a, w),
            "mul-relu-sum + backward": backward,
            "grad(create_graph) + backward": double_backward}


def torch_cases(torch, a_np: np.ndarray, b_np: np.ndarray, w_np: np.ndarray
                ) -> dict[str, Callable[[], object]]:
    a = torch.tensor(a_np, requires_grad=True)
    b = torch.tensor(b_np)
    w = torch.tensor(w_np, requires_grad=True)

    def mul_no_graph():
        with torch.no_grad():
            return a * b

    def backward():
        (a * b).relu().sum().backward()
        a.grad = None

    def double_backward():
        (g,) = torch.autograd.grad((a * b).relu().square().sum(), a, create_graph=True)
        g.sum().backward()
        a.grad = None

    return {"a * b, no graph": mul_no_graph,
            "a * b, recording": lambda: a * b,
            "relu(a)": lambda: torch.relu(a),
            "linear(a, w)": lambda: torch.nn.functional.linear(a, w),
            "mul-relu-sum + backward": backward,
            "grad(create_graph) + backward": double_backward}


def block_time(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call over one block of ``calls`` calls, after ten untimed calls."""
    for _ in range(10):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per block")
    parser.add_argument("--rounds", type=int, default=5, help="blocks per framework")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a_np, b_np = (rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2))
    w_np = rng.standard_normal((4, 3)).astype(np.float32)

    frameworks = {"minigan": minigan_cases(a_np, b_np, w_np)}
    try:
        import torch
        torch.set_num_threads(1)
        frameworks["pytorch"] = torch_cases(torch, a_np, b_np, w_np)
        peer = f"PyTorch {torch.__version__} CPU, 1 thread"
    except ImportError:
        peer = "PyTorch not installed: no ratio"
    numpy_mul = statistics.median(block_time(lambda: a_np * b_np, args.calls)
                                  for _ in range(args.rounds))
    print(f"2x3 float32 tensors; {peer}; NumPy's a * b alone: {1e6 * numpy_mul:.2f} us")
    print(f"{'case':<32}{'framework':<10}{'median us':>11}{'min us':>9}{'ratio':>8}")
    for case in frameworks["minigan"]:
        times: dict[str, list[float]] = {name: [] for name in frameworks}
        for _ in range(args.rounds):
            for name, cases in frameworks.items():
                times[name].append(block_time(cases[case], args.calls))
        print_rows(case, times, 32, 1e6)


if __name__ == "__main__":
    main()
