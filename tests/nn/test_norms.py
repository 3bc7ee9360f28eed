"""Norms against their definitions (float64) and PyTorch references (fold_batchnorm: test_fold_bn.py)."""
import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.norms import LayerNormNd
from trainwell.nn.registry import NORMS


def G(seed=0):
    return torch.Generator().manual_seed(seed)


def standardize(x, dims):
    mu = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + 1e-5)


SHAPES = {0: (8, 6), 1: (8, 6, 10), 2: (8, 6, 5, 4)}


NORM_CASES = [(n, d) for n in ["batch", "layer", "instance", "group", "none"] for d in (0, 1, 2)
              if (n, d) != ("instance", 0)]  # instance norm needs spatial axes (see test_norm_errors)


@pytest.mark.parametrize("name,dims", NORM_CASES)
def test_norm_matches_definition(name, dims):
    x = torch.randn(SHAPES[dims], generator=G(dims), dtype=torch.float64) * 3 + 2
    opts = {"groups": 3} if name == "group" else {}
    m = NORMS.build({"name": name, **opts}, num_features=6, dims=dims).double().train()
    spatial = list(range(2, x.dim()))
    if name == "batch":
        expected = standardize(x, [0, *spatial])
    elif name == "layer":
        expected = standardize(x, list(range(1, x.dim())))
    elif name == "instance":
        expected = standardize(x, spatial)
    elif name == "group":
        xg = x.reshape(8, 3, 2, *x.shape[2:])
        expected = standardize(xg, list(range(2, xg.dim()))).reshape(x.shape)
    else:
        expected = x
    torch.testing.assert_close(m(x), expected, rtol=1e-10, atol=1e-10)


def test_layer_norm_per_channel_affine_and_reference():
    m = LayerNormNd(6).double()
    with torch.no_grad():
        m.weight.copy_(torch.arange(1.0, 7.0))
        m.bias.copy_(torch.arange(6.0) / 10)
    x = torch.randn(4, 6, 3, 3, generator=G(1), dtype=torch.float64)
    ref = nn.functional.layer_norm(x, (6, 3, 3)) * m.weight.view(1, 6, 1, 1) + m.bias.view(1, 6, 1, 1)
    torch.testing.assert_close(m(x), ref)
    # on N×F it is nn.LayerNorm(F)
    x2 = torch.randn(4, 6, generator=G(2), dtype=torch.float64)
    ref2 = nn.LayerNorm(6).double()
    ref2.load_state_dict({"weight": m.weight, "bias": m.bias})
    torch.testing.assert_close(m(x2), ref2(x2))


def test_batch_norm_train_vs_eval_statistics():
    m = NORMS.build({"name": "batch", "momentum": 0.5}, num_features=3, dims=2).double()
    x = torch.randn(16, 3, 4, 4, generator=G(3), dtype=torch.float64) * 2 + 5
    m.train()(x)
    mu = x.mean(dim=(0, 2, 3))
    var_unbiased = x.var(dim=(0, 2, 3), unbiased=True)
    torch.testing.assert_close(m.running_mean, 0.5 * mu)
    torch.testing.assert_close(m.running_var, 0.5 * 1.0 + 0.5 * var_unbiased)
    y = m.eval()(x)
    torch.testing.assert_close(y, (x - m.running_mean.view(1, 3, 1, 1)) / torch.sqrt(m.running_var.view(1, 3, 1, 1) + 1e-5))


def test_norm_errors():
    with pytest.raises(UserError, match="divisor of num_features=6"):
        NORMS.build({"name": "group", "groups": 4}, num_features=6, dims=2)
    with pytest.raises(UserError, match="spatial axes"):
        NORMS.build("instance", num_features=6, dims=0)
    with pytest.raises(UserError, match="dims must be"):
        NORMS.build("batch", num_features=6, dims=5)
    with pytest.raises(UserError, match="positive integer"):
        NORMS.build("layer", num_features=None, dims=1)
    with pytest.raises(UserError, match="did you mean"):
        NORMS.build("batchnorm", num_features=6, dims=1)
    assert NORMS.build("group", num_features=48, dims=2).num_groups == 16  # gcd(48, 32)
