"""DCGAN (Radford et al. 2016): all-convolutional networks with batch norm, the
non-saturating loss, Adam with lr 2e-4 and beta1 0.5, weights N(0, 0.02)."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="dcgan", paper="Radford et al. 2016, Unsupervised Representation "
                "Learning with Deep Convolutional GANs", loss="non-saturating",
                optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999),
                g_norm="batch", d_norm="batch")
