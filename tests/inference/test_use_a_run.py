"""predict / evaluate / export on a trained run: the run's own preprocessing is applied, the figures
are those of the saved weights, and an export (BatchNorm folded, preprocessing inside) gives the
eager model's outputs. The reference is rebuilt by hand from best.pt (weights, fitted statistics)."""
import csv

import numpy as np
import pytest
import torch

from trainwell.assemble.run import model_for
from trainwell.cli import main
from trainwell.config import recipe_from_dict
from trainwell.preprocess import Pipeline


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from trainwell.assemble import train_recipe

    root = tmp_path_factory.mktemp("use")
    g = np.random.default_rng(0)
    y = g.integers(0, 3, 360)
    x = (g.normal(size=(360, 1, 16)) + 2.0 * y[:, None, None] * np.sin(np.arange(16) / (1 + y[:, None, None]))) * 50 + 300
    np.savez(root / "data.npz", x=x.astype(np.float32), y=y)  # far from zero mean: the preprocessing matters
    np.savez(root / "new.npz", x=x[:40].astype(np.float32), y=y[:40])
    raw = {"name": "use", "data": {"path": str(root / "data.npz"), "preprocess": ["global_standardize"]},
           "model": {"name": "convnet", "channels": [8, 8], "kernel": 3, "norm": "batch", "head": "flatten"},
           "optim": {"name": "adamw", "lr": 0.01}, "train": {"steps": 40, "batch_size": 32, "eval_every": 20}}
    train_recipe(recipe_from_dict(raw), root / "run", progress=False)
    return root


def reference_probs(run, x):
    saved = torch.load(run / "run" / "best.pt", weights_only=True)
    model = model_for(recipe_from_dict(saved["config"]), saved["input_shape"], saved["num_classes"], seed=0)
    model.load_state_dict(saved["model"])
    pipe = Pipeline.from_state_dict(saved["preprocess"])
    with torch.no_grad():
        return model.eval()(pipe.transform(torch.as_tensor(x))).softmax(-1), model.eval()(torch.as_tensor(x)).softmax(-1)


def test_predict_applies_the_runs_preprocessing(run):
    assert main(["predict", str(run / "run"), "--input", str(run / "new.npz"), "--out", str(run / "p.csv")]) == 0
    with open(run / "p.csv") as f:
        rows = list(csv.DictReader(f))
    probs = torch.tensor([[float(r[f"p_{c}"]) for c in range(3)] for r in rows], dtype=torch.float32)
    want, unprocessed = reference_probs(run, np.load(run / "new.npz")["x"])
    torch.testing.assert_close(probs, want, rtol=1e-5, atol=1e-6)  # the CSV keeps 6 significant digits
    assert not torch.allclose(want, unprocessed, atol=1e-3)  # without the preprocessing they would differ
    assert [int(r["class"]) for r in rows] == want.argmax(1).tolist()


def test_evaluate_reports_the_accuracy_of_the_saved_weights(run):
    import json

    assert main(["evaluate", str(run / "run"), "--data", str(run / "new.npz"), "--out", str(run / "eval")]) == 0
    report = json.loads((run / "eval" / "evaluation.json").read_text())
    data = np.load(run / "new.npz")
    want, _ = reference_probs(run, data["x"])
    assert report["accuracy"] == pytest.approx(float((want.argmax(1) == torch.as_tensor(data["y"])).double().mean()))


def test_torchscript_export_folds_batchnorm_and_preprocessing_and_matches(run):
    out = run / "model.pt"
    assert main(["export", str(run / "run"), "--format", "torchscript", "--data", str(run / "new.npz"),
                 "--out", str(out)]) == 0
    exported = torch.jit.load(str(out))
    assert "batch_norm" not in exported.inlined_graph.__str__()  # folded into the convolutions
    x = torch.as_tensor(np.load(run / "new.npz")["x"])
    want, _ = reference_probs(run, x.numpy())
    with torch.no_grad():
        got = exported(x).softmax(-1)  # raw inputs in: the preprocessing is part of the file
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
