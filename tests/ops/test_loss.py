"""Tests for minigan/ops/loss.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, shapes

rng = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]
SEEDS = st.integers(0, 2 ** 32 - 1)


# Float64 references, written from PyTorch's documented formulas.
def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


def _softplus(x):
    return np.logaddexp(0, x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _log_softmax(x, dim):
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def _bce_logits(x, t, w=1.0, pw=1.0, reduction="mean"):
    """-w [pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]."""
    log_sig, log_one_minus_sig = -_softplus(-x), -_softplus(x)
    return _reduce(-w * (pw * t * log_sig + (1 - t) * log_one_minus_sig), reduction)


def _bce(p, t, w=1.0, reduction="mean"):
    """-w [t log p + (1 - t) log(1 - p)], each log clamped at -100."""
    with np.errstate(divide="ignore"):
        log_p, log_q = np.maximum(np.log(p), -100), np.maximum(np.log(1 - p), -100)
    return _reduce(-w * (t * log_p + (1 - t) * log_q), reduction)


def _nll(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """l = -w[t] logp[n, t, d...]; 'mean' divides by the weights of non-ignored targets."""
    weight = np.ones(logp.shape[1]) if weight is None else weight
    loss, total = np.zeros(target.shape), 0.0
    for index in np.ndindex(*target.shape):
        c = int(target[index])
        if c != ignore_index:
            loss[index] = -weight[c] * logp[(index[0], c) + index[1:]]
            total += weight[c]
    return loss.sum() / total if reduction == "mean" else _reduce(loss, reduction)


def _cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean",
                   smoothing=0.0):
    logp, classes = _log_softmax(x, 1), x.shape[1]
    if target.dtype.kind == "f":
        w = np.ones(classes) if weight is None else weight
        probs = (1 - smoothing) * target + smoothing / classes
        w = w.reshape((1, classes) + (1,) * (x.ndim - 2))
        return _reduce(-(w * probs * logp).sum(1), reduction)
    nll = _nll(logp, target, weight, ignore_index, reduction)
    valid = target != ignore_index
    smooth = np.where(valid, -logp.sum(1), 0.0)
    smooth = smooth.sum() / valid.sum() if reduction == "mean" else _reduce(smooth, reduction)
    return (1 - smoothing) * nll + smoothing / classes * smooth


def _kl(mu, logvar, reduction="mean"):
    return _reduce(-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar)).sum(1), reduction)


def _targets(shape, classes, ignore=-100, fraction_ignored=0.25, seed=0):
    gen = np.random.default_rng(seed)
    target = gen.integers(0, classes, shape)
    return np.where(gen.uniform(size=shape) < fraction_ignored, ignore, target)


def _apart(shape, margin=0.1):
    """Input and target at least ``margin`` apart (l1's kink is at input == target)."""
    t = rng.uniform(-2, 2, shape)
    return t + rng.choice([-1, 1], shape) * rng.uniform(margin, 1, shape), t


# ------------------------------------------------------------ binary cross-entropy ---
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighting", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_reference_and_gradients(reduction, weighting):
    x, t = rng.uniform(-4, 4, (3, 5)), rng.uniform(0, 1, (3, 5))
    w, pw = rng.uniform(0.5, 2, (1, 5)), rng.uniform(0.5, 3, (5,))
    if weighting == "plain":
        check_op(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
                 lambda x, t: _bce_logits(x, t, reduction=reduction), x, t)
    elif weighting == "weight":
        check_op(lambda x, t, w: F.binary_cross_entropy_with_logits(
            x, t, weight=w, reduction=reduction),
            lambda x, t, w: _bce_logits(x, t, w=w, reduction=reduction), x, t, w)
    elif weighting == "pos_weight":
        check_op(lambda x, t, pw: F.binary_cross_entropy_with_logits(
            x, t, pos_weight=pw, reduction=reduction),
            lambda x, t, pw: _bce_logits(x, t, pw=pw, reduction=reduction), x, t, pw)
    else:
        check_op(lambda x, t, w, pw: F.binary_cross_entropy_with_logits(
            x, t, w, reduction, pw),
            lambda x, t, w, pw: _bce_logits(x, t, w, pw, reduction), x, t, w, pw)


@pytest.mark.parametrize("shape", [(1,), (1, 7), (2, 3, 5)])
def test_bce_with_logits_on_batch_of_one_and_odd_sizes(shape):
    x, t = rng.uniform(-4, 4, shape), rng.integers(0, 2, shape).astype(np.float64)
    pw = rng.uniform(0.5, 3, shape[-1:])
    check_op(lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
             lambda x, t, pw: _bce_logits(x, t, pw=pw), x, t, pw)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
@pytest.mark.parametrize("logit", [100.0, 1000.0, -100.0, -1000.0])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_bce_with_logits_exact_and_finite_at_huge_logits(dtype, logit, target):
    x = mg.tensor([logit], dtype=dtype, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, mg.tensor([target], dtype=dtype))
    loss.backward()
    # the analytic value (e.g. 100, or e^-100 = 3.7e-44), rounded once to the dtype
    expected = np.array(target * _softplus(-logit) + (1 - target) * _softplus(logit))
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    assert_close(loss, expected.astype(dtype), rtol=1e-6, atol=0)
    assert_close(x.grad, np.array([_sigmoid(np.clip(logit, -700, 700)) - target]))


@given(arrays(shapes(max_dims=3), low=-30, high=30), SEEDS)
def test_bce_with_logits_gradient_is_sigmoid_minus_target(x, seed):
    t = np.random.default_rng(seed).uniform(0, 1, x.shape)
    for reduction, scale in [("sum", 1.0), ("mean", 1.0 / x.size)]:
        xt = mg.tensor(x, requires_grad=True)
        F.binary_cross_entropy_with_logits(xt, mg.tensor(t), reduction=reduction).backward()
        assert_close(xt.grad, scale * (_sigmoid(x) - t), rtol=1e-9, atol=1e-12)


@given(arrays(shapes(max_dims=3), low=-10, high=10), SEEDS)
def test_bce_with_logits_gradient_with_weights(x, seed):
    gen = np.random.default_rng(seed)
    t, w = gen.uniform(0, 1, x.shape), gen.uniform(0, 2, x.shape)
    pw = gen.uniform(0.5, 3, x.shape[-1:])
    xt = mg.tensor(x, requires_grad=True)
    F.binary_cross_entropy_with_logits(xt, mg.tensor(t), mg.tensor(w), "sum",
                                       mg.tensor(pw)).backward()
    # d/dx of w [pw t softplus(-x) + (1 - t) softplus(x)]
    assert_close(xt.grad, w * ((1 + (pw - 1) * t) * _sigmoid(x) - pw * t), rtol=1e-9,
                 atol=1e-12)


@given(arrays(shapes(max_dims=3), low=-8, high=8), SEEDS)
def test_bce_with_logits_equals_bce_of_sigmoid(x, seed):
    t = mg.tensor(np.random.default_rng(seed).uniform(0, 1, x.shape))
    logits = F.binary_cross_entropy_with_logits(mg.tensor(x), t, reduction="none")
    assert_close(logits, F.binary_cross_entropy(F.sigmoid(mg.tensor(x)), t, reduction="none"),
                 rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_reference_and_gradients(reduction, weighted):
    p, t = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    if weighted:
        check_op(lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction),
                 lambda p, t, w: _bce(p, t, w, reduction), p, t, rng.uniform(0.5, 2, (3,)))
    else:
        check_op(lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction),
                 lambda p, t: _bce(p, t, reduction=reduction), p, t)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_bce_clamps_log_at_minus_100_for_p_0_and_1(dtype):
    p = mg.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype=dtype, requires_grad=True)
    t = mg.tensor([0.0, 1.0, 0.0, 1.0, 0.5, 0.25], dtype=dtype, requires_grad=True)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    assert_close(loss, np.array([0, 100, 100, 0, 50, 75], dtype=dtype), rtol=1e-6, atol=0)
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    # dl/dp = (p - t) / max(p (1 - p), 1e-12); dl/dt = clamped log(1 - p) - log(p)
    assert_close(p.grad, np.array([0, -1e12, 1e12, 0, -5e11, 7.5e11], dtype=dtype))
    assert_close(t.grad, np.array([100, 100, -100, -100, 100, -100], dtype=dtype))


