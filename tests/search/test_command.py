"""`trainwell search` end to end on a tiny recipe: best.toml, trials.jsonl, search.html, errors."""
from __future__ import annotations

import argparse
import copy
import json

import pytest

from trainwell.commands import search
from trainwell.config import load_recipe
from trainwell.errors import UserError
from trainwell.search.toml_out import write_toml


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
