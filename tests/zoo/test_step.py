"""Tests for minigan/zoo/step.py: networks and optimisers per recipe, the critic schedule,
the penalty wiring, the frozen critic of the generator's turn, WGAN's weight clipping and
the non-finite loss check."""
import re

import numpy as np
import pytest

import minigan as mg
from minigan import optim
from minigan.random import Generator
from minigan.testing import assert_close
from minigan.zoo import RECIPES, Recipe, build_gan, critic_step, generator_step, \
    sample_latent, train_step
from minigan.zoo import step as step_module
from minigan.zoo.losses import LOSSES
from minigan.zoo.networks import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from minigan.zoo.penalties import gradient_penalty, r1_penalty, wgan_div_penalty

B = 8
R1 = Recipe(name="r1", paper="", loss="non-saturating", penalty="r1", penalty_weight=5.0)


def _points_gan(recipe, **overrides):
    mg.manual_seed(0)
    return build_gan(recipe.with_overrides(**overrides), (2,), width=8)


def _batches(n, shape=(2,), seed=0):
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.standard_normal((B, *shape)).astype(np.float32)) for _ in range(n)]


# -------------------------------------------------------------------------- build_gan --
def test_build_gan_gives_mlps_for_points_and_dcgan_nets_for_images():
    points = build_gan(RECIPES["gan"], (2,))
    assert isinstance(points.generator, MLPGenerator) and isinstance(points.critic, MLPCritic)
    assert points.latent_dim == 2
    images = build_gan(RECIPES["dcgan"], (1, 16, 16), width=4)
    assert isinstance(images.generator, DCGANGenerator)
    assert isinstance(images.critic, DCGANCritic)
    assert images.latent_dim == 100


@pytest.mark.parametrize("shape", [(2, 3), (3, 16, 8), (1, 1, 16, 16)])
def test_build_gan_rejects_other_data_shapes(shape):
    with pytest.raises(ValueError, match="build_gan: .* got shape " + re.escape(repr(shape))):
        build_gan(RECIPES["gan"], shape)


@pytest.mark.parametrize("name, kind, lr_g, lr_d", [
    ("wgan", optim.RMSprop, 5e-5, 5e-5), ("wgan_gp", optim.Adam, 1e-4, 1e-4),
    ("sagan", optim.Adam, 1e-4, 4e-4), ("dcgan", optim.Adam, 2e-4, 2e-4)])
def test_build_gan_makes_the_recipes_optimisers(name, kind, lr_g, lr_d):
    recipe = RECIPES[name]
    gan = build_gan(recipe, (2,), width=8)
    for opt, lr, net in [(gan.opt_g, lr_g, gan.generator), (gan.opt_d, lr_d, gan.critic)]:
        assert type(opt) is kind
        (group,) = opt.param_groups
        assert group["lr"] == lr
        assert [id(p) for p in group["params"]] == [id(p) for p in net.parameters()]
        if kind is optim.Adam:
            assert tuple(group["betas"]) == recipe.betas


def test_sample_latent_draws_standard_normals_from_the_generator():
    gan = build_gan(RECIPES["gan"], (2,), latent_dim=3, width=8)
    z = sample_latent(gan, 5, Generator(4))
    assert z.shape == (5, 3)
    np.testing.assert_array_equal(z.numpy(), Generator(4).normal((5, 3), np.float32))


# ------------------------------------------------------------------------- train_step --
@pytest.mark.parametrize("name, n_critic", [(name, None) for name in RECIPES]
                         + [("dcgan", 3), ("wgan", 2)])
def test_train_step_runs_n_critic_critic_updates_then_one_generator_update(
        name, n_critic, monkeypatch):
    gan = _points_gan(RECIPES[name], n_critic=n_critic)
    n = gan.recipe.n_critic
    events, seen = [], []

    def record(tag, original):
        def step():
            events.append(tag)
            return original()
        return step
    monkeypatch.setattr(gan.opt_d, "step", record("d", gan.opt_d.step))
    monkeypatch.setattr(gan.opt_g, "step", record("g", gan.opt_g.step))
    original_critic_update = step_module._critic_update

    def critic_update_seeing(g, real, rng):
        seen.append(real)
        return original_critic_update(g, real, rng)
    monkeypatch.setattr(step_module, "_critic_update", critic_update_seeing)
    batches = _batches(n)
    out = train_step(gan, batches, Generator(0))
    assert events == ["d"] * n + ["g"]
    assert [id(b) for b in seen] == [id(b) for b in batches]    # one batch per update
    assert {"d_loss", "g_loss"} <= set(out)
    assert all(np.isfinite(v) for v in out.values())


@pytest.mark.parametrize("name", ["dcgan", "wgan", "wgan_gp"])
def test_train_step_copies_its_losses_to_the_host_once_after_the_last_update(
        name, monkeypatch):
    """On a GPU each copy to the host waits for the queued work; the step makes one, after
    its last optimizer step, for all its losses: none between a forward pass and its
    backward pass, none per critic update."""
    gan = _points_gan(RECIPES[name])
    events = []
    host = mg.Tensor._host

    def counted_host(tensor):
        events.append("host")
        return host(tensor)
    monkeypatch.setattr(mg.Tensor, "_host", counted_host)
    for opt, tag in ((gan.opt_d, "d"), (gan.opt_g, "g")):
        monkeypatch.setattr(opt, "step", lambda original=opt.step, tag=tag: (
            events.append(tag), original())[1])
    out = train_step(gan, _batches(gan.recipe.n_critic), Generator(0))
    assert events == ["d"] * gan.recipe.n_critic + ["g", "host"]
    assert all(type(v) is float and np.isfinite(v) for v in out.values())
    assert set(out) == {"d_loss", "g_loss"} | ({"penalty"} if gan.recipe.penalty else set()) \
        | ({"wasserstein"} if gan.recipe.loss == "wasserstein" else set())