@given(arrays(shapes(max_dims=3), low=0.05, high=0.95), SEEDS)
def test_bce_on_drawn_shapes(p, seed):
    t = np.random.default_rng(seed).uniform(0, 1, p.shape)
    for reduction in REDUCTIONS:
        check_op(lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction),
                 lambda p, t: _bce(p, t, reduction=reduction), p, t, gradgrad=False,
                 noncontiguous=False)


# ---------------------------------------------------------------------- mse and l1 ---
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (1,), (1, 5), (2, 3, 5)])
def test_mse_and_l1_match_reference_and_gradients(reduction, shape):
    x, t = _apart(shape)
    check_op(lambda x, t: F.mse_loss(x, t, reduction),
             lambda x, t: _reduce((x - t) ** 2, reduction), x, t)
    check_op(lambda x, t: F.l1_loss(x, t, reduction),
             lambda x, t: _reduce(np.abs(x - t), reduction), x, t)


@given(arrays(shapes(max_dims=4), avoid=[0.0], margin=0.1), SEEDS)
def test_mse_and_l1_on_drawn_shapes(diff, seed):
    t = np.random.default_rng(seed).uniform(-2, 2, diff.shape)
    for reduction in REDUCTIONS:
        check_op(lambda x, t: F.mse_loss(x, t, reduction),
                 lambda x, t: _reduce((x - t) ** 2, reduction), t + diff, t,
                 gradgrad=False, noncontiguous=False)
        check_op(lambda x, t: F.l1_loss(x, t, reduction),
                 lambda x, t: _reduce(np.abs(x - t), reduction), t + diff, t,
                 gradgrad=False, noncontiguous=False)


