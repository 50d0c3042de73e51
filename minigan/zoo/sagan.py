"""SAGAN (Zhang et al. 2019): self-attention in generator and critic, spectral norm on
every layer of both, the hinge loss, batch norm in the generator only, and the
two-time-scale update rule (TTUR): Adam with lr 1e-4 for G and 4e-4 for D, betas
(0, 0.9), one critic update per generator update."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="sagan", paper="Zhang et al. 2019, Self-Attention Generative "
                "Adversarial Networks", loss="hinge", optimizer="adam", lr_g=1e-4,
                lr_d=4e-4, betas=(0.0, 0.9), g_norm="batch", d_norm="none", spectral=True,
                attention=True)
