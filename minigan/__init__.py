"""minigan: a GAN laboratory on a small reverse-mode autograd engine over NumPy and CuPy.

    import minigan as mg
    x = mg.randn(3, requires_grad=True)
    y = (x * x).sum()
    (g,) = mg.grad(y, x, create_graph=True)     # g = 2x, itself differentiable
    g.sum().backward()                          # x.grad = 2
"""
from minigan import (backend, cuda, cuda_kernels, data, kernels, metrics, nn, ops, optim,
                     random, serialization, testing)
from minigan.autograd import (AnomalyError, Function, backward, detect_anomaly, enable_grad,
                              grad, is_anomaly_enabled, is_grad_enabled, no_grad,
                              set_detect_anomaly, set_grad_enabled)
from minigan.backend import Device, device
from minigan.creation import (arange, as_tensor, empty, eye, from_numpy, full, full_like,
                              linspace, ones, ones_like, rand, rand_like, randint, randn,
                              randn_like, randperm, tensor, zeros, zeros_like)
from minigan.info import info
from minigan.ops.activation import (elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu,
                                    softmax, softplus, tanh)
from minigan.ops.arithmetic import (add, div, eq, ge, gt, le, lt, maximum, minimum, mul, ne,
                                    neg, pow, sub, where)
from minigan.ops.dropout import dropout
from minigan.ops.indexing import embedding, index_add, one_hot
from minigan.ops.linalg import linear, matmul
from minigan.ops.norm import vector_norm
from minigan.ops.pointwise import abs, clamp, erf, exp, log, log1p, sign, sqrt
from minigan.ops.reduction import (amax, amin, argmax, argmin, logsumexp, max, mean, min,
                                   std, sum, var)
from minigan.ops.shape import (broadcast_to, cat, chunk, expand, flatten, flip, movedim,
                               pad, permute, repeat, reshape, split, squeeze, stack, sum_to,
                               transpose, unsqueeze)
from minigan.serialization import CheckpointError, load, save
from minigan.random import (Generator, default_generator, get_rng_state, manual_seed, seed,
                            set_rng_state)
from minigan.tensor import (Tensor, as_dtype, float16, float32, float64, get_default_dtype,
                            int32, int64, set_default_dtype, uint8)
from minigan.tensor import bool_ as bool  # mg.bool, as torch.bool

__version__ = "0.1.0"
clip = clamp
concat = cat
concatenate = cat
