"""The rows the CPU benchmarks print: median and best time per framework, and the ratio
of each median to PyTorch's median measured in the same run."""
from __future__ import annotations

import statistics


def print_rows(case: str, times: dict[str, list[float]], case_width: int, scale: float
               ) -> None:
    """One row per framework of ``times`` (seconds per call, one sample per block),
    printed in seconds x ``scale`` (1e3: ms, 1e6: us); the ratio is "-" without PyTorch."""
    base = statistics.median(times["pytorch"]) if "pytorch" in times else None
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = f"{median / base:.2f}" if base else "-"
        print(f"{case:<{case_width}}{name:<10}{scale * median:>11.2f}"
              f"{scale * min(samples):>9.2f}{ratio:>8}")
