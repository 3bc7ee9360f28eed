"""Every experiment of the registry runs end to end on the "smoke" budget and returns a well-formed
result (claim, source, a table whose rows fit its columns, a verdict with its criterion, plot
panels) that survives JSON and draws a PNG. The smoke budget is seconds per experiment: its
verdicts mean nothing, so only the form is checked here (the README's numbers come from full runs).

The search engineer's two experiments (random-vs-grid, coarse-to-fine) are tested in tests/search.
"""
import json

import pytest

from trainwell.experiments.figures import KINDS
from trainwell.experiments.registry import CLAIMS, run_claim
from trainwell.report.experiment_plots import plot_experiment

OWN = [name for name, claim in CLAIMS.items() if claim.style == "budget"]


@pytest.mark.slow
@pytest.mark.parametrize("name", OWN)
def test_smoke_run_is_well_formed(name, tmp_path):
    result = run_claim(name, "smoke", out_dir=tmp_path)
    assert result.name == name and result.budget == "smoke"
    assert result.claim and result.source == CLAIMS[name].source
    assert result.verdict and result.tolerance and result.setting
    assert result.passed in (True, False, None)
    assert result.columns and result.rows
    assert all(len(row) == len(result.columns) for row in result.rows), "every row fits the columns"
    assert result.plots and all(p["kind"] in KINDS for p in result.plots)
    for panel in result.plots:
        if panel["kind"] == "lines":
            assert panel["series"] and all(len(s["x"]) == len(s["y"]) for s in panel["series"])
    text = json.dumps(result.to_dict(), default=str)
    again = json.loads(text)
    assert again["name"] == name and again["rows"] == json.loads(json.dumps(result.rows, default=str))
    png = plot_experiment(result.to_dict(), tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
