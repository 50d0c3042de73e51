"""Tests for bench/compiled_kernels.py: the launchers, compiled for an H100 as a launch
would compile them, run at the first convolution layer and attention shape of the GPU
benchmarks, and each kernel launched gets one row."""
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "compiled_kernels.py"


def test_each_launched_kernel_gets_a_row_with_hoppers_matrix_instructions():
    """The three convolution kernels of a layer and the three attention kernels, each on
    the warpgroup MMA (HGMMA) of an H100's tensor cores in float32 (TF32, the default),
    each fitting its shared memory."""
    pytest.importorskip("triton.backends.nvidia")
    result = subprocess.run([sys.executable, str(SCRIPT), "--layers", "1", "--shapes", "1",
                             "--dtypes", "float32"], capture_output=True, text=True,
                            timeout=600, cwd=SCRIPT.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["case", "dtype", "kernel"]
    kernels = [row.split("float32")[1].split()[0] for row in rows]
    assert kernels == ["conv2d_kernel", "conv_transpose2d_kernel", "conv2d_weight_kernel",
                       "attention_forward_kernel", "attention_dq_kernel",
                       "attention_dkdv_kernel"]
    for row in rows:
        assert "HGMMA:" in row.split()[-2] and "too much shared memory" not in row, row
