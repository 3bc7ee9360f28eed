"""Transfer learning: head surgery, freezing, frozen BN, discriminative LRs, safe loading."""
import pytest
import torch
from torch import nn

from trainwell.config import recipe_from_dict
from trainwell.data import DataBundle
from trainwell.assemble import RunData, phase
from trainwell.transfer.finetune import FinetunePlan, finetune, load_into, load_pretrained
from trainwell.errors import UserError
from trainwell.models import MODELS
from trainwell.models.transfer import (
    discriminative_lr_scales,
    find_head,
    freeze_all_but,
    layers,
    replace_head,
    top_layers,
)
from trainwell.train.checkpoint import save_checkpoint

CONV = {"name": "convnet", "channels": [4, 6], "kernel": 3, "norm": "batch", "head": "gap"}


def _conv(num_classes=5, seed=0):
    return MODELS.build(CONV, input_shape=(1, 16), num_classes=num_classes, generator=torch.Generator().manual_seed(seed))


def _bundle(n=48, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, 1, 16, generator=g) + y[:, None, None].float()
    return DataBundle("toy", x, y, x[:8], y[:8], x[:16], y[:16], classes)


RECIPE = recipe_from_dict({"optim": {"name": "adam", "lr": 1e-2}, "train": {"batch_size": 16, "log_every": 5}})


def test_find_head_prefers_head_name_else_last_linear():
    assert find_head(_conv())[0] == "head"

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 8)
            self.out = nn.Linear(8, 2)

    assert find_head(Custom())[0] == "out"
    with pytest.raises(UserError, match="no nn.Linear"):
        find_head(nn.Conv1d(1, 1, 1))


def test_replace_head_reinitializes_for_new_classes_and_is_seeded():
    a, b = _conv(), _conv()
    old = a.head.weight.clone()
    replace_head(a, 3, torch.Generator().manual_seed(5))
    replace_head(b, 3, torch.Generator().manual_seed(5))
    assert a.head.weight.shape == (3, 6) and not torch.equal(a.head.weight[:3], old[:3])
    assert torch.equal(a.head.weight, b.head.weight)
    assert a(torch.randn(2, 1, 16)).shape == (2, 3)


def test_layers_top_layers_and_discriminative_scales():
    m = _conv()
    assert layers(m) == ["conv1", "norm1", "conv2", "norm2", "head"]
    assert top_layers(m, 2) == ["norm2", "head"]
    assert discriminative_lr_scales(m, 0.5) == {"head": 1.0, "norm2": 0.5, "conv2": 0.25, "norm1": 0.125, "conv1": 0.0625}
    freeze_all_but(m, ["conv2", "norm2", "head"])
    assert discriminative_lr_scales(m, 0.5) == {"head": 1.0, "norm2": 0.5, "conv2": 0.25}
    with pytest.raises(UserError, match="no parameter is under 'conv9'"):
        freeze_all_but(m, ["conv9"])


def test_head_phase_leaves_backbone_bit_identical_and_changes_head():
    model = _conv(num_classes=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = _bundle()
    finetune(model, RECIPE, data, FinetunePlan(head_steps=6, freeze_bn=True))
    after = model.state_dict()
    for k, v in before.items():
        if not k.startswith("head."):
            assert torch.equal(after[k], v), k  # weights AND BatchNorm running statistics
    assert after["head.weight"].shape == (3, 6)
    fresh = _conv(num_classes=5)
    replace_head(fresh, 3, torch.Generator().manual_seed(RECIPE.seed + 7))
    assert not torch.equal(after["head.weight"], fresh.head.weight)  # it trained


def test_frozen_bn_keeps_running_stats_while_backbone_trains():
    data = _bundle()
    plan = FinetunePlan(head_steps=0, finetune_steps=5, freeze_bn=True)
    model = _conv(num_classes=3)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    conv = model.conv1.weight.clone()
    finetune(model, RECIPE, data, plan)
    assert not torch.equal(model.conv1.weight, conv)
    for k, v in stats.items():
        assert torch.equal(model.state_dict()[k], v), k
    # without freezing, the same run moves them (so the test above can fail)
    model = _conv(num_classes=3)
    finetune(model, RECIPE, data, FinetunePlan(head_steps=0, finetune_steps=5, freeze_bn=False))
    assert not torch.equal(model.norm1.running_mean, stats["norm1.running_mean"])


def test_finetune_phase_lr_and_discriminative_groups():
    model = _conv(num_classes=3)
    freeze_all_but(model, ["conv2", "norm2", "head"])
    scales = discriminative_lr_scales(model, 0.1)
    trainer = phase(model, RECIPE, RunData.of_bundle(_bundle()), trainable=["conv2", "norm2", "head"], steps=3, lr=1e-3,
                    seed=0, lr_scales=scales, device=torch.device("cpu"))
    lrs = {g["name"].split("/")[0]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs == pytest.approx({"head": 1e-3, "norm2": 1e-4, "conv2": 1e-5})
    names = [n for g in trainer.optimizer.param_groups for n in g["param_names"]]
    assert not any(n.startswith(("conv1", "norm1")) for n in names)  # frozen: not in the optimizer


def test_incompatible_checkpoint_lists_the_tensors(tmp_path):
    small = MODELS.build({"name": "mlp", "widths": [8]}, input_shape=(1, 16), num_classes=3)
    save_checkpoint(tmp_path / "final.pt", {"model": small.state_dict(), "config": {"model": {"name": "mlp", "widths": [8]}},
                                            "input_shape": [1, 16], "num_classes": 3})
    big = MODELS.build({"name": "mlp", "widths": [16, 4]}, input_shape=(1, 16), num_classes=3)
    with pytest.raises(UserError) as err:
        load_into(big, tmp_path)
    msg = str(err.value)
    assert "fc1.weight: model (16, 16) vs" in msg and "(8, 16)" in msg
    assert "missing in" in msg and "fc2.weight" in msg
    loaded = load_pretrained(tmp_path)  # its own config rebuilds the right architecture
    assert torch.equal(loaded.model.fc1.weight, small.fc1.weight) and loaded.num_classes == 3


def test_load_pretrained_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such run directory"):
        load_pretrained(tmp_path / "nope.pt")
    with pytest.raises(UserError, match="without final.pt"):
        load_pretrained(tmp_path)
