"""`trainwell search` end to end on a tiny recipe: best.toml, trials.jsonl, search.html, errors."""
from __future__ import annotations

import argparse
import copy
import json

import pytest

from trainwell.commands import search
from trainwell.config import load_recipe
from trainwell.errors import UserError
from trainwell.toml_text import write_toml


def _run(argv):
    p = argparse.ArgumentParser()
    search.add_args(p)
    return search.run(p.parse_args(argv))


def test_search_writes_a_trainable_best_recipe_and_compares_random_with_grid(tiny_raw, tmp_path):
    recipe_path = write_toml(tmp_path / "tiny.toml", tiny_raw)
    out = tmp_path / "search"
    assert _run(["--recipe", str(recipe_path), "--out", str(out), "--steps", "20", "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["state"] == "COMPLETE" and r["engine"].startswith("vectorized") for r in records)
    best = max(records, key=lambda r: (r["value"], -r["number"]))
    recipe = load_recipe(out / "best.toml")
    assert recipe.optim.lr == best["params"]["optim.lr"] and recipe.train.steps == 20 and recipe.search is None
    assert recipe.name == "tiny-best" and recipe.train.checkpoint is True
    summary = json.loads((out / "search.json").read_text())
    assert summary["best"]["value"] == best["value"] and summary["complete"] == 4
    assert "Random vs grid" not in (out / "search.html").read_text()
    # a grid search with the same budget in the same storage: the report compares the two
    assert _run(["--recipe", str(recipe_path), "--out", str(out), "--steps", "20", "--quiet", "--strategy", "grid",
                 "--study-name", "grid", "--vectorize", "off"]) == 0
    html = (out / "search.html").read_text()
    assert "Random vs grid" in html and (out / "search_compare.png").exists()


def test_vectorize_on_refuses_batchnorm(tiny_raw, tmp_path):
    raw = copy.deepcopy(tiny_raw)
    raw["model"]["norm"] = "batch"
    path = write_toml(tmp_path / "bn.toml", raw)
    with pytest.raises(UserError, match="BatchNorm"):
        _run(["--recipe", str(path), "--out", str(tmp_path / "s"), "--vectorize", "on", "--quiet"])


def test_coarse_to_fine_best_comes_from_the_last_stage_with_its_budget(tiny_raw, tmp_path):
    """Trials are compared only at equal budget: best.toml is the best stage-2 trial, with stage 2's
    steps — never a short stage-1 trial (the old search could write steps=10 here)."""
    recipe_path = write_toml(tmp_path / "tiny.toml", tiny_raw)
    out = tmp_path / "c2f"
    assert _run(["--recipe", str(recipe_path), "--out", str(out), "--stages", "6x10,2x40", "--top-k", "2", "--quiet",
                 "--no-report"]) == 0
    records = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert sorted({r["stage"] for r in records}) == [1, 2] and len(records) == 8
    stage2 = [r for r in records if r["stage"] == 2]
    best = max(stage2, key=lambda r: (r["value"], -r["number"]))
    recipe = load_recipe(out / "best.toml")
    assert recipe.train.steps == 40 and recipe.optim.lr == best["params"]["optim.lr"]
    summary = json.loads((out / "search.json").read_text())
    assert summary["best"]["stage"] == 2 and summary["best_from_stage"] == 2
    assert [s["steps"] for s in summary["stages"]] == [10, 40]


def test_val_loss_objective_minimizes_the_final_validation_loss(tiny_raw, tmp_path):
    recipe_path = write_toml(tmp_path / "tiny.toml", tiny_raw)
    out = tmp_path / "vl"
    assert _run(["--recipe", str(recipe_path), "--out", str(out), "--steps", "20", "--objective", "val_loss",
                 "--sampler", "tpe", "--quiet", "--no-report"]) == 0
    records = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert all(r["value"] == pytest.approx(r["val_loss"]) for r in records)
    summary = json.loads((out / "search.json").read_text())
    assert summary["direction"] == "minimize" and summary["best"]["value"] == min(r["value"] for r in records)
    assert summary["sampler"] == "tpe"


def test_pruner_from_the_command_line_reports_compute_saved(tiny_raw, tmp_path):
    raw = copy.deepcopy(tiny_raw)
    raw["train"]["eval_every"] = 10
    recipe_path = write_toml(tmp_path / "tiny.toml", raw)
    out = tmp_path / "pr"
    assert _run(["--recipe", str(recipe_path), "--out", str(out), "--steps", "60", "--trials", "10", "--pruner", "median",
                 "--search-seed", "1", "--quiet"]) == 0
    summary = json.loads((out / "search.json").read_text())
    c = summary["compute"]
    assert summary["pruner"] == "median" and summary["pruned"] == c["pruned"] >= 1
    assert c["steps_budgeted"] == 600 and c["steps_run"] < 600 and c["saved"] == pytest.approx(1 - c["steps_run"] / 600)
    assert "Compute saved by pruning" in (out / "search.html").read_text()


@pytest.mark.parametrize("model, printed, engine", [
    ({"name": "mlp", "widths": [16]}, "trials vectorized: K = 2", "vectorized"),
    ({"name": "convnet", "channels": [4], "kernel": 3, "pool": ["max"], "norm": "none"},
     "vectorizing is not faster here", "trainer"),
])
def test_vectorize_auto_follows_choose_engine_and_prints_why(model, printed, engine, tmp_path, capsys):
    """--vectorize auto asks `choose_engine` (CPU: an MLP vectorizes, a ConvNet trains one by one)."""
    raw = {"name": "pick", "seed": 0, "data": {"name": "mnist1d", "preprocess": ["standardize"], "train_subset": 200},
           "model": model, "optim": {"name": "adam", "lr": 1e-2}, "train": {"steps": 4, "batch_size": 32, "device": "cpu"},
           "search": {"strategy": "random", "trials": 2, "steps": 4,
                      "space": {"optim.lr": {"dist": "loguniform", "low": 1e-3, "high": 1e-1}}}}
    out = tmp_path / "s"
    assert _run(["--recipe", str(write_toml(tmp_path / "pick.toml", raw)), "--out", str(out), "--quiet", "--no-report"]) == 0
    assert printed in " ".join(capsys.readouterr().err.split())
    records = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["engine"].startswith(engine) for r in records)
