"""Building blocks: activations, initializations, normalizations, regularizers.

Registries (name → constructor): ACTIVATIONS, INITS, NORMS (trainwell.nn.registry) and
REGULARIZERS (trainwell.nn.regularizers).
"""
from trainwell.nn.activations import (
    ELU,
    GELU,
    SELU,
    SELU_ALPHA,
    SELU_SCALE,
    LeakyReLU,
    PReLU,
    ReLU,
    Sigmoid,
    Swish,
    Tanh,
    swish,
)
from trainwell.nn.fold_bn import count_batchnorms, fold_batchnorm
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
    init_layers,
    orthogonal_,
    zero_init_residual_,
)
from trainwell.nn.lsuv import lsuv_
from trainwell.nn.maxout import MaxoutConv, MaxoutLinear, maxout
from trainwell.nn.kinds import batchnorms, is_batchnorm, is_norm
from trainwell.nn.norms import LayerNormNd
from trainwell.nn.registry import ACTIVATIONS, INITS, NORMS, build_init, build_norm, initialize
from trainwell.nn.regularizers import (
    REGULARIZERS,
    DropBlock,
    DropConnectConv,
    DropConnectLinear,
    DropPath,
    FractionalMaxPool2d,
    InvertedDropout,
    LabelSmoothingCrossEntropy,
    ResidualBlock,
    SpatialDropout,
    VanillaDropout,
    block_gamma,
    drop_block,
    drop_connect,
    drop_path,
    drop_path_rates,
    expand_seeds,
    inverted_dropout,
    label_smoothing_cross_entropy,
    paper_gamma,
    spatial_dropout,
    vanilla_dropout,
)

__all__ = [
    "ACTIVATIONS", "INITS", "NORMS", "REGULARIZERS",
    "ELU", "GELU", "SELU", "SELU_ALPHA", "SELU_SCALE", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Swish", "Tanh",
    "swish", "MaxoutConv", "MaxoutLinear", "maxout",
    "Constant", "InitScheme", "Kaiming", "Lecun", "Normal", "Orthogonal", "TorchDefault", "Uniform",
    "VarianceScaling", "Xavier", "build_init", "fans", "gain", "init_layers", "initialize", "orthogonal_",
    "zero_init_residual_", "lsuv_",
    "LayerNormNd", "batchnorms", "build_norm", "is_batchnorm", "is_norm", "count_batchnorms", "fold_batchnorm",
    "DropBlock", "DropConnectConv", "DropConnectLinear", "DropPath", "FractionalMaxPool2d", "InvertedDropout",
    "LabelSmoothingCrossEntropy", "ResidualBlock", "SpatialDropout", "VanillaDropout", "block_gamma",
    "drop_block", "drop_connect", "drop_path", "drop_path_rates", "expand_seeds", "inverted_dropout",
    "label_smoothing_cross_entropy", "paper_gamma", "spatial_dropout", "vanilla_dropout",
]
