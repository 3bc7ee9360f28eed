import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.models import MODELS

PAPER_CNN = {"name": "convnet", "channels": [25, 25, 25], "kernel": [5, 3, 3], "stride": 2, "padding": 1,
             "norm": "none", "head": "flatten"}


def build(spec, shape=(1, 40), seed=0):
    return MODELS.build(spec, input_shape=shape, num_classes=10, generator=torch.Generator().manual_seed(seed))


def test_mnist1d_paper_cnn_has_the_paper_shapes():
    m = build(PAPER_CNN)
    # Conv1d 1→25 k5 s2, two Conv1d 25→25 k3 s2, Linear 125→10 (Greydanus 2020)
    assert m.head.in_features == 125
    expected = (25 * 5 + 25) + 2 * (25 * 25 * 3 + 25) + (125 * 10 + 10)
    assert sum(p.numel() for p in m.parameters()) == expected
    assert m(torch.randn(3, 1, 40)).shape == (3, 10)


def test_mlp_layers_and_flatten():
    m = build({"name": "mlp", "widths": [100, 100], "dropout": 0.5, "norm": "batch"})
    linears = [c for c in m if isinstance(c, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(40, 100), (100, 100), (100, 10)]
    from trainwell.nn.dropout import InvertedDropout

    drops = [c for c in m if isinstance(c, InvertedDropout)]
    assert len(drops) == 2 and all(d.p == 0.5 for d in drops)
    assert any(isinstance(c, nn.BatchNorm1d) for c in m)


def test_block_order_is_linear_norm_activation_dropout():
    m = build({"name": "convnet", "channels": [8], "norm": "batch", "dropout": 0.1})
    names = [n for n, _ in m.named_children()]
    assert names[:4] == ["conv1", "norm1", "act1", "drop1"]
    assert m.conv1.bias is None  # the norm's shift makes a conv bias redundant


def test_same_generator_seed_same_weights():
    a, b, c = build(PAPER_CNN, seed=1), build(PAPER_CNN, seed=1), build(PAPER_CNN, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_kaiming_init_scale_on_conv_fan_in():
    m = build({"name": "convnet", "channels": [256, 256], "kernel": 3, "norm": "none", "init": "kaiming"})
    w = m.conv2.weight
    fan_in = 256 * 3
    assert w.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.02)  # 196k samples: ~0.2% sd


def test_2d_convnet_with_pool_and_gap():
    m = build({"name": "convnet", "channels": [8, 16], "pool": "max"}, shape=(1, 8, 8))
    assert isinstance(m.conv1, nn.Conv2d) and isinstance(m.pool1, nn.MaxPool2d)
    assert m(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(
    "spec, needle",
    [
        ({"name": "convnet", "channels": [8], "kernal": 3}, 'did you mean "kernel"'),
        ({"name": "convnet", "channels": [8, 8], "kernel": [3]}, "model.kernel has 1 entries"),
        ({"name": "convnet", "channels": []}, "non-empty"),
        ({"name": "convnet", "head": "fc"}, "model.head"),
        ({"name": "resnett"}, "unknown model"),
    ],
)
def test_bad_specs_name_the_problem(spec, needle):
    with pytest.raises(UserError, match=needle):
        build(spec)


def test_convnet_refuses_flat_inputs():
    with pytest.raises(UserError, match="mlp"):
        build({"name": "convnet"}, shape=(40,))