def test_train_step_wants_one_batch_per_critic_update():
    gan = _points_gan(RECIPES["wgan_gp"])
    with pytest.raises(ValueError, match="train_step: wgan_gp takes 5 real batches per step, "
                                         "got 2"):
        train_step(gan, _batches(2), Generator(0))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_train_step_raises_floating_point_error_on_non_finite_loss(value):
    gan = _points_gan(RECIPES["dcgan"])
    weight = next(gan.critic.parameters())
    weight.data[0, 0] = value
    with pytest.raises(FloatingPointError, match="non-finite d_loss"):
        train_step(gan, _batches(1), Generator(0))


# ------------------------------------------------------------------------ critic_step --
@pytest.mark.parametrize("recipe", [RECIPES["wgan_gp"], RECIPES["wgan_div"], R1],
                         ids=lambda r: r.name)
def test_critic_step_minimises_the_loss_plus_the_weighted_penalty(recipe):
    """Recompute L_D + penalty with a twin of the step's random stream (the same latents
    and interpolation coefficients) before the step; the reported values and the critic's
    gradients must be those of this sum."""
    gan = _points_gan(recipe)
    real = _batches(1)[0]
    rng, twin = Generator(3), Generator(3)
    with mg.no_grad():
        fake = gan.generator(sample_latent(gan, B, twin))
    critic = gan.critic
    d_loss = LOSSES[recipe.loss].d_loss(critic(real), critic(fake))
    penalty = {"gradient": lambda: 10.0 * gradient_penalty(critic, real, fake, twin),
               "div": lambda: wgan_div_penalty(critic, real, fake, k=2.0, p=6.0),
               "r1": lambda: r1_penalty(critic, real, gamma=5.0)}[recipe.penalty]()
    params = list(critic.parameters())
    expected_grads = mg.grad(d_loss + penalty, params)
    out = critic_step(gan, real, rng)
    assert_close(out["d_loss"], d_loss.item(), rtol=1e-6, atol=1e-7)
    assert_close(out["penalty"], penalty.item(), rtol=1e-6, atol=1e-7)
    for p, g in zip(params, expected_grads):
        assert_close(p.grad.numpy(), g.numpy(), rtol=1e-5, atol=1e-6)
    if recipe.loss == "wasserstein":
        assert out["wasserstein"] == pytest.approx(-out["d_loss"], rel=1e-6, abs=1e-7)


def test_weight_clipping_holds_after_each_wgan_critic_update(monkeypatch):
    """With a learning rate large enough to push every weight past c, each critic update
    of each step leaves all critic parameters in [-c, c], and the generator unclipped."""
    gan = _points_gan(RECIPES["wgan"], lr_d=0.05)
    c = gan.recipe.weight_clip
    updates = []
    original = step_module._critic_update

    def checked(g, real, rng):
        out = original(g, real, rng)
        values = np.concatenate([p.detach().numpy().ravel() for p in g.critic.parameters()])
        assert np.all(np.abs(values) <= c)
        updates.append(np.mean(np.abs(values) == c))
        return out
    monkeypatch.setattr(step_module, "_critic_update", checked)
    for seed in range(3):
        train_step(gan, _batches(5, seed=seed), Generator(seed))
    assert len(updates) == 15
    assert min(updates) > 0.5                    # the clip is what holds them there
    assert max(np.abs(p.detach().numpy()).max() for p in gan.generator.parameters()) \
        > 10 * c


# --------------------------------------------------------------------- generator_step --
def test_generator_step_freezes_the_critic():
    gan = _points_gan(RECIPES["wgan_gp"])
    critic_step(gan, _batches(1)[0], Generator(0))
    params = list(gan.critic.parameters())
    grads = [p.grad for p in params]
    grad_values = [g.numpy().copy() for g in grads]
    weights = [p.detach().numpy().copy() for p in params]
    flags = []
    gan.critic.register_forward_pre_hook(
        lambda module, args: flags.append([p.requires_grad for p in module.parameters()]))
    generator_step(gan, B, Generator(1))
    assert flags and not any(any(f) for f in flags)      # frozen while G is updated
    assert all(p.requires_grad for p in params)          # and thawed afterwards
    for p, g, value, w in zip(params, grads, grad_values, weights):
        assert p.grad is g
        np.testing.assert_array_equal(g.numpy(), value)
        np.testing.assert_array_equal(p.detach().numpy(), w)
    assert all(p.grad is not None for p in gan.generator.parameters())


def test_generator_step_thaws_the_critic_after_an_error(monkeypatch):
    gan = _points_gan(RECIPES["gan"])

    def fail():
        raise RuntimeError("optimizer failed")
    monkeypatch.setattr(gan.opt_g, "step", fail)
    with pytest.raises(RuntimeError, match="optimizer failed"):
        generator_step(gan, B, Generator(0))
    assert all(p.requires_grad for p in gan.critic.parameters())


def test_generator_step_lowers_the_generator_loss():
    """Steps of G against a fixed critic, all on the same latents (a fresh Generator(9)
    each time), lower L_G on those latents."""
    gan = _points_gan(RECIPES["lsgan"], lr_g=1e-3)

    def g_loss():
        with mg.no_grad():
            fake = gan.generator(sample_latent(gan, 64, Generator(9)))
            return LOSSES["least-squares"].g_loss(gan.critic(fake)).item()
    before = g_loss()
    losses = [generator_step(gan, 64, Generator(9))["g_loss"] for _ in range(5)]
    assert losses[0] == pytest.approx(before, rel=1e-6)
    assert g_loss() < before