def test_l1_gradient_is_zero_where_input_equals_target():
    x = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64, requires_grad=True)
    F.l1_loss(x, mg.tensor([1.0, 0.0, 5.0], dtype=mg.float64), reduction="sum").backward()
    assert_close(x.grad, np.array([0.0, 1.0, -1.0]), rtol=0, atol=0)


# ------------------------------------------------------------------------ nll_loss ---
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 3), (1, 4), (2, 3, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_reference_and_gradients(reduction, shape, weighted):
    logp = _log_softmax(rng.uniform(-3, 3, shape), 1)
    target = _targets(shape[:1] + shape[2:], shape[1], fraction_ignored=0.2, seed=len(shape))
    target.flat[0] = 1                                  # at least one target counts
    if weighted:
        check_op(lambda x, t, w: F.nll_loss(x, t, w, reduction=reduction),
                 lambda x, t, w: _nll(x, t, w, reduction=reduction), logp, target,
                 rng.uniform(0.5, 2, shape[1]))
    else:
        check_op(lambda x, t: F.nll_loss(x, t, reduction=reduction),
                 lambda x, t: _nll(x, t, reduction=reduction), logp, target)


def test_nll_loss_mean_divides_by_the_weights_of_counted_targets():
    logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]))
    weight = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64)
    target = mg.tensor([0, 2, 1])
    expected = -(1 * logp[0, 0] + 3 * logp[1, 2] + 2 * logp[2, 1]) / (1 + 3 + 2)
    assert_close(F.nll_loss(mg.tensor(logp), target, weight), np.array(expected))
    ignored = mg.tensor([0, 2, 7])
    expected = -(1 * logp[0, 0] + 3 * logp[1, 2]) / (1 + 3)
    assert_close(F.nll_loss(mg.tensor(logp), ignored, weight, ignore_index=7),
                 np.array(expected))
    none = F.nll_loss(mg.tensor(logp), ignored, weight, ignore_index=7, reduction="none")
    assert_close(none, np.array([-logp[0, 0], -3 * logp[1, 2], 0.0]))


def test_nll_loss_ignored_targets_get_no_gradient():
    x = mg.tensor(_log_softmax(rng.uniform(-2, 2, (4, 3)), 1), requires_grad=True)
    F.nll_loss(x, mg.tensor([0, -100, 2, -100]), reduction="sum").backward()
    expected = np.zeros((4, 3))
    expected[0, 0] = expected[2, 2] = -1
    assert_close(x.grad, expected, rtol=0, atol=0)


