"""Tests for minigan/zoo/penalties.py: each penalty against its formula on critics whose
input gradient is known in closed form, the interpolates of WGAN-GP, and the penalties'
gradients with respect to the critic's weights (the double backward)."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.random import Generator
from minigan.testing import assert_close, gradcheck
from minigan.zoo.penalties import (gradient_penalty, interpolate, per_example_norm,
                                   r1_penalty, wgan_div_penalty)

SHAPES = [(5, 2), (4, 3, 4, 4)]          # 2-D points and (B, C, H, W) images


class LinearCritic(nn.Module):
    """D(x)_b = sum(a * x_b): grad_x D(x)_b = a for every example, norm ||a||."""

    def __init__(self, a: np.ndarray) -> None:
        super().__init__()
        self.a = nn.Parameter(mg.tensor(a))

    def forward(self, x):
        return (x * self.a).reshape(x.shape[0], -1).sum(1, keepdim=True)     # (B, 1)


class QuadraticCritic(nn.Module):
    """D(x)_b = 1/2 sum(q * x_b^2): grad_x D(x)_b = q * x_b."""

    def __init__(self, q: np.ndarray) -> None:
        super().__init__()
        self.q = nn.Parameter(mg.tensor(q))

    def forward(self, x):
        return (0.5 * self.q * x * x).reshape(x.shape[0], -1).sum(1, keepdim=True)


def _batches(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _norms(g):
    """||g_b||_2 over all axes but the first, float64."""
    return np.linalg.norm(g.reshape(g.shape[0], -1), axis=1)


def _eps(shape, seed):
    """The interpolation coefficients ``interpolate`` draws from Generator(seed)."""
    return Generator(seed).uniform((shape[0],) + (1,) * (len(shape) - 1), np.float64)


# ----------------------------------------------------------------------- interpolate --
@pytest.mark.parametrize("shape", SHAPES)
def test_interpolates_lie_on_segments_with_one_eps_per_example(shape):
    real, fake = _batches(shape)
    x_hat = interpolate(mg.tensor(real), mg.tensor(fake), Generator(3)).numpy()
    t = (x_hat - fake) / (real - fake)           # where each entry lies on its segment
    flat = t.reshape(shape[0], -1)
    assert_close(flat, np.repeat(flat[:, :1], flat.shape[1], axis=1), rtol=1e-9, atol=1e-9)
    assert np.all((flat >= 0) & (flat <= 1))
    assert np.ptp(flat[:, 0]) > 0.1              # one eps per example, not one per batch
    eps = _eps(shape, 3)
    assert eps.shape == (shape[0],) + (1,) * (len(shape) - 1)
    assert_close(x_hat, eps * real + (1 - eps) * fake, rtol=1e-12, atol=1e-12)


def test_interpolate_rejects_batches_of_different_shapes():
    with pytest.raises(ValueError, match=r"real \(4, 2\) and fake \(3, 2\)"):
        interpolate(mg.zeros(4, 2), mg.zeros(3, 2))


def test_interpolates_are_cut_from_the_graph_of_real_and_fake():
    fake = mg.randn(3, 2, requires_grad=True)
    gradient_penalty(LinearCritic(np.ones(2)), mg.randn(3, 2), fake * 2).backward()
    assert fake.grad is None


@pytest.mark.parametrize("shape", SHAPES)
def test_per_example_norm_matches_numpy(shape):
    g, _ = _batches(shape)
    assert_close(per_example_norm(mg.tensor(g)).numpy(), _norms(g), rtol=1e-12, atol=0)


# ------------------------------------------------------------------ WGAN-GP penalty --
@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_penalty_of_linear_critic_is_norm_of_its_slope(shape, scale):
    """grad D = a at every interpolate: GP = (||a|| - 1)^2 whatever eps is."""
    real, fake = _batches(shape)
    a = np.random.default_rng(1).standard_normal(shape[1:])
    a *= scale / np.linalg.norm(a)
    gp = gradient_penalty(LinearCritic(a), mg.tensor(real), mg.tensor(fake), Generator(0))
    assert_close(gp.item(), (scale - 1) ** 2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("target", [1.0, 0.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_penalty_of_quadratic_critic_matches_formula(shape, target):
    """grad D(x̂_b) = q x̂_b with x̂_b = eps_b x_b + (1 - eps_b) x̃_b:
    GP = mean_b (||q x̂_b|| - target)^2, which depends on each example's own eps."""
    real, fake = _batches(shape)
    q = np.random.default_rng(2).uniform(0.5, 1.5, shape[1:])
    gp = gradient_penalty(QuadraticCritic(q), mg.tensor(real), mg.tensor(fake), Generator(5),
                          target=target)
    eps = _eps(shape, 5)
    x_hat = eps * real + (1 - eps) * fake
    assert_close(gp.item(), np.mean((_norms(q * x_hat) - target) ** 2), rtol=1e-10, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_penalty_gradient_on_linear_critic_matches_formula(shape):
    """d (||a|| - 1)^2 / da = 2 (||a|| - 1) a / ||a||: the double backward reaches a."""
    real, fake = _batches(shape)
    a = np.random.default_rng(4).standard_normal(shape[1:])
    critic = LinearCritic(a)
    gradient_penalty(critic, mg.tensor(real), mg.tensor(fake), Generator(0)).backward()
    norm = np.linalg.norm(a)
    assert_close(critic.a.grad.numpy(), 2 * (norm - 1) * a / norm, rtol=1e-10, atol=1e-12)


def _smooth_critic(in_features=2):
    """A small critic with a smooth activation, so the penalties are smooth in its
    weights and central differences apply."""
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(in_features, 4), nn.Tanh(), nn.Linear(4, 3), nn.Softplus(),
                         nn.Linear(3, 1)).double()


