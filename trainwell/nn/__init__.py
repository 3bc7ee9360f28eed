"""Building blocks: activations, initializations, normalizations, regularizers (see registry)."""
from trainwell.nn.activations import ELU, GELU, SELU, LeakyReLU, PReLU, ReLU, Sigmoid, Swish, Tanh, swish
from trainwell.nn.init import (
    Constant,
    InitScheme,
    Kaiming,
    Lecun,
    Normal,
    Orthogonal,
    TorchDefault,
    Uniform,
    VarianceScaling,
    Xavier,
    fans,
    gain,
    initialize,
    orthogonal_,
)
from trainwell.nn.norms import LayerNormNd, build_norm
from trainwell.nn.registry import ACTIVATIONS, INITS, NORMS

__all__ = [
    "ACTIVATIONS", "INITS", "NORMS",
    "ELU", "GELU", "SELU", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Swish", "Tanh", "swish",
    "Constant", "InitScheme", "Kaiming", "Lecun", "Normal", "Orthogonal", "TorchDefault", "Uniform",
    "VarianceScaling", "Xavier", "fans", "gain", "initialize", "orthogonal_",
    "LayerNormNd", "build_norm",
]
