"""trainwell.fit / trainwell.evaluate on models and data written without trainwell."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import trainwell
from trainwell.errors import UserError


def blobs(n=240, d=8, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 3
    y = torch.randint(0, classes, (n,), generator=g)
    return centers[y] + torch.randn(n, d, generator=g), y


class MLP(nn.Module):  # functional activation: no nn.ReLU module
    def __init__(self, d=8, out=3):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, 32), nn.Linear(32, out)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class DictSet(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"features": self.x[i], "label": self.y[i]}


def test_fit_on_tensors_learns_prints_its_defaults_and_keeps_the_best_weights(capsys):
    torch.manual_seed(0)
    x, y = blobs()
    model = MLP()
    fitted = trainwell.fit(model, (x[:200], y[:200]), (x[200:], y[200:]), epochs=20, batch_size=32, lr=1e-2,
                           progress=False)
    err = capsys.readouterr().err
    assert "AdamW" in err and "cosine" in err and "classification" in err
    assert fitted.summary["val_accuracy"] > 0.9 and fitted.summary["status"] == "done"
    assert fitted.best_step > 0 and {"train", "val"} <= {r["split"] for r in fitted.history}
    best = fitted.best_model()
    assert trainwell.evaluate(best, (x[200:], y[200:]))["accuracy"] == pytest.approx(fitted.state.best_value)


def test_fit_on_a_dataset_of_dicts_and_a_user_dataloader_agree_with_tensors():
    x, y = blobs()
    ds = DictSet(x[:200], y[:200])
    a = trainwell.fit(MLP(), ds, (x[200:], y[200:]), steps=100, lr=1e-2, batch_size=20, progress=False, verbose=False, seed=3)
    loader = DataLoader(TensorDataset(x[:200], y[:200]), batch_size=20, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    b = trainwell.fit(MLP(), loader, DataLoader(TensorDataset(x[200:], y[200:]), batch_size=64), steps=100, lr=1e-2,
                      progress=False, verbose=False)
    for f in (a, b):
        assert f.state.step == 100 and f.summary["val_accuracy"] > 0.9
    # a NumPy (x, y) pair trains exactly as the same tensors (same initial weights, same seed)
    m1 = MLP()
    m2 = MLP()
    m2.load_state_dict(m1.state_dict())
    c = trainwell.fit(m1, (x[:200].numpy(), y[:200].numpy()), steps=10, progress=False, verbose=False, seed=1)
    d = trainwell.fit(m2, (x[:200], y[:200]), steps=10, progress=False, verbose=False, seed=1)
    for p, q in zip(c.model.parameters(), d.model.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("loss", ["mse", "huber", "l1"])
def test_regression_with_each_loss_reports_regression_metrics(loss):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 5, generator=g)
    w = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    y = x @ w + 0.05 * torch.randn(300, generator=g)
    fitted = trainwell.fit(nn.Linear(5, 1), (x[:250], y[:250]), (x[250:], y[250:]), loss=loss, steps=300, lr=3e-2,
                           batch_size=50, progress=False, verbose=False)
    s = fitted.summary
    assert s["task"] == "regression" and "val_accuracy" not in s and "accuracy" not in s
    assert s["val_r2"] > 0.95 and s["val_rmse"] < 0.5 and s["val_mae"] < 0.4
    ev = trainwell.evaluate(fitted.model, (x[250:], y[250:]))
    assert ev["r2"] == pytest.approx(s["val_r2"], rel=1e-5)


def test_multilabel_is_inferred_from_a_zero_one_target_matrix():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(400, 6, generator=g)
    y = torch.stack([(x[:, 0] > 0), (x[:, 1] + x[:, 2] > 0), (x[:, 3] < -0.5)], 1).float()
    fitted = trainwell.fit(nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)), (x[:320], y[:320]),
                           (x[320:], y[320:]), steps=200, lr=1e-2, progress=False, verbose=False)
    assert fitted.summary["task"] == "multilabel" and fitted.summary["val_label_accuracy"] > 0.9


def test_labels_beyond_the_models_outputs_are_a_clear_error():
    x, y = blobs(classes=3)
    with pytest.raises(UserError, match="labels go up to 2 but the model has 2 outputs"):
        trainwell.fit(MLP(out=2), (x, y), steps=2, progress=False, verbose=False)
    with pytest.raises(UserError, match="unknown argument 'lrr'.*did you mean \"lr\""):
        trainwell.fit(MLP(), (x, y), lrr=0.1, progress=False, verbose=False)
    with pytest.raises(UserError, match="fails on a batch"):
        trainwell.fit(MLP(d=5), (x, y), steps=2, progress=False, verbose=False)
    bad = x.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(UserError, match="NaN"):
        trainwell.fit(MLP(), (bad, y), steps=2, progress=False, verbose=False)


def test_fit_leaves_the_global_rng_alone_and_is_reproducible():
    x, y = blobs()
    torch.manual_seed(7)
    m1 = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.ReLU(), nn.Linear(16, 3))
    m2 = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.ReLU(), nn.Linear(16, 3))
    m2.load_state_dict(m1.state_dict())
    before = torch.get_rng_state()
    a = trainwell.fit(m1, (x, y), steps=20, progress=False, verbose=False)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(123)  # the caller's RNG does not change the run
    b = trainwell.fit(m2, (x, y), steps=20, progress=False, verbose=False)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_callbacks_statistics_ema_and_run_dir_work_with_a_user_model(tmp_path):
    from trainwell.diagnostics import StatsCallback

    x, y = blobs()
    stats = StatsCallback(every=5, bins=10)
    fitted = trainwell.fit(MLP(), (x[:200], y[:200]), (x[200:], y[200:]), steps=20, ema=0.9, callbacks=[stats],
                           run_dir=tmp_path / "run", progress=False, verbose=False)
    assert (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "final.pt").exists()
    assert (tmp_path / "run" / "stats.jsonl").stat().st_size > 0 and fitted.history
    saved = torch.load(tmp_path / "run" / "final.pt", weights_only=True)
    assert saved["format"] == "trainwell-model-1" and saved["which"] == "final"
    assert math.isfinite(fitted.summary["loss"])


def test_evaluate_accepts_tensors_datasets_and_loaders():
    x, y = blobs()
    model = MLP()
    a = trainwell.evaluate(model, (x, y))
    b = trainwell.evaluate(model, TensorDataset(x, y), batch_size=50)
    c = trainwell.evaluate(model, DataLoader(DictSet(x, y), batch_size=64))
    for r in (b, c):
        assert r["accuracy"] == pytest.approx(a["accuracy"]) and r["loss"] == pytest.approx(a["loss"], rel=1e-5)
    ref = nn.functional.cross_entropy(model(x), y).item()
    assert a["loss"] == pytest.approx(ref, rel=1e-5)


def test_numpy_channels_and_float64_inputs_are_cast():
    x, y = blobs()
    fitted = trainwell.fit(MLP(), (x.double().numpy(), y.numpy().astype(np.int32)), steps=5, progress=False, verbose=False)
    assert fitted.state.step == 5


def test_named_and_custom_validation_metrics_are_logged():
    import torchmetrics

    x, y = blobs()
    top1 = lambda out, t: (out.argmax(-1) == t).float().mean()  # noqa: E731 — a plain function metric
    fitted = trainwell.fit(MLP(), (x[:200], y[:200]), (x[200:], y[200:]), steps=40, lr=1e-2, progress=False,
                           verbose=False, metrics={"f1": "f1", "mine": top1,
                                                   "mcc": torchmetrics.MatthewsCorrCoef(task="multiclass", num_classes=3)})
    s = fitted.summary
    assert s["val_mine"] == pytest.approx(s["val_accuracy"])
    from sklearn.metrics import f1_score, matthews_corrcoef

    pred = fitted.model(x[200:]).argmax(-1)
    assert s["val_f1"] == pytest.approx(f1_score(y[200:], pred, average="macro"), abs=1e-6)
    assert s["val_mcc"] == pytest.approx(matthews_corrcoef(y[200:], pred), abs=1e-6)
    with pytest.raises(UserError, match="unknown metric 'f2'.*did you mean \"f1\""):
        trainwell.fit(MLP(), (x, y), steps=2, progress=False, verbose=False, metrics=["f2"])


def test_balanced_sampler_draws_each_class_equally_often_and_class_weights_scale_the_loss():
    from trainwell.assemble.parts import class_weights
    from trainwell.data.balanced import BalancedLoader
    from trainwell.train.tasks import Classification

    y = torch.tensor([0] * 900 + [1] * 90 + [2] * 10)
    x = torch.randn(1000, 2)
    loader = BalancedLoader(x, y, 100, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([loader.next_batch()[1] for _ in range(50)])
    share = torch.bincount(seen, minlength=3).double() / len(seen)
    # 5000 draws, p = 1/3 each: binomial std ≈ 0.0067, so ±0.03 is > 4 sigma
    assert torch.allclose(share, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.03)
    w = class_weights("balanced", y, Classification())
    assert w == pytest.approx([1000 / (3 * 900), 1000 / (3 * 90), 1000 / (3 * 10)])


def test_a_user_models_run_reloads_through_load_weights_and_the_cli_says_how(tmp_path, capsys):
    """The weights of the user's own class: `trainwell.load_weights` gives them back (best and final),
    the files name the class and the DataLoader's batch size, and `trainwell predict` on the run
    refuses with the Python recipe instead of building some other architecture."""
    from trainwell.cli import main

    x, y = blobs()
    loader = DataLoader(TensorDataset(x[:200], y[:200]), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    fitted = trainwell.fit(MLP(), loader, (x[200:], y[200:]), steps=30, run_dir=tmp_path / "run", progress=False,
                           verbose=False)
    fresh = MLP()
    fresh.load_state_dict(trainwell.load_weights(tmp_path / "run"))
    best = fitted.best_model()
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), best.state_dict().values()))
    final = trainwell.load_weights(tmp_path / "run", "final")
    assert all(torch.equal(final[k], v) for k, v in fitted.model.state_dict().items())
    saved = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert saved["model_class"].endswith("test_user_api.MLP") and saved["config"]["train"]["batch_size"] == 16
    np.savez(tmp_path / "x.npz", x=x[:5].numpy())
    assert main(["predict", str(tmp_path / "run"), "--input", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "test_user_api.MLP" in err and "trainwell.load_weights" in err and "Traceback" not in err
    with pytest.raises(UserError, match="no swa.pt"):
        trainwell.load_weights(tmp_path / "run", "swa")
