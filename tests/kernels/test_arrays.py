"""Tests for kernels/arrays.py's launch helpers: the grid arithmetic agrees with Triton's,
and bench/launch_overhead.py, which times the launchers that use them."""
import pathlib
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

triton = pytest.importorskip("triton")
from minigan.kernels.arrays import cdiv, next_power_of_2  # noqa: E402  (needs triton)


@given(st.integers(0, 2 ** 40), st.integers(1, 2 ** 20))
def test_cdiv_is_triton_cdiv(a, b):
    assert cdiv(a, b) == triton.cdiv(a, b) == (a + b - 1) // b


@given(st.integers(0, 2 ** 40))
def test_next_power_of_2_is_tritons(n):
    assert next_power_of_2(n) == triton.next_power_of_2(n)


def test_bench_launch_overhead_times_every_launcher():
    """bench/launch_overhead.py (the host time of the launchers, kernels stubbed) runs and
    prints one timed row per launcher: the Triton ones, and Adam's CUDA launcher."""
    script = pathlib.Path(__file__).resolve().parents[2] / "bench" / "launch_overhead.py"
    result = subprocess.run([sys.executable, str(script), "--calls", "5", "--rounds", "2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [
        "conv2d", "conv_transpose2d", "conv2d_weight", "attention", "attention_backward",
        "spectral_norm_power_iteration", "adam_step(cuda)"]
    assert all(float(row[1]) > 0 for row in rows)
