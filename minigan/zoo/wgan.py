"""WGAN (Arjovsky et al. 2017): a critic estimating the Wasserstein-1 distance, kept
Lipschitz by clipping its weights to [-0.01, 0.01]; 5 critic updates per generator
update; RMSprop with lr 5e-5 (momentum-based optimisers were unstable in the paper)."""
from minigan.zoo.recipe import Recipe

RECIPE = Recipe(name="wgan", paper="Arjovsky et al. 2017, Wasserstein GAN",
                loss="wasserstein", n_critic=5, weight_clip=0.01, optimizer="rmsprop",
                lr_g=5e-5, lr_d=5e-5, g_norm="batch", d_norm="batch")
