"""param_groups: no decay on biases and normalization parameters; lr_scales prefix matching."""
import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.optim import classify_parameters, param_groups


class MyNorm(nn.Module):
    """A custom normalization layer with a 2-D parameter: excluded by `is_normalization`."""

    is_normalization = True

    def __init__(self):
        super().__init__()
        self.mix = nn.Parameter(torch.ones(3, 3))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.PReLU(3), nn.Conv1d(3, 3, 1),
            nn.GroupNorm(1, 3), nn.InstanceNorm1d(3, affine=True),
        )
        self.layer1 = nn.Linear(3, 3)
        self.layer10 = nn.Linear(3, 3)
        self.norm = nn.LayerNorm(3)
        self.custom = MyNorm()
        self.temperature = nn.Parameter(torch.tensor(1.0))  # 0-dim
        self.head = nn.Linear(3, 2)


def decay_of(groups):
    return {name: g["weight_decay"] for g in groups for name in g["param_names"]}


def scale_of(groups):
    return {name: g["lr_scale"] for g in groups for name in g["param_names"]}


def test_bias_and_norm_parameters_get_no_decay():
    groups = param_groups(Net(), 0.01)
    decayed = {name for name, wd in decay_of(groups).items() if wd == 0.01}
    assert decayed == {"features.0.weight", "features.3.weight", "layer1.weight", "layer10.weight", "head.weight"}
    no_decay = {name for name, wd in decay_of(groups).items() if wd == 0.0}
    assert no_decay == {
        "features.0.bias", "features.1.weight", "features.1.bias", "features.2.weight",
        "features.3.bias", "features.4.weight", "features.4.bias", "features.5.weight", "features.5.bias",
        "layer1.bias", "layer10.bias", "norm.weight", "norm.bias", "custom.mix", "temperature", "head.bias",
    }
    # groups in order of first appearance; a module's own parameters (temperature) come first
    assert [g["name"] for g in groups] == ["no_decay", "decay"]


def test_groups_partition_the_trainable_parameters_and_carry_keys():
    model = Net()
    model.layer1.weight.requires_grad_(False)
    groups = param_groups(model, 1e-4)
    ids = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(ids) == sorted(trainable) and len(ids) == len(set(ids))
    assert "layer1.weight" not in decay_of(groups)
    for g in groups:
        assert isinstance(g["lr_scale"], float) and isinstance(g["name"], str)
        assert len(g["params"]) == len(g["param_names"])
    # the rule used by param_groups is the one classify_parameters exposes
    assert {n for n, _, d in classify_parameters(model) if d} == {
        n for n, wd in decay_of(groups).items() if wd > 0
    }


def test_lr_scales_longest_prefix_wins_and_respects_dots():
    groups = param_groups(Net(), 0.1, lr_scales={"features": 0.1, "features.0": 0.5, "layer1": 2.0, "head": 10})
    scales = scale_of(groups)
    assert scales["features.0.weight"] == scales["features.0.bias"] == 0.5
    assert scales["features.3.weight"] == scales["features.1.bias"] == 0.1
    assert scales["layer1.weight"] == 2.0
    assert scales["layer10.weight"] == 1.0  # "layer1" is not a prefix of "layer10.weight"
    assert scales["head.weight"] == scales["head.bias"] == 10.0
    assert scales["norm.weight"] == 1.0
    names = [g["name"] for g in groups]
    assert names == [
        "no_decay", "features.0/decay", "features.0/no_decay", "features/no_decay", "features/decay",
        "layer1/decay", "layer1/no_decay", "decay", "head/decay", "head/no_decay",
    ]
    assert decay_of(groups)["head.weight"] == 0.1 and decay_of(groups)["head.bias"] == 0.0


def test_empty_prefix_is_a_default_scale():
    scales = scale_of(param_groups(Net(), 0.0, lr_scales={"": 0.1, "head": 1.0}))
    assert scales["head.weight"] == 1.0 and scales["layer1.weight"] == 0.1


def test_tied_parameters_appear_once():
    emb = nn.Embedding(5, 4)
    out = nn.Linear(4, 5, bias=False)
    out.weight = emb.weight
    model = nn.ModuleDict({"emb": emb, "out": out})
    groups = param_groups(model, 0.1)
    assert [g["param_names"] for g in groups] == [["emb.weight"]]


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"weight_decay": -0.1}, ["weight_decay", "-0.1"]),
        ({"weight_decay": float("nan")}, ["weight_decay"]),
        ({"weight_decay": 0.1, "lr_scales": {"haed": 0.1}}, ["'haed'", 'did you mean "head"']),
        ({"weight_decay": 0.1, "lr_scales": {"head": -1.0}}, ["lr_scales['head']"]),
    ],
)
def test_bad_input_raises_user_error(kwargs, words):
    with pytest.raises(UserError) as err:
        param_groups(Net(), **kwargs)
    for word in words:
        assert word in str(err.value)


def test_model_without_trainable_parameters_refused():
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(UserError, match="no trainable parameters"):
        param_groups(model, 0.0)
    with pytest.raises(UserError, match="torch.nn.Module"):
        param_groups([torch.zeros(2)], 0.0)