PENALTIES = {
    "gradient": lambda critic, real, fake: gradient_penalty(critic, real, fake, Generator(0)),
    "div": lambda critic, real, fake: wgan_div_penalty(critic, real, fake),
    "r1": lambda critic, real, fake: r1_penalty(critic, real),
}


@pytest.mark.parametrize("name", PENALTIES)
def test_penalty_gradcheck_with_respect_to_critic_weights(name):
    """The penalty as a function of every weight of a small critic, checked by central
    differences in float64 (the same eps at every evaluation: a fresh Generator(0))."""
    critic = _smooth_critic()
    real, fake = (mg.tensor(a) for a in _batches((6, 2), seed=7))
    params = list(critic.parameters())
    assert all(p.dtype == np.float64 and p.requires_grad for p in params)
    gradcheck(lambda *weights: PENALTIES[name](critic, real, fake), params)


# --------------------------------------------------------------- WGAN-div and R1 --
@pytest.mark.parametrize("shape", SHAPES)
def test_wgan_div_penalty_of_quadratic_critic_matches_formula(shape):
    """k/2 (mean_b ||q x_b||^p + mean_b ||q x̃_b||^p) with the paper's k = 2, p = 6."""
    real, fake = _batches(shape)
    q = np.random.default_rng(3).uniform(0.2, 0.8, shape[1:])
    div = wgan_div_penalty(QuadraticCritic(q), mg.tensor(real), mg.tensor(fake))
    expected = 2 / 2 * (np.mean(_norms(q * real) ** 6) + np.mean(_norms(q * fake) ** 6))
    assert_close(div.item(), expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("k, p", [(2.0, 6.0), (1.0, 2.0), (0.5, 3.0)])
def test_wgan_div_penalty_of_linear_critic_is_k_times_slope_to_the_p(k, p):
    real, fake = _batches((5, 3, 2, 2))
    a = np.full((3, 2, 2), 0.4)
    div = wgan_div_penalty(LinearCritic(a), mg.tensor(real), mg.tensor(fake), k=k, p=p)
    assert_close(div.item(), k * np.linalg.norm(a) ** p, rtol=1e-10, atol=0)


def test_wgan_div_penalty_is_smooth_at_zero_gradient():
    """||g||^p computed as (||g||^2)^(p/2): zero penalty and zero, finite gradient."""
    critic = LinearCritic(np.zeros(2))
    div = wgan_div_penalty(critic, mg.randn(4, 2), mg.randn(4, 2))
    div.backward()
    assert div.item() == 0.0
    assert np.all(critic.a.grad.numpy() == 0)


@pytest.mark.parametrize("gamma", [10.0, 1.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_r1_penalty_of_quadratic_critic_matches_formula(shape, gamma):
    """gamma/2 mean_b ||q x_b||^2 on real data only."""
    real, _ = _batches(shape)
    q = np.random.default_rng(6).uniform(0.5, 1.5, shape[1:])
    r1 = r1_penalty(QuadraticCritic(q), mg.tensor(real), gamma=gamma)
    assert_close(r1.item(), gamma / 2 * np.mean(_norms(q * real) ** 2), rtol=1e-10, atol=0)
