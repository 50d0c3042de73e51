"""Clipping of gradient norms and values, and WGAN's weight clipping."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.optim import RMSprop, clip_grad_norm_, clip_grad_value_, clip_weights_
from minigan.testing import assert_close


def with_grads(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = mg.zeros(*np.shape(g), dtype=dtype, requires_grad=True)
        p.grad = mg.tensor(np.asarray(g, dtype=dtype))
        params.append(p)
    return params


def norm_oracle(grads, p):
    flat = np.concatenate([np.ravel(g) for g in grads])
    return np.abs(flat).max() if p == math.inf else (np.abs(flat) ** p).sum() ** (1 / p)


@settings(max_examples=20)
@given(seed=st.integers(0, 2 ** 32 - 1), p=st.sampled_from([1, 2, math.inf]),
       max_norm=st.floats(0.01, 10.0))
def test_clip_grad_norm_scales_all_gradients_by_pytorchs_factor(seed, p, max_norm):
    rng = np.random.default_rng(seed)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,)) * 3, rng.normal(size=())]
    params = with_grads(*grads)
    total = clip_grad_norm_(params, max_norm, norm_type=p)
    expected_total = norm_oracle(grads, p)
    assert_close(total, np.asarray(expected_total), rtol=1e-12, atol=0)
    scale = min(1.0, max_norm / (expected_total + 1e-6))
    for param, g in zip(params, grads):
        assert_close(param.grad, g * scale, rtol=1e-12, atol=1e-15)
    if expected_total > max_norm:
        assert norm_oracle([q.grad.data for q in params], p) <= max_norm


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = with_grads([3.0, 4.0])
    total = clip_grad_norm_(params, max_norm=10.0)
    assert float(total) == 5.0
    np.testing.assert_array_equal(params[0].grad.data, [3.0, 4.0])


def test_clip_grad_norm_skips_missing_gradients_and_accepts_one_tensor():
    params = with_grads([3.0, 4.0]) + [mg.zeros(2, requires_grad=True)]
    assert float(clip_grad_norm_(iter(params), 1.0)) == 5.0
    assert params[1].grad is None
    assert_close(params[0].grad, np.array([0.6, 0.8]) * 5 / (5 + 1e-6), rtol=1e-15, atol=0)
    single = with_grads([0.0, 2.0])[0]
    assert float(clip_grad_norm_(single, 1.0)) == 2.0


def test_clip_grad_norm_without_gradients_returns_zero():
    total = clip_grad_norm_([mg.zeros(2, requires_grad=True)], 1.0)
    assert isinstance(total, mg.Tensor) and total.shape == () and float(total) == 0.0


def test_clip_grad_norm_returns_the_gradients_dtype():
    params = with_grads(np.ones(4), dtype=np.float32)
    total = clip_grad_norm_(params, 1.0)
    assert total.dtype == mg.float32 and params[0].grad.dtype == mg.float32
    assert_close(total, np.float32(2.0))


def test_clip_grad_norm_reports_a_non_finite_norm_when_asked():
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 of "
                                           "the gradients is inf"):
        clip_grad_norm_(with_grads([1.0, np.inf]), 1.0, error_if_nonfinite=True)
    params = with_grads([1.0, np.nan])
    assert math.isnan(float(clip_grad_norm_(params, 1.0)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_norm=-1.0), r"clip_grad_norm_: max_norm must be >= 0, got -1\.0"),
    (dict(max_norm=1.0, norm_type=3), "clip_grad_norm_: norm_type must be 1, 2 or inf, got 3"),
])
def test_clip_grad_norm_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        clip_grad_norm_(with_grads([1.0]), **kwargs)


def test_clip_grad_value_clamps_each_gradient_in_place():
    params = with_grads([-3.0, -0.5, 0.2, 7.0], [[0.1, -0.1]])
    grad = params[0].grad
    clip_grad_value_(params, 0.5)
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad.data, [-0.5, -0.5, 0.2, 0.5])
    np.testing.assert_array_equal(params[1].grad.data, [[0.1, -0.1]])
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be >= 0"):
        clip_grad_value_(params, -0.5)


def test_clip_weights_keeps_a_critic_in_the_box_after_each_step():
    rng = np.random.default_rng(0)
    weights = [mg.tensor(rng.normal(size=(4, 3)), requires_grad=True),
               mg.tensor(rng.normal(size=(3,)), requires_grad=True)]
    opt = RMSprop(weights, lr=5e-2)
    for _ in range(5):
        for w in weights:
            w.grad = mg.tensor(rng.normal(size=w.shape))
        opt.step()
        clip_weights_(weights, 0.01)
        for w in weights:
            assert np.abs(w.data).max() <= 0.01
            assert w.is_leaf and w.requires_grad


def test_clip_weights_is_the_elementwise_clamp():
    w = mg.tensor([-1.0, -0.005, 0.0, 0.02], requires_grad=True)
    storage = w.data
    clip_weights_(w, 0.01)
    assert w.data is storage
    np.testing.assert_array_equal(w.data, np.float32([-0.01, -0.005, 0.0, 0.01]))
    with pytest.raises(ValueError, match=r"clip_weights_: c must be >= 0, got -0\.01"):
        clip_weights_(w, -0.01)
    with pytest.raises(TypeError, match="clip_weights_: expected Tensors, got ndarray"):
        clip_weights_([np.zeros(2)], 0.01)


@pytest.mark.gpu
def test_clipping_on_the_gpu_matches_the_cpu():
    grads = [np.arange(6.0).reshape(2, 3) - 2, np.array([4.0, -9.0])]
    cpu, gpu = with_grads(*grads), with_grads(*grads)
    for p in gpu:
        p.data = mg.tensor(p.data, device="cuda").data
        p.grad = p.grad.cuda()
    total_cpu, total_gpu = clip_grad_norm_(cpu, 2.0), clip_grad_norm_(gpu, 2.0)
    assert total_gpu.device == "cuda"
    assert_close(total_gpu.cpu(), total_cpu, rtol=1e-12, atol=0)
    for a, b in zip(gpu, cpu):
        assert_close(a.grad.cpu(), b.grad, rtol=1e-12, atol=0)
    clip_grad_value_(gpu, 0.1)
    clip_weights_(gpu, 0.0)
    assert float(gpu[0].grad.abs().max()) <= 0.1 and float(gpu[1].abs().sum()) == 0.0


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_clip_grad_norm_matches_torch(p):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,)) * 3]
    ours = with_grads(*grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm_(ours, 1.5, norm_type=p)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type=p)
    assert_close(total, expected.numpy(), rtol=1e-12, atol=0)
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad.numpy(), rtol=1e-12, atol=1e-15)
