"""Stateless functions under PyTorch's ``torch.nn.functional`` names (``import
minigan.nn.functional as F``)."""
from minigan.ops.activation import (elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu,
                                    softmax, softplus, tanh)
from minigan.ops.attention import scaled_dot_product_attention
from minigan.ops.conv import conv2d, conv2d_weight, conv_transpose2d
from minigan.ops.dropout import dropout
from minigan.ops.indexing import embedding, one_hot
from minigan.ops.linalg import linear
from minigan.ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                              cross_entropy, gaussian_kl_divergence, l1_loss, mse_loss,
                              nll_loss)
from minigan.ops.norm import vector_norm
from minigan.ops.normalization import (batch_norm, group_norm, instance_norm, layer_norm,
                                       pixel_norm)
from minigan.ops.pool import avg_pool2d, max_pool2d
from minigan.ops.resample import interpolate, pixel_shuffle, pixel_unshuffle
from minigan.ops.shape import pad

__all__ = [
    "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax",
    "softplus", "tanh", "conv2d", "conv2d_weight", "conv_transpose2d", "avg_pool2d",
    "max_pool2d", "interpolate", "pixel_shuffle", "pixel_unshuffle", "dropout", "embedding",
    "one_hot", "linear", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "gaussian_kl_divergence", "l1_loss", "mse_loss", "nll_loss",
    "vector_norm", "pad", "batch_norm", "group_norm", "instance_norm", "layer_norm",
    "pixel_norm", "scaled_dot_product_attention",
]