@given(shapes(min_dims=2, max_dims=4, max_side=3), SEEDS)
def test_nll_loss_on_drawn_shapes(shape, seed):
    gen = np.random.default_rng(seed)
    logp = _log_softmax(gen.uniform(-3, 3, shape), 1)
    target = _targets(shape[:1] + shape[2:], shape[1], seed=seed)
    target.flat[0] = 0
    weight = gen.uniform(0.5, 2, shape[1])
    for reduction in REDUCTIONS:
        check_op(lambda x, t, w: F.nll_loss(x, t, w, reduction=reduction),
                 lambda x, t, w: _nll(x, t, w, reduction=reduction), logp, target, weight,
                 gradgrad=False, noncontiguous=False)


# ------------------------------------------------------------------- cross_entropy ---
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (1, 5), (2, 3, 2, 2)])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_targets_match_reference(reduction, shape, smoothing):
    x = rng.uniform(-3, 3, shape)
    target = _targets(shape[:1] + shape[2:], shape[1], seed=len(shape))
    target.flat[0] = 0
    check_op(lambda x, t: F.cross_entropy(x, t, reduction=reduction,
                                          label_smoothing=smoothing),
             lambda x, t: _cross_entropy(x, t, reduction=reduction, smoothing=smoothing),
             x, target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_cross_entropy_class_targets_with_weights_and_ignore_index(reduction, shape):
    x = rng.uniform(-3, 3, shape)
    target = _targets(shape[:1] + shape[2:], shape[1], ignore=1, seed=5)
    target.flat[0] = 0
    check_op(lambda x, t, w: F.cross_entropy(x, t, w, ignore_index=1, reduction=reduction),
             lambda x, t, w: _cross_entropy(x, t, w, ignore_index=1, reduction=reduction),
             x, target, rng.uniform(0.5, 2, shape[1]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (1, 5), (2, 3, 2, 2)])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_reference(reduction, shape, smoothing):
    x = rng.uniform(-3, 3, shape)
    probs = np.moveaxis(rng.dirichlet(np.ones(shape[1]), shape[:1] + shape[2:]), -1, 1)
    check_op(lambda x, t, w: F.cross_entropy(x, t, w, reduction=reduction,
                                             label_smoothing=smoothing),
             lambda x, t, w: _cross_entropy(x, t, w, reduction=reduction,
                                            smoothing=smoothing),
             x, probs, rng.uniform(0.5, 2, shape[1]))


@given(shapes(min_dims=2, max_dims=4, max_side=4), SEEDS, st.sampled_from(REDUCTIONS))
def test_cross_entropy_class_targets_equal_one_hot_probabilities(shape, seed, reduction):
    gen = np.random.default_rng(seed)
    x = mg.tensor(gen.uniform(-5, 5, shape))
    target = gen.integers(0, shape[1], shape[:1] + shape[2:])
    one_hot = np.moveaxis(np.eye(shape[1])[target], -1, 1)
    assert_close(F.cross_entropy(x, mg.tensor(target), reduction=reduction),
                 F.cross_entropy(x, mg.tensor(one_hot), reduction=reduction),
                 rtol=1e-12, atol=1e-12)


@given(shapes(min_dims=2, max_dims=4, max_side=4), SEEDS, st.sampled_from(REDUCTIONS),
       st.floats(0.0, 1.0))
def test_label_smoothing_equals_smoothed_probability_targets(shape, seed, reduction, eps):
    gen = np.random.default_rng(seed)
    x = mg.tensor(gen.uniform(-5, 5, shape))
    target = gen.integers(0, shape[1], shape[:1] + shape[2:])
    smoothed = (1 - eps) * np.moveaxis(np.eye(shape[1])[target], -1, 1) + eps / shape[1]
    assert_close(F.cross_entropy(x, mg.tensor(target), reduction=reduction,
                                 label_smoothing=eps),
                 F.cross_entropy(x, mg.tensor(smoothed), reduction=reduction),
                 rtol=1e-12, atol=1e-12)


def test_cross_entropy_weighted_mean_divides_by_weights_for_classes_by_n_for_probs():
    x = mg.tensor(rng.uniform(-3, 3, (5, 4)))
    target = np.array([0, 3, 3, 1, 2])
    weight = np.array([0.5, 1.0, 2.0, 4.0])
    one_hot = mg.tensor(np.eye(4)[target])
    by_class = F.cross_entropy(x, mg.tensor(target), mg.tensor(weight), reduction="none")
    assert_close(by_class, F.cross_entropy(x, one_hot, mg.tensor(weight), reduction="none"))
    total = by_class.sum().item()
    assert_close(F.cross_entropy(x, mg.tensor(target), mg.tensor(weight)),
                 np.array(total / weight[target].sum()))
    assert_close(F.cross_entropy(x, one_hot, mg.tensor(weight)), np.array(total / 5))


def test_cross_entropy_is_stable_for_huge_logits():
    x = mg.tensor([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, 1000.0]], requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([0, 0]), reduction="none")
    assert_close(loss, np.array([0.0, 2000.0], dtype=np.float32))
    loss.sum().backward()
    assert_close(x.grad, np.array([[0, 0, 0], [-1, 0, 1]], dtype=np.float32))


