"""Tests for minigan/zoo/losses.py: every adversarial loss against its formula written out
in float64 NumPy, its gradient by central differences, and the BCE family exact and
finite for logits of any size."""
import numpy as np
import pytest

import minigan as mg
from minigan.testing import assert_close, gradcheck
from minigan.testing.strategies import keep_away
from minigan.zoo.losses import (LOSSES, hinge_d_loss, least_squares_d_loss,
                                least_squares_g_loss, minimax_d_loss, minimax_g_loss,
                                nonsaturating_g_loss, wasserstein_d_loss, wasserstein_g_loss)


def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def _softplus(t):
    """log(1 + e^t), stable for any t."""
    return np.logaddexp(0, t)


# The formulas of the papers, written naively: exact in float64 for moderate logits.
D_FORMULAS = {
    minimax_d_loss: lambda r, f: -np.mean(np.log(_sigmoid(r)))
    - np.mean(np.log(1 - _sigmoid(f))),
    least_squares_d_loss: lambda r, f: 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f ** 2),
    wasserstein_d_loss: lambda r, f: np.mean(f) - np.mean(r),
    hinge_d_loss: lambda r, f: np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)),
}
G_FORMULAS = {
    minimax_g_loss: lambda f: np.mean(np.log(1 - _sigmoid(f))),
    nonsaturating_g_loss: lambda f: -np.mean(np.log(_sigmoid(f))),
    least_squares_g_loss: lambda f: 0.5 * np.mean((f - 1) ** 2),
    wasserstein_g_loss: lambda f: -np.mean(f),
}


def _t(a, requires_grad=False):
    return mg.tensor(np.asarray(a, np.float64), requires_grad=requires_grad)


def _outputs(seed, shape):
    """Critic outputs D(x), D(G(z)) of moderate size (|logit| < ~10)."""
    rng = np.random.default_rng(seed)
    return 3 * rng.standard_normal(shape), 3 * rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(7, 1), (5,)])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("loss", D_FORMULAS, ids=lambda f: f.__name__)
def test_critic_loss_matches_formula(loss, seed, shape):
    real, fake = _outputs(seed, shape)
    assert_close(loss(_t(real), _t(fake)).item(), D_FORMULAS[loss](real, fake),
                 rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(7, 1), (5,)])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("loss", G_FORMULAS, ids=lambda f: f.__name__)
def test_generator_loss_matches_formula(loss, seed, shape):
    _, fake = _outputs(seed, shape)
    assert_close(loss(_t(fake)).item(), G_FORMULAS[loss](fake), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", list(D_FORMULAS) + list(G_FORMULAS), ids=lambda f: f.__name__)
def test_loss_gradcheck(loss):
    # Away from the hinge's kinks at +-1, where central differences are undefined.
    real, fake = (keep_away(a, [-1.0, 1.0], 0.1) for a in _outputs(10, (6, 1)))
    if loss in D_FORMULAS:
        gradcheck(loss, [_t(real, True), _t(fake, True)])
    else:
        gradcheck(loss, [_t(fake, True)])


# Logits of +-1000: exp overflows, sigmoid rounds to 0 or 1. The exact values follow from
# log s(t) = -log(1 + e^-t): -log s(1000) = e^-1000 (0 in float64), -log s(-1000) = 1000.
LARGE = np.array([[1000.0], [-1000.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_losses_exact_at_large_logits(dtype):
    pos, neg = mg.tensor(LARGE[:1].astype(dtype)), mg.tensor(LARGE[1:].astype(dtype))
    assert minimax_d_loss(pos, neg).item() == 0.0           # a perfect discriminator
    assert minimax_d_loss(neg, pos).item() == 2000.0        # the worst one
    assert nonsaturating_g_loss(pos).item() == 0.0
    assert nonsaturating_g_loss(neg).item() == 1000.0
    assert minimax_g_loss(pos).item() == -1000.0
    assert minimax_g_loss(neg).item() == 0.0
    both = mg.tensor(LARGE.astype(dtype))
    assert minimax_d_loss(both, both).item() == 1000.0      # (0 + 1000)/2 twice


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_gradients_finite_at_large_logits(dtype):
    """d(-log s(t))/dt = -s(-t) and d(-log(1 - s(t)))/dt = s(t): each -1, 0 or 1 here,
    divided by the batch size."""
    real = mg.tensor(LARGE.astype(dtype), requires_grad=True)
    fake = mg.tensor(LARGE.astype(dtype), requires_grad=True)
    minimax_d_loss(real, fake).backward()
    assert_close(real.grad.numpy(), np.array([[0.0], [-0.5]], dtype))
    assert_close(fake.grad.numpy(), np.array([[0.5], [0.0]], dtype))
    for loss, expected in [(nonsaturating_g_loss, [[0.0], [-0.5]]),
                           (minimax_g_loss, [[-0.5], [0.0]])]:
        fake = mg.tensor(LARGE.astype(dtype), requires_grad=True)
        loss(fake).backward()
        assert_close(fake.grad.numpy(), np.array(expected, dtype))


@pytest.mark.parametrize("seed", range(3))
def test_bce_losses_match_stable_formula_at_mixed_large_logits(seed):
    """Logits up to 1000 in size against log(1 + e^t) = logaddexp(0, t) in float64."""
    rng = np.random.default_rng(seed)
    real, fake = (rng.uniform(-1000, 1000, (9, 1)) for _ in range(2))
    assert_close(minimax_d_loss(_t(real), _t(fake)).item(),
                 np.mean(_softplus(-real)) + np.mean(_softplus(fake)), rtol=1e-12, atol=0)
    assert_close(nonsaturating_g_loss(_t(fake)).item(), np.mean(_softplus(-fake)),
                 rtol=1e-12, atol=0)
    assert_close(minimax_g_loss(_t(fake)).item(), -np.mean(_softplus(fake)),
                 rtol=1e-12, atol=0)


def test_loss_table_pairs_each_critic_loss_with_its_generator_loss():
    expected = {
        "minimax": (minimax_d_loss, minimax_g_loss),
        "non-saturating": (minimax_d_loss, nonsaturating_g_loss),
        "least-squares": (least_squares_d_loss, least_squares_g_loss),
        "wasserstein": (wasserstein_d_loss, wasserstein_g_loss),
        "hinge": (hinge_d_loss, wasserstein_g_loss),
    }
    assert {name: (v.d_loss, v.g_loss) for name, v in LOSSES.items()} == expected
    assert all(v.name == name for name, v in LOSSES.items())
