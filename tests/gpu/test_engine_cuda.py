"""The engine on CUDA tensors (CuPy arrays): every op family gives the CPU's values and
gradients, float64 gradchecks pass on the device, and devices never mix silently.
Skipped without a GPU."""
import numpy as np
import pytest

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, gradcheck, gradgradcheck

pytestmark = pytest.mark.gpu

rng = np.random.default_rng(0)


def _positive(shape):
    return rng.uniform(0.5, 2.0, shape)


def _signed(shape):
    x = rng.uniform(-2.0, 2.0, shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


LABELS = rng.integers(0, 5, (6,))
RUNNING_MEAN, RUNNING_VAR = _signed((4,)), _positive((4,))
CASES = {  # name: (function of tensors, input arrays)
    "add_broadcast": (lambda a, b: a + b, [_signed((3, 1)), _signed((4,))]),
    "sub_mul_div": (lambda a, b: (a - b) * a / b, [_signed((3, 4)), _positive((3, 4))]),
    "pow": (lambda a, b: a ** b, [_positive((3, 4)), _signed((4,))]),
    "maximum_where": (lambda a, b: mg.where(a > 0, mg.maximum(a, b), mg.minimum(a, b)),
                      [_signed((5,)), _signed((5,)) + 3]),
    "pointwise": (lambda x: (x.exp() + x.log() + x.log1p() + x.sqrt() + x.erf()
                             + x.clamp(0.7, 1.5)), [_positive((4, 5))]),
    "abs": (lambda x: x.abs(), [_signed((7,))]),
    "activations": (lambda x: F.relu(x) + F.leaky_relu(x, 0.2) + F.elu(x) + F.gelu(x)
                    + F.silu(x) + F.softplus(x) + F.sigmoid(x) + F.tanh(x), [_signed((3, 6))]),
    "softmax": (lambda x: F.softmax(x, 1) * F.log_softmax(x, 0), [_signed((4, 5))]),
    "reductions": (lambda x: x.sum(0) + x.mean(1).sum() + x.var(0) + x.std(0)
                   + x.logsumexp(1).sum(), [_signed((4, 3))]),
    "amax": (lambda x: x.amax(1) - x.amin(1), [rng.permutation(12).reshape(3, 4) * 0.3]),
    "matmul_batched": (lambda a, b: a @ b, [_signed((2, 3, 4)), _signed((4, 5))]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [_signed((5, 3)), _signed((2, 3)),
                                                    _signed((2,))]),
    "movement": (lambda x: x.permute(2, 0, 1).reshape(4, 6).flip(0).T.expand(2, 6, 4)
                 .sum_to((6, 4)), [_signed((2, 3, 4))]),
    "cat_stack_split": (lambda a, b: mg.stack(mg.cat([a, b], 1).split(2, 1)[:2], 0),
                        [_signed((3, 2)), _signed((3, 3))]),
    "pad_reflect": (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), [_signed((1, 2, 4, 5))]),
    "pad_replicate": (lambda x: F.pad(x, (1, 2), mode="replicate"), [_signed((2, 4))]),
    "pad_constant": (lambda x: F.pad(x, (1, 1, 2, 0), value=0.5), [_signed((3, 4))]),
    "repeat": (lambda x: x.repeat(2, 1, 3), [_signed((2, 3))]),
    "getitem_repeated": (lambda x: x[[0, 0, 2], 1:], [_signed((3, 4))]),
    "getitem_mask": (lambda x: x[x > 0], [_signed((3, 4))]),
    "embedding": (lambda w: F.embedding(mg.tensor(LABELS).to(w.device), w), [_signed((5, 3))]),
    "norm": (lambda x: F.vector_norm(x, dim=1) + F.vector_norm(x, 1, dim=1)
             + F.vector_norm(x, float("inf"), dim=1), [_signed((3, 4))]),
    "bce_logits": (lambda x, t: F.binary_cross_entropy_with_logits(x, t),
                   [_signed((4, 3)), rng.uniform(0, 1, (4, 3))]),
    "bce": (lambda p, t: F.binary_cross_entropy(p, t), [rng.uniform(0.1, 0.9, (4, 3)),
                                                        rng.uniform(0, 1, (4, 3))]),
    "mse_l1": (lambda a, b: F.mse_loss(a, b) + F.l1_loss(a, b), [_signed((5,)),
                                                                  _signed((5,)) + 5]),
    "cross_entropy": (lambda x: F.cross_entropy(x, mg.tensor(LABELS).to(x.device),
                                                label_smoothing=0.1), [_signed((6, 5))]),
    "gaussian_kl": (lambda m, v: F.gaussian_kl_divergence(m, v), [_signed((3, 4)),
                                                                   _signed((3, 4))]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=1, groups=2),
               [_signed((2, 4, 7, 6)), _signed((6, 2, 3, 3)), _signed((6,))]),
    "conv2d_same_dilated": (lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
                            [_signed((1, 3, 6, 5)), _signed((2, 3, 2, 3))]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                            output_padding=1, groups=2),
                         [_signed((2, 4, 3, 4)), _signed((4, 3, 3, 3)), _signed((6,))]),
    "conv2d_weight": (lambda x, gy: F.conv2d_weight(x, (4, 3, 3, 3), gy, stride=2, padding=1),
                      [_signed((2, 3, 7, 6)), _signed((2, 4, 4, 3))]),
    "normalization": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)
                      + F.instance_norm(x, w, b) + F.group_norm(x, 2, w, b)
                      + F.layer_norm(x, x.shape[1:]),
                      [_signed((3, 4, 2, 3)), _positive((4,)), _signed((4,))]),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(
        x, mg.tensor(RUNNING_MEAN).to(x.device), mg.tensor(RUNNING_VAR).to(x.device), w, b),
        [_signed((3, 4, 2, 3)), _positive((4,)), _signed((4,))]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                   [_signed((2, 3, 7, 6))]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1),
                   [rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 0.1]),
    "interpolate": (lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear")
                    + F.interpolate(x, scale_factor=1.7), [_signed((2, 3, 4, 5))]),
    "pixel_shuffle": (lambda x: F.pixel_unshuffle(F.pixel_shuffle(x, 2) * 2, 2),
                      [_signed((1, 8, 3, 4))]),
}