# ---------------------------------------------------------- gaussian_kl_divergence ---
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (1, 5), (3, 1)])
def test_gaussian_kl_matches_reference_and_gradients(reduction, shape):
    mu, logvar = rng.uniform(-2, 2, shape), rng.uniform(-2, 2, shape)
    check_op(lambda m, v: F.gaussian_kl_divergence(m, v, reduction),
             lambda m, v: _kl(m, v, reduction), mu, logvar)


def test_gaussian_kl_is_zero_for_the_standard_normal():
    zeros = mg.zeros(3, 4, requires_grad=True)
    kl = F.gaussian_kl_divergence(zeros, zeros, reduction="none")
    assert_close(kl, np.zeros(3, np.float32), rtol=0, atol=0)
    kl.sum().backward()
    assert_close(zeros.grad, np.zeros((3, 4), np.float32), rtol=0, atol=0)


@given(arrays(shapes(min_dims=2, max_dims=2), low=-3, high=3, avoid=[0.0]), SEEDS)
def test_gaussian_kl_is_positive_away_from_the_standard_normal(mu, seed):
    logvar = np.random.default_rng(seed).uniform(-3, 3, mu.shape)
    kl = F.gaussian_kl_divergence(mg.tensor(mu), mg.tensor(logvar), reduction="none")
    assert kl.shape == mu.shape[:1] and (kl.numpy() > 0).all()
    kl = F.gaussian_kl_divergence(mg.zeros(*mu.shape), mg.tensor(logvar), reduction="none")
    assert (kl.numpy() >= 0).all()


