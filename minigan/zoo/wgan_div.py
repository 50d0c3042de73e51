"""WGAN-div (Wu et al. 2018): the Wasserstein loss with the divergence penalty
k E[||grad D(x)||^p] on real and fake examples, k = 2 and p = 6; 5 critic updates per
generator update; Adam with lr 2e-4 and betas (0.5, 0.999)."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="wgan_div", paper="Wu et al. 2018, Wasserstein Divergence for GANs",
                loss="wasserstein", penalty="div", penalty_weight=2.0, penalty_power=6.0,
                n_critic=5, optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999),
                g_norm="batch", d_norm="none")
