"""`trainwell finetune`: from a run directory to a new head, frozen then fine-tuned."""
import argparse
import json

import pytest
import torch

from trainwell.commands import finetune as cmd
from trainwell.config import recipe_from_dict
from trainwell.transfer.finetune import load_pretrained
from trainwell.errors import UserError
from trainwell.assemble import train_recipe as run_recipe

SOURCE = {"name": "src", "data": {"name": "mnist1d", "preprocess": ["standardize"], "train_subset": 300},
          "model": {"name": "convnet", "channels": [4, 4], "norm": "batch"}, "optim": {"name": "adam", "lr": 3e-3},
          "train": {"steps": 4, "batch_size": 32, "checkpoint": False}}


def test_finetune_from_a_run(tmp_path):
    run_recipe(recipe_from_dict(SOURCE), tmp_path / "src", progress=False)
    target = tmp_path / "t.toml"
    target.write_text('name = "tgt"\n[data]\nname = "mnist1d"\ntrain_subset = 100\n'
                      '[optim]\nname = "adam"\nlr = 1e-2\n[train]\nsteps = 3\nbatch_size = 20\n')
    p = argparse.ArgumentParser()
    cmd.add_args(p)
    args = p.parse_args(["--from", str(tmp_path / "src"), "--recipe", str(target), "--finetune-steps", "2",
                         "--unfreeze", "2", "--quiet", "--out", str(tmp_path / "ft")])
    assert cmd.run(args) == 0
    s = json.loads((tmp_path / "ft" / "summary.json").read_text())
    assert [ph["phase"] for ph in s["phases"]] == ["head", "finetune"]
    assert s["phases"][1]["trainable"] == ["norm2", "head"] and s["phases"][1]["lr"] == pytest.approx(1e-3)
    assert s["phases"][1]["accuracy"] == pytest.approx(s["test_accuracy"])
    back = load_pretrained(tmp_path / "ft")  # the fine-tuned run loads like any run
    assert back.model.head.weight.shape == (10, 4)
    src = load_pretrained(tmp_path / "src").model
    assert torch.equal(back.model.conv1.weight, src.conv1.weight)  # below the unfrozen top 2: untouched
    bad = p.parse_args(["--from", str(tmp_path / "src"), "--recipe", str(target), "--unfreeze", "x", "--quiet",
                        "--out", str(tmp_path / "ft2")])
    with pytest.raises(UserError, match="--unfreeze"):
        cmd.run(bad)
