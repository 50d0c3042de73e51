"""The model zoo: GAN variants as recipes over shared losses, penalties, networks and
one train step. ``RECIPES[name]`` is the variant's paper configuration."""
from minigan.zoo import dcgan, gan, lsgan, sagan, wgan, wgan_div, wgan_gp
from minigan.zoo.recipe import Recipe
from minigan.zoo.step import GAN, build_gan, critic_step, generator_step, sample_latent, \
    train_step

RECIPES = {m.RECIPE.name: m.RECIPE for m in (gan, dcgan, lsgan, wgan, wgan_gp, wgan_div,
                                              sagan)}

__all__ = ["RECIPES", "Recipe", "GAN", "build_gan", "critic_step", "generator_step",
           "sample_latent", "train_step"]
