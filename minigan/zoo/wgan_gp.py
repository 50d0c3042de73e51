"""WGAN-GP (Gulrajani et al. 2017): the Wasserstein critic made 1-Lipschitz by a
penalty lambda E[(||grad D(x̂)|| - 1)^2] on random interpolates (lambda = 10), no batch
norm in the critic (layer norm instead), 5 critic updates per generator update, Adam
with lr 1e-4 and betas (0, 0.9). For the 2-D toy tasks the authors' code uses
lambda = 0.1 (remarking that it trains toy tasks faster) and betas (0.5, 0.9). On ring8,
seed 0, 3000 steps, minigan's MLP pair covered no mode with lambda = 10; all eight with
lambda = 0.1, at 27-43% high quality with betas (0, 0.9) and 68% with (0.5, 0.9)."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="wgan_gp", paper="Gulrajani et al. 2017, Improved Training of "
                "Wasserstein GANs", loss="wasserstein", penalty="gradient",
                penalty_weight=10.0, n_critic=5, optimizer="adam", lr_g=1e-4, lr_d=1e-4,
                betas=(0.0, 0.9), g_norm="batch", d_norm="layer",
                toy_settings={"penalty_weight": 0.1, "betas": (0.5, 0.9)})
