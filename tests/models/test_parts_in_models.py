import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.models import MODELS, build_model
from trainwell.nn.drop_path import ResidualBlock
from trainwell.nn.dropblock import DropBlock
from trainwell.nn.dropconnect import DropConnectLinear
from trainwell.nn.maxout import MaxoutConv


def build(spec, shape=(1, 40), seed=0, batch=None):
    return build_model(spec, shape, 10, torch.Generator().manual_seed(seed), batch)


def test_resnet_blocks_start_as_identity_with_zero_init_residual():
    m = build({"name": "resnet", "channels": [8, 16], "blocks": 2})
    blocks = [mod for mod in m.modules() if isinstance(mod, ResidualBlock)]
    assert len(blocks) == 4
    m.eval()
    x = torch.randn(5, 8, 40)
    same_width = blocks[1]  # second block of stage 1: identity shortcut
    assert torch.equal(same_width(x), x)  # branch output is exactly zero at init (γ = 0)


def test_resnet_drop_path_follows_the_linear_rule():
    m = build({"name": "resnet", "channels": [8, 8], "blocks": 2, "drop_path": 0.2})
    rates = [b.drop_rate for b in m.modules() if isinstance(b, ResidualBlock)]
    assert rates == pytest.approx([0.05, 0.1, 0.15, 0.2])


def test_resnet_downsamples_and_classifies_2d():
    m = build({"name": "resnet", "channels": [8, 16, 32], "blocks": [1, 1, 1]}, shape=(3, 16, 16))
    assert m(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_layer_and_dropout_kinds_resolve():
    m = build({"name": "convnet", "channels": [8, 8], "layer": {"name": "maxout", "k": 3},
               "dropout": {"name": "dropblock", "block_size": 3, "rate": 0.1}})
    assert isinstance(m.conv1, MaxoutConv) and isinstance(m.drop1, DropBlock)
    m = build({"name": "mlp", "widths": [16], "layer": {"name": "dropconnect", "p": 0.3}})
    assert isinstance(m.fc1, DropConnectLinear) and m.fc1.p == 0.3


@pytest.mark.parametrize(
    "spec, needle",
    [
        ({"name": "mlp", "dropout": {"name": "dropblock"}}, "dropblock needs conv"),
        ({"name": "mlp", "layer": {"name": "maxout", "kk": 2}}, "no option 'kk'"),
        ({"name": "convnet", "pool": "fractional_max"}, "2-D only"),
        ({"name": "mlp", "dropout": {"name": "relu"}}, "not a dropout-like"),
    ],
)
def test_bad_part_placement_is_explained(spec, needle):
    with pytest.raises(UserError, match=needle):
        build(spec)


def test_lsuv_from_a_recipe_gives_unit_variance_layers():
    torch.manual_seed(0)
    x = torch.randn(512, 1, 40)
    m = build({"name": "mlp", "widths": [64, 64, 64], "init": {"name": "lsuv", "tol": 0.05}}, batch=x)
    outs = []
    hooks = [mod.register_forward_hook(lambda _m, _i, o: outs.append(o.var().item()))
             for mod in m.modules() if isinstance(mod, nn.Linear)]
    with torch.no_grad():
        m.eval()(x)
    for h in hooks:
        h.remove()
    assert all(abs(v - 1.0) <= 0.05 for v in outs[:-1])  # every hidden layer; tolerance = LSUV's tol
    with pytest.raises(UserError, match="batch"):
        build({"name": "mlp", "init": "lsuv"})


def test_models_registry_lists_three_builders():
    assert MODELS.names() == ["mlp", "convnet", "resnet"]
