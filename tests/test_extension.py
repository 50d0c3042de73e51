"""Tests for minigan/extension.py and the argument checks of the C++ kernels (csrc/)."""
import numpy as np
import pytest

import minigan as mg
from minigan import extension

needs_c = pytest.mark.skipif(extension.C is None, reason="minigan._C was not built")
GEOMETRY = dict(kh=3, kw=3, sh=1, sw=1, ph=1, pw=1, dh=1, dw=1, ho=4, wo=4)


def test_status_is_reported_by_info(capsys):
    mg.info()
    text = capsys.readouterr().out
    assert "C++ kernels: " in text and "BLAS threads: " in text
    if extension.C is None:
        assert extension.why_unavailable() is not None
    else:
        assert extension.why_unavailable() is None


@needs_c
def test_im2col_rejects_a_cols_array_of_the_wrong_shape():
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"im2col: cols has shape \(27, 31\), expected "
                                         r"\(27, 32\) for an image of shape \(2, 3, 4, 4\)"):
        extension.C.im2col(x, np.zeros((27, 31), np.float32), **GEOMETRY)


@needs_c
def test_kernels_reject_bad_dtypes_layouts_and_geometry():
    x = np.zeros((2, 3, 4, 4), np.float32)
    cols = np.zeros((27, 32), np.float32)
    with pytest.raises(TypeError, match="im2col: image and cols need the same dtype"):
        extension.C.im2col(x, cols.astype(np.float64), **GEOMETRY)
    with pytest.raises(TypeError, match="im2col: only float32 and float64"):
        extension.C.im2col(x.astype(np.int32), cols.astype(np.int32), **GEOMETRY)
    with pytest.raises(ValueError, match="col2im: arrays must be C-contiguous"):
        extension.C.col2im(np.asfortranarray(cols), x, **GEOMETRY)
    with pytest.raises(ValueError, match="im2col: kernel size, stride and dilation must be "
                                         "positive"):
        extension.C.im2col(x, cols, **dict(GEOMETRY, sh=0))
    with pytest.raises(ValueError, match=r"im2col: image must be 4-D \(N, C, H, W\)"):
        extension.C.im2col(x[0], cols, **GEOMETRY)
    read_only = np.zeros((2, 3, 4, 4), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="col2im: the output array is read-only"):
        extension.C.col2im(cols, read_only, **GEOMETRY)


@needs_c
def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    geometry = dict(kh=3, kw=2, sh=2, sw=1, ph=1, pw=0, dh=1, dw=2, ho=3, wo=4)
    cols = np.empty((3 * 3 * 2, 2 * 3 * 4))
    extension.C.im2col(x, cols, **geometry)
    y = rng.standard_normal(cols.shape)
    back = np.empty_like(x)
    extension.C.col2im(y, back, **geometry)
    assert np.isclose((cols * y).sum(), (x * back).sum(), rtol=1e-12)
