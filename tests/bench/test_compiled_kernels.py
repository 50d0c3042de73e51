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
        assert "HGMMA:" in row.split()[-3] and "too much shared memory" not in row, row


def _loop_loads(*options):
    """{(layer, dtype, kernel): {load kind: count}} of the loop, for the first two
    convolution layers of bench/gpu.py (3 -> 64 and 64 -> 128 channels), compiled as
    launched; kinds as bench/sm90.py's "loop loads" column ("cp16": 16-byte asynchronous
    copies, "ld2": 2-byte loads into registers)."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--layers", "2", "--shapes", "0",
                             "--dtypes", "float32", "float16", *options], capture_output=True,
                            text=True, timeout=600, cwd=SCRIPT.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {}
    for row in result.stdout.splitlines()[1:]:
        layer, (dtype, kernel, *_, loads) = row[:26].strip(), row[26:].split()
        rows[layer.split()[2], dtype, kernel.removesuffix("_kernel")] = {
            kind: int(n) for kind, n in (each.split(":") for each in loads.split(","))
        } if loads != "-" else {}
    return rows


def test_channels_last_operands_make_every_load_of_the_loop_a_16_byte_copy():
    """The "-nhwc" implementations' claim, read from the machine code: at 64 -> 128
    channels every load of conv2d's and conv_transpose2d's reduction loop is a 16-byte
    asynchronous copy (float32 and float16), where in the layout as given (NCHW) none is:
    4-byte copies in float32, 2-byte loads into registers in float16. conv2d_weight's
    loads become 16-byte copies in float16 too. The 3-channel layer's conv2d and
    conv2d_weight take the flat walk, which the launchers leave in the layout given."""
    pytest.importorskip("triton.backends.nvidia")
    nchw, nhwc = _loop_loads(), _loop_loads("--channels-last")
    for dtype, gather in (("float32", "cp4"), ("float16", "ld2")):
        for kernel in ("conv2d", "conv_transpose2d"):
            assert set(nhwc["64->128", dtype, kernel]) == {"cp16"}, (dtype, kernel)
            assert set(nchw["64->128", dtype, kernel]) == {gather}, (dtype, kernel)
        for kernel in ("conv2d", "conv2d_weight"):
            assert nhwc["3->64", dtype, kernel] == nchw["3->64", dtype, kernel]
    assert set(nhwc["64->128", "float16", "conv2d_weight"]) == {"cp16"}
    assert set(nchw["64->128", "float16", "conv2d_weight"]) == {"ld2"}
