"""Optimizers, learning-rate schedules, clipping and weight averaging, with PyTorch's names.

    opt_g = optim.Adam(g.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = optim.Adam(d.parameters(), lr=4e-4, betas=(0.0, 0.9))      # TTUR
    ema = optim.EMA(g, decay=0.999)
    ...
    opt_g.step(); ema.update(g)
"""
from minigan.optim import lr_scheduler
from minigan.optim.adam import Adam, AdamW
from minigan.optim.clip import clip_grad_norm_, clip_grad_value_, clip_weights_
from minigan.optim.ema import EMA
from minigan.optim.optimizer import Optimizer
from minigan.optim.rmsprop import RMSprop
from minigan.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "EMA", "lr_scheduler",
           "clip_grad_norm_", "clip_grad_value_", "clip_weights_"]