# ----------------------------------------------------------------------- bad input ---
X = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
T = mg.tensor(rng.uniform(0, 1, (4, 3)).astype(np.float32))
P = mg.tensor(rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32))
LABELS = mg.tensor([0, 1, 2, 0])
BAD_INPUTS = {  # name: (call, error type, message pattern)
    "mse_shape": (lambda: F.mse_loss(mg.zeros(4, 1), mg.zeros(4)), ValueError,
                  r"mse_loss: input shape \(4, 1\) and target shape \(4,\) differ"),
    "l1_shape": (lambda: F.l1_loss(X, T[:2]), ValueError,
                 r"l1_loss: input shape \(4, 3\) and target shape \(2, 3\) differ"),
    "bce_logits_shape": (lambda: F.binary_cross_entropy_with_logits(X, T[:, :1]), ValueError,
                         r"binary_cross_entropy_with_logits: input shape \(4, 3\) and "
                         r"target shape \(4, 1\) differ"),
    "bce_shape": (lambda: F.binary_cross_entropy(P, T.reshape(3, 4)), ValueError,
                  r"binary_cross_entropy: input shape \(4, 3\) and target shape \(3, 4\)"),
    "kl_shape": (lambda: F.gaussian_kl_divergence(X, T[:, :2]), ValueError,
                 r"gaussian_kl_divergence: mu shape \(4, 3\) and logvar shape \(4, 2\)"),
    "mse_reduction": (lambda: F.mse_loss(X, T, reduction="avg"), ValueError,
                      r"mse_loss: reduction must be one of \('mean', 'sum', 'none'\), "
                      r"got 'avg'"),
    "l1_reduction": (lambda: F.l1_loss(X, T, reduction="max"), ValueError,
                     r"l1_loss: reduction .* got 'max'"),
    "bce_logits_reduction": (
        lambda: F.binary_cross_entropy_with_logits(X, T, reduction="batchmean"), ValueError,
        r"binary_cross_entropy_with_logits: reduction .* got 'batchmean'"),
    "bce_reduction": (lambda: F.binary_cross_entropy(P, T, reduction=None), ValueError,
                      r"binary_cross_entropy: reduction .* got None"),
    "nll_reduction": (lambda: F.nll_loss(X, LABELS, reduction="avg"), ValueError,
                      r"nll_loss: reduction .* got 'avg'"),
    "cross_entropy_reduction": (lambda: F.cross_entropy(X, LABELS, reduction="avg"),
                                ValueError, r"cross_entropy: reduction .* got 'avg'"),
    "kl_reduction": (lambda: F.gaussian_kl_divergence(X, T, reduction="avg"), ValueError,
                     r"gaussian_kl_divergence: reduction .* got 'avg'"),
    "bce_probability_above_1": (
        lambda: F.binary_cross_entropy(mg.tensor([0.5, 1.5]), mg.tensor([0.0, 1.0])),
        ValueError, r"binary_cross_entropy: input values must lie in \[0, 1\], got values "
        r"from 0.5 to 1.5"),
    "bce_probability_below_0": (
        lambda: F.binary_cross_entropy(mg.tensor([-0.25, 0.5]), mg.tensor([0.0, 1.0])),
        ValueError, r"binary_cross_entropy: input values must lie in \[0, 1\], got values "
        r"from -0.25 to 0.5"),
    "bce_logits_weight": (
        lambda: F.binary_cross_entropy_with_logits(X, T, weight=mg.ones(4)), ValueError,
        r"binary_cross_entropy_with_logits: shapes \(4, 3\) and \(4,\) cannot be broadcast"),
    "bce_logits_weight_enlarges": (
        lambda: F.binary_cross_entropy_with_logits(X, T, weight=mg.ones(2, 4, 3)),
        ValueError, r"binary_cross_entropy_with_logits: weight shape \(2, 4, 3\) does not "
        r"broadcast to input shape \(4, 3\)"),
    "bce_logits_pos_weight": (
        lambda: F.binary_cross_entropy_with_logits(X, T, pos_weight=mg.ones(2)), ValueError,
        r"binary_cross_entropy_with_logits: shapes \(4, 3\) and \(2,\) cannot be broadcast"),
    "bce_logits_pos_weight_enlarges": (
        lambda: F.binary_cross_entropy_with_logits(X, T, pos_weight=mg.ones(5, 1, 3)),
        ValueError, r"binary_cross_entropy_with_logits: pos_weight shape \(5, 1, 3\) does "
        r"not broadcast to input shape \(4, 3\)"),
    "bce_weight_enlarges": (
        lambda: F.binary_cross_entropy(P, T, weight=mg.ones(2, 1, 1)), ValueError,
        r"binary_cross_entropy: weight shape \(2, 1, 1\) does not broadcast to input shape "
        r"\(4, 3\)"),
    "nll_float_target": (lambda: F.nll_loss(X, T[:, 0]), TypeError,
                         r"nll_loss: target must hold integer class indices, got float32"),
    "nll_float_target_shape": (lambda: F.nll_loss(X, T), ValueError,
                               r"nll_loss: target shape \(4, 3\) does not match input shape "
                               r"\(4, 3\) \(expected \(4,\)\)"),
    "nll_target_shape": (lambda: F.nll_loss(X, mg.tensor([0, 1])), ValueError,
                         r"nll_loss: target shape \(2,\) does not match input shape \(4, 3\) "
                         r"\(expected \(4,\)\)"),
    "nll_spatial_target_shape": (
        lambda: F.nll_loss(mg.zeros(2, 3, 5), mg.tensor([[0] * 4] * 2)), ValueError,
        r"nll_loss: target shape \(2, 4\) does not match input shape \(2, 3, 5\) "
        r"\(expected \(2, 5\)\)"),
    "nll_input_1d": (lambda: F.nll_loss(mg.zeros(3), mg.tensor([0, 1, 2])), ValueError,
                     r"nll_loss: input must be \(N, C, ...\), got shape \(3,\)"),
    "nll_target_too_big": (lambda: F.nll_loss(X, mg.tensor([0, 1, 3, 0])), IndexError,
                           r"nll_loss: target values must lie in \[0, 3\) or equal "
                           r"ignore_index=-100, got 3"),
    "nll_target_negative": (lambda: F.nll_loss(X, mg.tensor([0, -1, 2, 0])), IndexError,
                            r"nll_loss: target values must lie in \[0, 3\) .* got -1"),
    "nll_weight": (lambda: F.nll_loss(X, LABELS, weight=mg.ones(4)), ValueError,
                   r"nll_loss: weight must have shape \(3,\), got \(4,\)"),
    "nll_integer_input": (lambda: F.nll_loss(mg.tensor([[0, 1]]), mg.tensor([0])), TypeError,
                          r"nll_loss: expected a floating-point tensor, got .*int64"),
    "cross_entropy_float_labels": (
        lambda: F.cross_entropy(X, T[:, 0]), ValueError,
        r"cross_entropy: input shape \(4, 3\) and target shape \(4,\) differ; float targets "
        r"are class probabilities"),
    "cross_entropy_probability_shape": (
        lambda: F.cross_entropy(X, T[:, :2]), ValueError,
        r"cross_entropy: input shape \(4, 3\) and target shape \(4, 2\) differ"),
    "cross_entropy_target_shape": (
        lambda: F.cross_entropy(X, mg.tensor([0, 1])), ValueError,
        r"cross_entropy: target shape \(2,\) does not match input shape \(4, 3\)"),
    "cross_entropy_target_range": (
        lambda: F.cross_entropy(X, mg.tensor([0, 1, 2, 9])), IndexError,
        r"cross_entropy: target values must lie in \[0, 3\) .* got 9"),
    "cross_entropy_weight": (lambda: F.cross_entropy(X, LABELS, weight=mg.ones(2)),
                             ValueError, r"cross_entropy: weight must have shape \(3,\), "
                             r"got \(2,\)"),
    "cross_entropy_probability_weight": (
        lambda: F.cross_entropy(X, T, weight=mg.ones(3, 1)), ValueError,
        r"cross_entropy: weight must have shape \(3,\), got \(3, 1\)"),
    "cross_entropy_smoothing_and_weight": (
        lambda: F.cross_entropy(X, LABELS, weight=mg.ones(3), label_smoothing=0.1),
        ValueError, r"cross_entropy: label_smoothing with class weights is not supported"),
    "cross_entropy_smoothing_range": (
        lambda: F.cross_entropy(X, LABELS, label_smoothing=1.5), ValueError,
        r"cross_entropy: label_smoothing must lie in \[0, 1\], got 1.5"),
    "cross_entropy_input_1d": (
        lambda: F.cross_entropy(mg.zeros(3), LABELS[:1]), ValueError,
        r"cross_entropy: input must be \(N, C, ...\), got shape \(3,\)"),
    "cross_entropy_integer_input": (
        lambda: F.cross_entropy(mg.tensor([[0, 1]]), mg.tensor([0])), TypeError,
        r"cross_entropy: expected a floating-point tensor, got .*int64"),
    "mse_integer_input": (
        lambda: F.mse_loss(mg.tensor([1, 2]), mg.tensor([1.0, 2.0])), TypeError,
        r"mse_loss: expected a floating-point tensor, got input 0 of dtype int64"),
    "l1_integer_target": (
        lambda: F.l1_loss(mg.tensor([1.0, 2.0]), mg.tensor([1, 2])), TypeError,
        r"l1_loss: expected a floating-point tensor, got input 1 of dtype int64"),
    "bce_logits_integer_input": (
        lambda: F.binary_cross_entropy_with_logits(mg.tensor([1, 0]), mg.tensor([1.0, 0.0])),
        TypeError, r"binary_cross_entropy_with_logits: expected a floating-point tensor, got "
        r"input 0 of dtype int64"),
    "bce_integer_target": (
        lambda: F.binary_cross_entropy(mg.tensor([0.5]), mg.tensor([1])), TypeError,
        r"binary_cross_entropy: expected a floating-point tensor, got input 1 of dtype int64"),
    "kl_integer_input": (
        lambda: F.gaussian_kl_divergence(mg.tensor([[1]]), mg.tensor([[1.0]])), TypeError,
        r"gaussian_kl_divergence: expected a floating-point tensor, got input 0 of dtype"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_clear_error(name):
    call, error, message = BAD_INPUTS[name]
    with pytest.raises(error, match=message):
        call()
