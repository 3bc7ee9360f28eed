"""`trainwell ensemble`: writes one ensemble file whose predictions match the printed scores."""
import argparse
import json

import pytest
import torch

from trainwell.commands import ensemble as cmd
from trainwell.config import recipe_from_dict
from trainwell.ensemble.ensemble import Ensemble
from trainwell.assemble import prepare_data

TOML = """
name = "tiny"
[data]
name = "mnist1d"
preprocess = ["standardize"]
train_subset = 300
[model]
name = "mlp"
widths = [16]
[optim]
name = "adam"
lr = 3e-3
[schedule]
name = "cosine_restarts"
cycles = 2
[train]
steps = 10
batch_size = 32
checkpoint = false
"""


def _args(tmp_path, *extra):
    p = argparse.ArgumentParser()
    cmd.add_args(p)
    recipe = tmp_path / "r.toml"
    recipe.write_text(TOML)
    return p.parse_args(["--recipe", str(recipe), "--quiet", "--out", str(tmp_path / "out"), *extra])


@pytest.mark.parametrize("method", ["independent", "snapshot"])
def test_ensemble_command_writes_a_loadable_artifact(tmp_path, method):
    assert cmd.run(_args(tmp_path, "--method", method, "--members", "2", "--tta", "flip")) == 0
    out = tmp_path / "out"
    record = json.loads((out / "result.json").read_text())
    assert (out / "report.html").exists()
    ens = Ensemble.load(out / "ensemble.pt")
    assert len(ens) == 2  # 2 members, or 2 cycles
    data, _ = prepare_data(recipe_from_dict(ens.config), torch.device("cpu"))
    acc = (ens.predict(data.x_test) == data.y_test).float().mean().item()
    assert acc == pytest.approx(record["scores"]["ensemble"])
    assert "tta" in record["scores"]


def test_swa_command_reports_raw_and_averaged(tmp_path):
    assert cmd.run(_args(tmp_path, "--method", "swa", "--swa-start", "0.5")) == 0
    r = json.loads((tmp_path / "out" / "result.json").read_text())
    assert set(r["raw"]) == {"test_accuracy"} and 0.0 <= r["averaged"]["test_accuracy"] <= 1.0
