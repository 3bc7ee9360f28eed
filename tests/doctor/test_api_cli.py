"""The entry points: `trainwell.doctor(model, ...)`, `trainwell doctor RECIPE`, `trainwell doctor file.py:make`,
`--json`, the HTML report, and `--fix` on a recipe fault."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import trainwell
from trainwell.cli import main
from trainwell.config import load_recipe
from trainwell.doctor import Diagnosis, DoctorConfig

RECIPES = Path(__file__).resolve().parent.parent / "recipes_broken"

MAKE = textwrap.dedent('''
    """A plain PyTorch setup: clustered data, an MLP that ends with a softmax (the fault)."""
    import torch
    from torch import nn


    def make():
        g = torch.Generator().manual_seed(0)
        centers = torch.randn(3, 6, generator=g) * 3
        y = torch.arange(300) % 3
        x = centers[y] + torch.randn(300, 6, generator=g)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=1))
        return {"model": model, "train": (x[:200], y[:200]), "val": (x[200:], y[200:]),
                "loss": nn.CrossEntropyLoss(), "optimizer": torch.optim.Adam(model.parameters(), lr=1e-2)}
''')


@pytest.fixture()
def make_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MAKE)
    return path


def test_lazy_export_is_the_callable_package():
    import trainwell.doctor as pkg

    assert trainwell.doctor is pkg and callable(trainwell.doctor) and "doctor" in trainwell.__all__
    assert trainwell.doctor.early.hopeless([], budget_steps=10, majority_rate=0.1) is None


def test_api_on_a_model_never_loads_other_data(monkeypatch):
    from trainwell.data import load, sources

    def refuse(*a, **k):
        raise AssertionError("the doctor loaded a data set nobody named")

    monkeypatch.setattr(load, "load_data", refuse)
    monkeypatch.setattr(sources, "read_source", refuse)
    monkeypatch.setattr(sources.DATASETS, "get", refuse)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 5, generator=g), torch.randint(0, 3, (200,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    d = trainwell.doctor(model, (x, y), budget=20)  # no val, no loss, no optimizer: the assembly's defaults
    assert isinstance(d, Diagnosis) and d.subject["kind"] == "python" and d.subject["optimizer"] == "adamw"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is untouched
    record = json.loads(json.dumps(d.to_json()))
    assert {"subject", "top", "findings", "scores", "timings"} <= set(record)
    assert all({"code", "severity", "where", "message", "evidence", "prescription"} <= set(f) for f in record["findings"])
    assert "<table>" in d.html() and d.table().row_count == len(d.findings)


def test_api_rejects_what_is_not_a_setup():
    from trainwell.errors import UserError

    with pytest.raises(UserError, match="torch.nn.Module"):
        trainwell.doctor("model", (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)))
    with pytest.raises(UserError, match="budget"):
        trainwell.doctor(nn.Linear(2, 2), (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), budget="huge")


def test_cli_on_a_python_file(make_file, tmp_path, capsys):
    out = tmp_path / "d.json"
    code = main(["doctor", f"{make_file}:make", "--quick", "--steps", "40", "--json", str(out), "--no-report"])
    record = json.loads(out.read_text())
    assert code == 1 and record["top"]["code"] == "output_probabilities"
    assert "softmax" in record["top"]["prescription"]["code"]
    assert "output_probabilities" in capsys.readouterr().out


def test_cli_python_fix_reports_the_code_change(make_file, capsys):
    assert main(["doctor", str(make_file), "--steps", "30", "--fix", "--no-report"]) == 1  # make() is the default
    out = " ".join(capsys.readouterr().out.split())
    assert "is not edited" in out and "output_probabilities:" in out


def test_cli_on_a_recipe_json_and_report(tmp_path):
    out = tmp_path / "findings.json"
    code = main(["doctor", str(RECIPES / "lr_too_low.toml"), "--quick", "--json", str(out), "--out", str(tmp_path / "rep")])
    record = json.loads(out.read_text())
    assert code == 1  # the LR is 1000× too low: a failed check
    assert record["top"]["code"] == "lr_too_low" and record["top"]["prescription"]["set"].startswith("--set optim.lr=")
    assert (tmp_path / "rep" / "doctor.html").read_text().count("<img") == 4


def test_cli_refuses_two_targets_and_set_on_python(make_file, capsys):
    assert main(["doctor", "default", "--recipe", "digits"]) == 2
    err = capsys.readouterr().err
    assert "give the target once" in err and "Traceback" not in err, err
    assert main(["doctor", str(make_file), "--set", "optim.lr=1"]) == 2
    err = capsys.readouterr().err
    assert "--set overrides recipe keys" in err and "Traceback" not in err, err


def test_fix_repairs_a_recipe_fault(tmp_path, capsys):
    code = main(["doctor", str(RECIPES / "lr_too_low.toml"), "--quick", "--fix", "--max-steps", "2",
                 "--out", str(tmp_path), "--no-report"])
    assert code == 1  # the exit status is the diagnosis of the recipe as given
    fixed = load_recipe(tmp_path / "lr-too-low.fixed.toml")
    assert fixed.optim.lr >= 3e-4  # the prescription: s/3 of the LR range test (≥ 100× the broken 3e-6)
    assert fixed.model == load_recipe(RECIPES / "lr_too_low.toml").model  # nothing else changed
    out = " ".join(capsys.readouterr().out.split())
    assert "wrote the repaired recipe" in out and "yes" in out


def test_fix_loop_keeps_only_what_cures(broken_recipe):
    from trainwell.doctor.fix import fix_recipe

    r = broken_recipe("lr_too_low")
    result = fix_recipe(r, DoctorConfig(seed=0).quick(), max_steps=2)
    assert result.changed and result.steps[0].finding == "lr_too_low" and result.steps[0].kept
    assert result.after.by_check("lr_too_low") == [] and result.recipe.optim.lr == result.edits["optim.lr"]
    assert result.steps[0].after["val_accuracy"] > result.steps[0].before["val_accuracy"] + 0.2
    json.dumps(result.to_json())
