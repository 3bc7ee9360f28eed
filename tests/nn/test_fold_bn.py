"""fold_batchnorm: folded vs unfolded outputs (random and real data), what is and is not folded.

Criterion of the issue: in eval mode the folded model's outputs equal the unfolded ones within
1e-5 relative, ‖f(x) − g(x)‖ / ‖g(x)‖ < 1e-5 (also checked per element against max |g(x)|).
BatchNorm statistics come from real batches (only the BatchNorms in training mode, momentum None
= exact average) and γ, β are random, so no BatchNorm is an identity in disguise.
"""
from pathlib import Path

import pytest
import torch
from torch import nn

from trainwell.config import load_recipe
from trainwell.data import load_data
from trainwell.errors import UserError
from trainwell.models import MODELS, build_model
from trainwell.nn.dropconnect import DropConnectConv
from trainwell.nn.fold_bn import count_batchnorms, fold_batchnorm
from trainwell.nn.maxout import MaxoutConv

RECIPES = Path(__file__).resolve().parents[2] / "trainwell" / "recipes"
BNS = nn.modules.batchnorm._BatchNorm


def G(seed=0):
    return torch.Generator().manual_seed(seed)


def assert_same_outputs(model, folded, x):
    with torch.no_grad():
        ref, out = model(x), folded(x)
    rel = ((out - ref).norm() / ref.norm()).item()
    assert rel < 1e-5, f"relative error {rel:.2e}"
    worst = ((out - ref).abs().max() / ref.abs().max()).item()
    assert worst < 1e-5, f"largest element error {worst:.2e} of max |output|"


def randomize_bn(model, seed, stats=True):
    """Random γ, β (and running statistics unless stats=False) for every BatchNorm."""
    g = G(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BNS):
                c = m.num_features
                if stats:
                    m.running_mean.copy_(torch.randn(c, generator=g))
                    m.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.1)
                if m.affine:
                    m.weight.copy_(torch.randn(c, generator=g))
                    m.bias.copy_(torch.randn(c, generator=g))
    return model


def bn_stats_from(model, x):
    """Running statistics = exact mean/variance over `x` (BatchNorms alone in training mode)."""
    model.eval()
    for m in model.modules():
        if isinstance(m, BNS):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
            m.train()
    with torch.no_grad():
        for batch in x.split(128):
            model(batch)
    return model.eval()


@pytest.fixture(scope="module")
def mnist1d():
    x = load_data("mnist1d", val_fraction=0.0).x_train[:512]
    return (x - x.mean()) / x.std()


@pytest.fixture(scope="module")
def digits():
    x = load_data("digits").x_train[:512]
    return (x - x.mean()) / x.std()


# ---- random data, hand-made models ------------------------------------------------------------

MODELS_BY_KIND = {
    "conv2d": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                     nn.Conv2d(8, 8, 3, groups=2, bias=False), nn.BatchNorm2d(8)), (4, 3, 10, 10)),
    "conv1d": (lambda: nn.Sequential(nn.Conv1d(2, 5, 5), nn.BatchNorm1d(5, affine=False), nn.Tanh(),
                                     nn.Conv1d(5, 4, 3, bias=False), nn.BatchNorm1d(4)), (4, 2, 30)),
    "linear": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.BatchNorm1d(7), nn.ReLU(),
                                     nn.Sequential(nn.Linear(7, 3, bias=False), nn.BatchNorm1d(3, eps=1e-3))), (6, 3, 4)),
}


@pytest.mark.parametrize("kind", list(MODELS_BY_KIND))
def test_fold_batchnorm_agrees_with_unfolded(kind):
    make, shape = MODELS_BY_KIND[kind]
    torch.manual_seed(0)  # only for nn's own default init of these throwaway test models
    model = randomize_bn(make(), 1).eval()
    folded = fold_batchnorm(model)
    assert count_batchnorms(model) == 2 and count_batchnorms(folded) == 0
    assert_same_outputs(model, folded, torch.randn(shape, generator=G(2)))
    assert not folded.training
    assert count_batchnorms(model) == 2  # the original is untouched


def test_fold_batchnorm_refuses_training_mode_and_skips_non_pairs():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    with pytest.raises(UserError, match=r"call model.eval\(\) first"):
        fold_batchnorm(model)
    # BN not after a layer, and BN without running stats, are left alone
    other = nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 3), nn.BatchNorm1d(3, track_running_stats=False)).eval()
    assert count_batchnorms(fold_batchnorm(other)) == 2


