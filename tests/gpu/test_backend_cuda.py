"""Autotuning on a GPU (minigan/backend.py): each hot op, timed over every implementation
available on CUDA tensors, gives the CPU's values and gradients, and the measurements name
the candidates. Skipped without a GPU."""
import numpy as np
import pytest

import minigan as mg
import minigan.nn.functional as F
from minigan import backend, cuda_kernels
from minigan.testing import assert_close

pytestmark = pytest.mark.gpu

rng = np.random.default_rng(0)


def _sagan_block(x, w, wq, wk, wv, u):
    """A conv, self-attention over its output, and a spectral-norm power iteration."""
    h = F.conv2d(x, w, stride=2, padding=1)                         # (B, 16, 8, 8)
    b, c, hh, ww = h.shape
    q = (wq @ h.reshape(b, c, hh * ww)).transpose(1, 2).unsqueeze(1)  # (B, 1, N, 2)
    k = (wk @ h.reshape(b, c, hh * ww)).transpose(1, 2).unsqueeze(1)
    v = (wv @ h.reshape(b, c, hh * ww)).transpose(1, 2).unsqueeze(1)  # (B, 1, N, 8)
    _, _, sigma = mg.ops.spectral.spectral_norm_power_iteration(w, u, 1, 1e-12)
    return F.scaled_dot_product_attention(q, k, v).sum() * sigma


@pytest.mark.usefixtures("fresh_tuning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_autotuned_hot_ops_match_the_cpu(dtype, monkeypatch):
    from minigan.kernels import attention, conv
    monkeypatch.setattr(conv, "ALLOW_TF32", False)          # full float32 products
    monkeypatch.setattr(attention, "ALLOW_TF32", False)
    arrays = [rng.standard_normal(s).astype(dtype) for s in
              [(4, 3, 16, 16), (16, 3, 4, 4), (2, 16), (2, 16), (8, 16), (16,)]]

    def run(device):
        tensors = [mg.tensor(a, device=device, requires_grad=i < 5)
                   for i, a in enumerate(arrays)]
        out = _sagan_block(*tensors)
        out.backward()
        return [out.cpu().numpy()] + [t.grad.cpu().numpy() for t in tensors[:5]]
    expected = run("cpu")
    with backend.autotuning():
        got = run("cuda")
    results = backend.tuning_results()
    rtol = 2e-4 if dtype == "float32" else 1e-9
    for g, e in zip(got, expected):
        assert_close(g, e, rtol=rtol, atol=rtol * np.abs(e).max())
    ops = {t.op for t in results}
    assert {"conv2d", "conv_transpose2d", "conv2d_weight", "attention",
            "attention_backward", "spectral_norm_power_iteration"} <= ops
    for tuning in results:
        assert tuning.device.startswith("cuda")
        assert "triton" in tuning.seconds and "numpy" in tuning.seconds
        assert ("cuda" in tuning.seconds) == (cuda_kernels.why_unavailable() is None)
        assert tuning.chosen in tuning.seconds


@pytest.mark.skipif(cuda_kernels.why_unavailable() is not None,
                    reason=cuda_kernels.why_unavailable() or "")
@pytest.mark.usefixtures("fresh_tuning")
def test_autotuning_passes_over_the_cuda_kernels_for_float16():
    x = mg.tensor(rng.standard_normal((2, 3, 8, 8)), device="cuda").half()
    w = mg.tensor(rng.standard_normal((4, 3, 3, 3)), device="cuda").half()
    with backend.autotuning():
        y = F.conv2d(x, w, padding=1)
    (tuning,) = backend.tuning_results()
    assert y.dtype == mg.float16
    assert "float32 or float64" in tuning.refused["cuda"]
    assert tuning.chosen in ("triton", "numpy")
