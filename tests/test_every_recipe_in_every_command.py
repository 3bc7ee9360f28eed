"""Issue bar (one assembly path): every packaged recipe runs through every command that takes a
recipe — train, doctor, lr-find, ensemble, search, finetune — for a few steps, or is refused with
a clear error (exit 2, no traceback). A recipe key that works in `train` works everywhere."""
import json

import pytest

from trainwell.cli import main
from trainwell.config import packaged_recipes

SMALL = ["--set", "data.train_subset=96", "--set", "train.steps=3", "--set", "train.batch_size=16"]


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    path = tmp_path_factory.mktemp("space") / "space.toml"
    path.write_text('[space]\n"optim.lr" = { dist = "loguniform", low = 1e-4, high = 1e-2 }\n')
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", packaged_recipes())
def test_recipe_in_every_command(name, tmp_path, space, capsys):
    # SGDR needs at least one step per cycle: 2 cycles fit the 2-3 step runs below
    small = SMALL + (["--set", "schedule.cycles=2"] if "snapshot" in name else [])
    run = tmp_path / "run"
    assert main(["train", "--recipe", name, *small, "--out", str(run), "--quiet", "--no-report"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["status"] == "done"
    assert main(["doctor", "--recipe", name, *small, "--steps", "4", "--no-report"]) in (0, 1)
    assert main(["lr-find", "--recipe", name, *small, "--steps", "5", "--out", str(tmp_path / "lr")]) == 0
    method = "snapshot" if "snapshot" in name else "independent"
    assert main(["ensemble", "--recipe", name, *small, "--method", method, "--members", "2", "--quiet",
                 "--out", str(tmp_path / "ens")]) == 0
    assert main(["search", "--recipe", name, *small, "--space", str(space), "--trials", "2", "--steps", "2",
                 "--quiet", "--no-report", "--out", str(tmp_path / "search")]) == 0
    assert main(["finetune", "--from", str(run), "--recipe", name, *small, "--head-steps", "2", "--finetune-steps", "2",
                 "--quiet", "--out", str(tmp_path / "ft")]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
