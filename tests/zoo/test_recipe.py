"""Tests for minigan/zoo/recipe.py and the per-variant recipe modules: each paper's
defaults, overrides and validation."""
import importlib

import pytest

from minigan.zoo import RECIPES
from minigan.zoo.recipe import Recipe

# What each paper prescribes, field by field (fields left out keep Recipe's defaults).
PAPER_DEFAULTS = {
    "gan": dict(loss="minimax", penalty=None, n_critic=1, weight_clip=None, optimizer="adam",
                lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), spectral=False, attention=False),
    "dcgan": dict(loss="non-saturating", penalty=None, n_critic=1, weight_clip=None,
                  optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), g_norm="batch",
                  d_norm="batch", spectral=False, attention=False),
    "lsgan": dict(loss="least-squares", penalty=None, n_critic=1, weight_clip=None,
                  optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999),
                  spectral=False, attention=False),
    "wgan": dict(loss="wasserstein", penalty=None, n_critic=5, weight_clip=0.01,
                 optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, spectral=False, attention=False),
    "wgan_gp": dict(loss="wasserstein", penalty="gradient", penalty_weight=10.0,
                    toy_settings={"penalty_weight": 0.1, "betas": (0.5, 0.9),  # the authors'
                                  "lr_g": 1e-3, "lr_d": 1e-3},               # minigan's
                    n_critic=5,
                    weight_clip=None, optimizer="adam", lr_g=1e-4, lr_d=1e-4,
                    betas=(0.0, 0.9), spectral=False, attention=False),
    "wgan_div": dict(loss="wasserstein", penalty="div", penalty_weight=2.0, penalty_power=6.0,
                     n_critic=5, weight_clip=None, spectral=False, attention=False),
    "sagan": dict(loss="hinge", penalty=None, n_critic=1, weight_clip=None, optimizer="adam",
                  lr_g=1e-4, lr_d=4e-4, betas=(0.0, 0.9), spectral=True, attention=True),
}


def test_every_variant_is_registered_under_its_module_name():
    assert set(RECIPES) == set(PAPER_DEFAULTS)
    for name, recipe in RECIPES.items():
        assert importlib.import_module(f"minigan.zoo.{name}").RECIPE is recipe
        assert recipe.name == name and recipe.paper


@pytest.mark.parametrize("name", PAPER_DEFAULTS)
def test_recipe_has_its_papers_defaults(name):
    recipe = RECIPES[name]
    assert {field: getattr(recipe, field) for field in PAPER_DEFAULTS[name]} \
        == PAPER_DEFAULTS[name]


def test_critics_of_penalised_recipes_do_not_mix_examples():
    """A gradient penalty needs D(x)_b to depend on x_b alone: no batch norm in D."""
    for recipe in RECIPES.values():
        if recipe.penalty is not None:
            assert recipe.d_norm in ("layer", "instance", "none"), recipe.name
    assert RECIPES["wgan_gp"].d_norm == "layer"
    assert RECIPES["sagan"].d_norm == "none"


def test_with_overrides_changes_given_fields_and_ignores_none():
    recipe = RECIPES["wgan_gp"]
    changed = recipe.with_overrides(lr_g=3e-4, n_critic=None, penalty_weight=1.0)
    assert (changed.lr_g, changed.n_critic, changed.penalty_weight) == (3e-4, 5, 1.0)
    assert recipe.lr_g == 1e-4                        # frozen: the original is unchanged
    assert recipe.with_overrides() == recipe


def test_to_dict_round_trips():
    for recipe in RECIPES.values():
        assert Recipe(**recipe.to_dict()) == recipe


@pytest.mark.parametrize("change, message", [
    (dict(loss="kl"), "Recipe bad: unknown loss 'kl'"),
    (dict(penalty="l2"), "Recipe bad: unknown penalty 'l2'"),
    (dict(optimizer="sgd"), "Recipe bad: optimizer must be 'adam' or 'rmsprop', got 'sgd'"),
    (dict(n_critic=0), "Recipe bad: n_critic must be >= 1, got 0"),
])
def test_invalid_recipe_is_an_error_naming_it(change, message):
    with pytest.raises(ValueError, match=message):
        Recipe(name="bad", paper="", **{"loss": "hinge", **change})


def test_overrides_are_validated():
    with pytest.raises(ValueError, match="Recipe wgan: n_critic must be >= 1, got 0"):
        RECIPES["wgan"].with_overrides(n_critic=0)


def test_toy_settings_must_name_recipe_fields():
    with pytest.raises(ValueError, match=r"toy_settings names unknown fields \['lambda'\]"):
        RECIPES["wgan_gp"].with_overrides(toy_settings={"lambda": 0.1})
