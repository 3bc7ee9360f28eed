"""Model builders by name: `MODELS.build(spec, input_shape=..., num_classes=..., generator=...)`."""
from trainwell.models.convnet import convnet
from trainwell.models.mlp import mlp
from trainwell.models.resnet import resnet
from trainwell.registry import Registry

MODELS = Registry("model")
MODELS.add("mlp", mlp, "fully connected: Linear → norm → act → dropout per width, Linear head")
MODELS.add("convnet", convnet, "1-D/2-D ConvNet: Conv → norm → act → dropout → pool per layer, GAP or flatten head")
MODELS.add("resnet", resnet, "small ResNet (1-D/2-D): residual blocks with DropPath and zero-init residual branches")
