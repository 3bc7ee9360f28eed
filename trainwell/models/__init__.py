"""Model builders from a spec (MLP, ConvNet 1-D/2-D) and transfer-learning helpers."""
from trainwell.models.build import build_model
from trainwell.models.convnet import convnet
from trainwell.models.mlp import mlp
from trainwell.models.registry import MODELS

from trainwell.models.resnet import resnet

__all__ = ["MODELS", "build_model", "convnet", "mlp", "resnet"]