def _run(fn, arrays, device):
    inputs = [mg.tensor(a, dtype=mg.float64, device=device, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    go = mg.tensor(np.random.default_rng(1).standard_normal(out.shape), dtype=mg.float64,
                   device=device)
    grads = mg.grad(out, inputs, go, allow_unused=True)
    return out, grads


@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_matches_cpu_values_and_gradients(name):
    fn, arrays = CASES[name]
    out_cpu, grads_cpu = _run(fn, arrays, "cpu")
    out_gpu, grads_gpu = _run(fn, arrays, "cuda")
    assert out_gpu.device == "cuda" and out_gpu.dtype == mg.float64
    assert_close(out_gpu, out_cpu, rtol=1e-10, atol=1e-12)
    for g_gpu, g_cpu in zip(grads_gpu, grads_cpu):
        if g_cpu is not None:
            assert g_gpu.device == "cuda"
            assert_close(g_gpu, g_cpu, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["pow", "activations", "softmax", "matmul_batched",
                                  "pad_reflect", "getitem_repeated", "norm", "bce_logits",
                                  "normalization", "batch_norm_eval",
                                  "conv2d", "conv_transpose2d", "conv2d_weight",
                                  "max_pool2d", "interpolate"])
def test_cuda_gradcheck_and_gradgradcheck_in_float64(name):
    fn, arrays = CASES[name]
    inputs = [mg.tensor(a, dtype=mg.float64, device="cuda", requires_grad=True)
              for a in arrays]
    gradcheck(fn, inputs)
    gradgradcheck(fn, inputs)


def test_float32_on_cuda_stays_float32_and_backward_fills_grad():
    w = mg.randn(4, 3, device="cuda", requires_grad=True)
    x = mg.randn(8, 3, device="cuda")
    loss = F.softplus(F.linear(x, w)).mean()
    loss.backward()
    assert loss.dtype == mg.float32 and w.grad.device == "cuda"
    assert w.grad.dtype == mg.float32 and np.isfinite(w.grad.cpu().numpy()).all()


def test_transfers_round_trip_and_carry_gradients():
    x = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda" and y.cpu().device == "cpu"
    ((y * y).sum().cpu() * 1.0).backward()
    assert x.grad.device == "cpu"
    assert_close(x.grad, 2 * x.detach())


def test_same_seed_same_numbers_on_every_device():
    a = mg.randn(5, generator=mg.Generator(3))
    b = mg.randn(5, generator=mg.Generator(3), device="cuda")
    assert_close(b.cpu(), a, rtol=0, atol=0)
    d1 = F.dropout(mg.ones(100), 0.5, generator=mg.Generator(4))
    d2 = F.dropout(mg.ones(100, device="cuda"), 0.5, generator=mg.Generator(4))
    assert_close(d2.cpu(), d1, rtol=0, atol=0)


def test_mixing_cpu_and_cuda_tensors_fails_clearly():
    with pytest.raises(RuntimeError, match=r"Mul: expected all tensors on one device, got "
                                           r"\(2,\) on cpu, \(2,\) on cuda:0"):
        mg.ones(2) * mg.ones(2, device="cuda")


def test_numpy_of_cuda_tensor_asks_for_cpu():
    with pytest.raises(TypeError, match=r"numpy\(\): tensor is on cuda:0; call .cpu\(\)"):
        mg.ones(2, device="cuda").numpy()
