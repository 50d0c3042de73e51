"""WGAN-GP (Gulrajani et al. 2017): the Wasserstein critic made 1-Lipschitz by a
penalty lambda E[(||grad D(x̂)|| - 1)^2] on random interpolates (lambda = 10), no batch
norm in the critic (layer norm instead), 5 critic updates per generator update, Adam
with lr 1e-4 and betas (0, 0.9).

On the 2-D toy tasks the authors' code uses lambda = 0.1 (remarking that it trains toy
tasks faster) and betas (0.5, 0.9), with lr 1e-4 for 100,000 steps. On ring8, seed 0, 3000
steps, minigan's MLP pair covered no mode with lambda = 10; all eight with lambda = 0.1, at
27-43% high quality with betas (0, 0.9) and 68% with (0.5, 0.9). For runs of a few
thousand steps minigan raises the learning rate to 1e-3 (its own measurement, not the
authors'): with the loop's weight average, seed 0 reached at 3000 steps 76% high quality
on ring8 at lr 1e-4, 95% at 5e-4 and 94% at 1e-3; grid25 needed 1e-3 (77% at 3000 steps,
90% at 5000; 5e-4 gave 44% at 3000)."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="wgan_gp", paper="Gulrajani et al. 2017, Improved Training of "
                "Wasserstein GANs", loss="wasserstein", penalty="gradient",
                penalty_weight=10.0, n_critic=5, optimizer="adam", lr_g=1e-4, lr_d=1e-4,
                betas=(0.0, 0.9), g_norm="batch", d_norm="layer",
                toy_settings={"penalty_weight": 0.1, "betas": (0.5, 0.9), "lr_g": 1e-3,
                              "lr_d": 1e-3})
