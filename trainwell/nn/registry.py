"""Name → constructor registries for activations, initializations and normalizations.

Recipes and model builders refer to parts by these names:

    ACTIVATIONS.build("leaky_relu", num_features=64)              # or {"name": "leaky_relu", "slope": 0.1}
    INITS.build({"name": "kaiming", "nonlinearity": "relu"})      # -> scheme(module, generator=None)
    NORMS.build("group", num_features=64, dims=2)                 # dims: 0 N×F, 1 N×C×L, 2 N×C×H×W

Every activation constructor accepts `num_features` (used by prelu and learnable swish).
    REGULARIZERS.build({"name": "dropblock", "block_size": 5, "rate": 0.1}, dims=2)

`REGULARIZERS` lists the stochastic layers and losses of `trainwell.nn.regularizers`; their
constructors differ (a dropout takes p, DropConnect takes layer sizes), see each one's help.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from trainwell.nn import activations as act
from trainwell.nn import init
from trainwell.nn import norms
from trainwell.nn.drop_path import DropPath
from trainwell.nn.dropblock import DropBlock
from trainwell.nn.dropconnect import DropConnectConv, DropConnectLinear
from trainwell.nn.dropout import InvertedDropout, SpatialDropout, VanillaDropout
from trainwell.nn.fractional_pool import FractionalMaxPool2d
from trainwell.nn.label_smoothing import LabelSmoothingCrossEntropy
from trainwell.registry import Registry, Spec, split_spec

ACTIVATIONS = Registry("activation")
ACTIVATIONS.add("relu", act.ReLU, "max(0, x); the default (Nair & Hinton 2010)")
ACTIVATIONS.add("tanh", act.Tanh, "tanh(x); zero-centred but saturates")
ACTIVATIONS.add("sigmoid", act.Sigmoid, "1/(1+e^-x); saturates, not zero-centred")
ACTIVATIONS.add("leaky_relu", act.LeakyReLU, "x if x>0 else slope·x (slope=0.01); never dies")
ACTIVATIONS.add("prelu", act.PReLU, "leaky ReLU with a learnable slope per channel (He et al. 2015)")
ACTIVATIONS.add("elu", act.ELU, "x if x>0 else alpha·(e^x−1) (Clevert et al. 2015)")
ACTIVATIONS.add("selu", act.SELU, "scaled ELU, self-normalizing with lecun init (Klambauer et al. 2017)")
ACTIVATIONS.add("gelu", act.GELU, "x·Φ(x), approximate='tanh' optional (Hendrycks & Gimpel 2016)")
ACTIVATIONS.add("swish", act.Swish, "x·σ(βx), β fixed or learnable; β=1 is SiLU (Ramachandran et al. 2017)")
ACTIVATIONS.add("silu", act.Swish, "x·σ(x) (swish with β=1)")



def _kaiming_uniform(mode: str = "fan_in", nonlinearity: str = "relu", slope: float = 0.01,
                     gain: float | None = None, bias: float = 0.0) -> init.Kaiming:
    return init.Kaiming("uniform", mode, nonlinearity, slope, gain, bias)


def _xavier_uniform(mode: str = "fan_avg", nonlinearity: str = "linear", slope: float = 0.01,
                    gain: float | None = None, bias: float = 0.0) -> init.Xavier:
    return init.Xavier("uniform", mode, nonlinearity, slope, gain, bias)


def _zeros(bias: float = 0.0) -> init.Constant:
    return init.Constant(0.0, bias)


def _lsuv(tol: float = 0.05, max_iter: int = 10) -> init.Orthogonal:
    """LSUV starts from an orthogonal init; the data-dependent rescaling (`lsuv_`) needs a batch,
    so model builders apply it (trainwell.models.build_model with `example_batch`)."""
    return init.Orthogonal()


INITS = Registry("init")
INITS.add("kaiming", init.Kaiming, "MSRA: Var=2/((1+a²)·fan_in) for relu/leaky_relu (He et al. 2015)")
INITS.add("kaiming_uniform", _kaiming_uniform, "kaiming, uniform distribution")
INITS.add("xavier", init.Xavier, "Glorot: Var=2/(fan_in+fan_out) (Glorot & Bengio 2010)")
INITS.add("xavier_uniform", _xavier_uniform, "xavier, uniform distribution")
INITS.add("lecun", init.Lecun, "Var=1/fan_in, for selu (LeCun et al. 1998)")
INITS.add("normal", init.Normal, "small random N(0, std²), std=0.01 (lecture)")
INITS.add("uniform", init.Uniform, "U(-a, a)")
INITS.add("orthogonal", init.Orthogonal, "gain·orthogonal matrix (Saxe et al. 2014)")
INITS.add("constant", init.Constant, "all weights = value: breaks no symmetry (demonstration)")
INITS.add("zeros", _zeros, "all weights 0: breaks no symmetry (demonstration)")
INITS.add("lsuv", _lsuv, "orthogonal, then each layer rescaled to unit output variance on a data batch (Mishkin & Matas 2015)")
INITS.add("torch_default", init.TorchDefault, "PyTorch's default U(±1/√fan_in), drawn from the generator")

NORMS = Registry("norm")
NORMS.add("batch", norms.batch_norm, "BatchNorm: per channel over the batch (Ioffe & Szegedy 2015)")
NORMS.add("layer", norms.layer_norm, "LayerNorm over channels and spatial axes per example (Ba et al. 2016)")
NORMS.add("instance", norms.instance_norm, "InstanceNorm: per example and channel (Ulyanov et al. 2016)")
NORMS.add("group", norms.group_norm, "GroupNorm: per example over channel groups (Wu & He 2018)")
NORMS.add("none", norms.no_norm, "no normalization")

REGULARIZERS = Registry("regularizer")
REGULARIZERS.add("dropout", InvertedDropout, "inverted dropout: zero units w.p. p, divide by 1−p in training (Srivastava et al. 2014)")
REGULARIZERS.add("vanilla_dropout", VanillaDropout, "dropout that multiplies by the keep probability 1−p at test time")
REGULARIZERS.add("inverted_dropout", InvertedDropout, "dropout that divides by 1−p in training; identity at test time")
REGULARIZERS.add("spatial_dropout", SpatialDropout, "drop whole channels of conv feature maps (Tompson et al. 2015)")
REGULARIZERS.add("dropconnect", DropConnectLinear, "Linear layer that drops weights instead of units (Wan et al. 2013)")
REGULARIZERS.add("dropconnect_conv", DropConnectConv, "Conv layer that drops kernel weights (Wan et al. 2013)")
REGULARIZERS.add("dropblock", DropBlock, "drop contiguous blocks of feature maps, 1-D/2-D (Ghiasi et al. 2018)")
REGULARIZERS.add("drop_path", DropPath, "stochastic depth: drop a residual branch per example (Huang et al. 2016)")
REGULARIZERS.add("fractional_max", FractionalMaxPool2d, "max pooling by a random non-integer factor (Graham 2014)")
REGULARIZERS.add("label_smoothing", LabelSmoothingCrossEntropy, "cross entropy against (1−ε)·target + ε/C (Szegedy et al. 2016)")


def build_init(spec: Spec | init.InitScheme, nonlinearity: str | None = None) -> Callable[..., None]:
    """A scheme from a registry spec; `nonlinearity` fills that option where the scheme has one
    and the spec does not set it. An already-built scheme (any callable) is returned as is."""
    if callable(spec) and not isinstance(spec, (str, dict)):
        return spec
    name, kwargs = split_spec(spec)
    if nonlinearity is not None and "nonlinearity" not in kwargs:
        params = inspect.signature(INITS.get(name).constructor).parameters
        if "nonlinearity" in params:
            kwargs["nonlinearity"] = nonlinearity
    return INITS.build({"name": name, **kwargs})


def initialize(
    model: nn.Module,
    spec: Spec | init.InitScheme,
    generator: torch.Generator | None = None,
    nonlinearity: str | None = None,
) -> nn.Module:
    """Apply an init scheme to every Linear/Conv of `model`, in module order; returns `model`.

    Args:
        spec: a name from `INITS` ("kaiming"), a table {"name": "normal", "std": 0.05}, or a scheme.
        generator: the source of randomness (same seed → same weights).
        nonlinearity: the model's activation, used for the gain when the spec does not say.
    """
    scheme = build_init(spec, nonlinearity)
    for _, module in init.init_layers(model):
        scheme(module, generator=generator)
    return model


def build_norm(name: str, num_features: int, dims: int, **options: object) -> nn.Module:
    """Shortcut for `NORMS.build({"name": name, **options}, num_features=..., dims=...)`."""
    return NORMS.build({"name": name, **options}, num_features=num_features, dims=dims)
