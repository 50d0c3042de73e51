"""LSGAN (Mao et al. 2017): least-squares losses with the 0-1 coding, DCGAN's networks,
Adam with lr 2e-4 and beta1 0.5."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="lsgan", paper="Mao et al. 2017, Least Squares Generative "
                "Adversarial Networks", loss="least-squares", optimizer="adam", lr_g=2e-4,
                lr_d=2e-4, betas=(0.5, 0.999), g_norm="batch", d_norm="batch")
