"""Neural-network building blocks under PyTorch's names: ``Module`` and its containers,
layers, initialisers (``nn.init``), spectral normalisation, and the stateless ops in
``minigan.nn.functional``."""
from minigan.nn import functional, init
from minigan.nn.activation import (ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU,
                                   Softmax, Softplus, Tanh)
from minigan.nn.attention import SelfAttention
from minigan.nn.conv import Conv2d, ConvTranspose2d
from minigan.nn.linear import Embedding, Flatten, Identity, Linear, Unflatten
from minigan.nn.module import Module, ModuleDict, ModuleList, Sequential, StateDictError
from minigan.nn.normalization import (BatchNorm1d, BatchNorm2d, ConditionalBatchNorm2d,
                                      GroupNorm, InstanceNorm2d, LayerNorm, PixelNorm)
from minigan.nn.parameter import Parameter
from minigan.nn.progressive import EqualizedConv2d, EqualizedLinear, MinibatchStdDev
from minigan.nn.resample import AvgPool2d, Dropout, MaxPool2d, PixelShuffle, Upsample
from minigan.nn.spectral_norm import remove_spectral_norm, spectral_norm, spectral_norm_sigma

__all__ = [
    "functional", "init", "Module", "ModuleDict", "ModuleList", "Sequential",
    "StateDictError", "Parameter", "Identity", "Linear", "Embedding", "Flatten", "Unflatten",
    "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "InstanceNorm2d", "LayerNorm",
    "GroupNorm", "ConditionalBatchNorm2d", "PixelNorm", "MinibatchStdDev", "EqualizedLinear",
    "EqualizedConv2d", "SelfAttention", "Dropout", "Upsample", "AvgPool2d", "MaxPool2d",
    "PixelShuffle", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "spectral_norm", "remove_spectral_norm", "spectral_norm_sigma",
]