# ---- trainwell's own models on real data --------------------------------------------------------

@pytest.mark.parametrize("recipe, n_bn", [("default", 5), ("resnet_mnist1d", 15)])
def test_recipe_models_fold_every_batchnorm_on_mnist1d(recipe, n_bn, mnist1d):
    spec = load_recipe(RECIPES / f"{recipe}.toml").model
    model = build_model(spec, (1, 40), 10, G(0))
    bn_stats_from(randomize_bn(model, 3, stats=False), mnist1d[:384])
    folded = fold_batchnorm(model)
    assert count_batchnorms(model) == n_bn and count_batchnorms(folded) == 0
    assert_same_outputs(model, folded, mnist1d[384:])  # real held-out examples
    assert_same_outputs(model, folded, torch.randn(64, 1, 40, generator=G(4)))


@pytest.mark.parametrize("spec, n_bn", [
    ({"name": "convnet", "channels": [8, 16], "pool": ["max", "none"], "norm": "batch"}, 2),
    ({"name": "convnet", "channels": [8, 16], "norm": "batch", "layer": {"name": "dropconnect", "p": 0.3}}, 2),
    ({"name": "mlp", "widths": [32, 16], "norm": "batch", "layer": {"name": "dropconnect", "p": 0.2}}, 2),
    ({"name": "resnet", "channels": [8, 16], "blocks": 1}, 6),
])
def test_builder_models_fold_every_batchnorm_on_digits(spec, n_bn, digits):
    model = MODELS.build(spec, input_shape=(1, 8, 8), num_classes=10, generator=G(5))
    bn_stats_from(randomize_bn(model, 6, stats=False), digits[:384])
    folded = fold_batchnorm(model)
    assert count_batchnorms(model) == n_bn and count_batchnorms(folded) == 0
    assert_same_outputs(model, folded, digits[384:])
    if spec.get("layer", {}).get("name") == "dropconnect" and spec["name"] == "convnet":
        conv = folded.conv1
        assert isinstance(conv, DropConnectConv) and conv.conv.bias is not None  # folded into its conv


def mobilenet_block(c_in, c_out, stride):
    """Depthwise 3×3 → BN → ReLU, pointwise 1×1 → BN → ReLU (Howard et al. 2017)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


def test_depthwise_separable_convnet_on_digits_and_channels_last(digits):
    torch.manual_seed(0)  # nn's default init of this throwaway model
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                          mobilenet_block(8, 16, 1), mobilenet_block(16, 32, 2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    bn_stats_from(randomize_bn(model, 7, stats=False), digits[:384])
    folded = fold_batchnorm(model)
    assert count_batchnorms(model) == 5 and count_batchnorms(folded) == 0
    assert_same_outputs(model, folded, digits[384:])
    # the memory format is kept: a channels_last model folds into a channels_last model
    cl = model.to(memory_format=torch.channels_last)
    folded_cl = fold_batchnorm(cl)
    assert folded_cl[3][0].weight.is_contiguous(memory_format=torch.channels_last)
    assert_same_outputs(model, folded_cl, digits[384:].contiguous(memory_format=torch.channels_last))


# ---- what is deliberately not folded -----------------------------------------------------------

class SkipFirst(nn.Sequential):
    """A Sequential whose forward feeds its input to every child and sums: BN(x), not BN(conv(x))."""

    def forward(self, x):
        return sum(child(x) for child in self)


def test_sequential_with_own_forward_shared_layers_and_maxout_are_not_folded():
    torch.manual_seed(0)
    custom = randomize_bn(nn.Sequential(SkipFirst(nn.Conv1d(3, 3, 1), nn.BatchNorm1d(3))), 8).eval()
    folded = fold_batchnorm(custom)
    assert count_batchnorms(folded) == 1
    assert_same_outputs(custom, folded, torch.randn(4, 3, 10, generator=G(9)))

    shared = nn.Linear(4, 4)
    twice = randomize_bn(nn.Sequential(shared, nn.BatchNorm1d(4), nn.ReLU(), shared), 10).eval()
    folded = fold_batchnorm(twice)
    assert count_batchnorms(folded) == 1  # folding would also rescale the second use
    assert_same_outputs(twice, folded, torch.randn(5, 4, generator=G(11)))

    maxout = randomize_bn(nn.Sequential(MaxoutConv(1, 2, 4, 3, k=2), nn.BatchNorm1d(4)), 12).eval()
    assert count_batchnorms(fold_batchnorm(maxout)) == 1  # max does not commute with a negative γ/σ
