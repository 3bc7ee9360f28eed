"""Model builders from a spec (MLP, ConvNet 1-D/2-D) and transfer-learning helpers."""
from trainwell.models.convnet import convnet
from trainwell.models.mlp import mlp
from trainwell.models.registry import MODELS

__all__ = ["MODELS", "convnet", "mlp"]
