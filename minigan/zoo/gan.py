"""GAN (Goodfellow et al. 2014): the minimax game, log-loss on logits. The paper's
generator minimises log(1 - D(G(z))); its non-saturating variant is DCGAN's."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="gan", paper="Goodfellow et al. 2014, Generative Adversarial Nets",
                loss="minimax", optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999),
                g_norm="batch", d_norm="none")
