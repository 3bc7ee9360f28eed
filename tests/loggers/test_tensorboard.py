"""TensorBoardLogger: event files that TensorBoard's own reader parses, with the run's numbers."""
from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install 'trainwell[tensorboard]'")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import trainwell  # noqa: E402
import trainwell.io  # noqa: E402
from trainwell.diagnostics import StatsCallback  # noqa: E402
from trainwell.train.callbacks import Callback  # noqa: E402
from trainwell.train.loggers import TensorBoardLogger  # noqa: E402


def read_events(folder):
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    return events


def test_regression_scalars_stats_and_histograms(tmp_path, regression):
    train, val = regression
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    fitted = trainwell.fit(model, train, val, steps=30, batch_size=32, eval_every=10, log_every=5, log_grad_norm=True,
                           lr=0.01, progress=False, verbose=False,
                           callbacks=[TensorBoardLogger(tmp_path / "tb"), StatsCallback(every=10)])
    events = read_events(tmp_path / "tb")
    scalars = set(events.Tags()["scalars"])
    history = fitted.history                       # no run directory: the records kept in memory
    expected = {f"{r['split']}/{k}" for r in history for k in r if k not in ("split", "step", "epoch")}
    assert {"train/mse", "train/rmse", "train/mae", "train/r2", "train/lr", "train/grad_norm", "val/r2"} <= expected
    assert not any("accuracy" in tag for tag in scalars)  # a regression has no accuracy
    assert expected == {t for t in scalars if not t.startswith("stats/")}
    for tag in expected:
        split, key = tag.split("/", 1)
        want = [(r["step"], r[key]) for r in history if r["split"] == split]
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in want], tag
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6), tag  # stored as float32

    stats = fitted.state.records["stats"]
    assert [r["step"] for r in stats] == [0, 10, 20]
    layer = stats[1]["layers"][1]
    assert layer["type"] == "Tanh" and "saturated_frac" in layer
    std = events.Scalars("stats/act_std/1-Tanh")
    assert [e.step for e in std] == [0, 10, 20]
    assert std[1].value == pytest.approx(layer["std"], rel=1e-6)
    ratio = events.Scalars("stats/update_ratio/2.weight")
    assert ratio[2].value == pytest.approx(stats[2]["params"][2]["update_ratio"], rel=1e-6)
    assert {"stats/saturated_frac/1-Tanh", "stats/grad_norm/0.weight", "stats/act_mean/0-Linear"} <= scalars

    hists = set(events.Tags()["histograms"])
    assert {"weights/0.weight", "weights/0.bias", "weights/2.weight", "weights/2.bias", "activations/1-Tanh"} <= hists
    weights = events.Histograms("weights/2.weight")
    assert [h.step for h in weights] == [0, 10, 20, 30]    # at the start and each evaluation
    last = weights[-1].histogram_value
    final = model[2].weight.detach()
    assert last.num == final.numel() and sum(last.bucket) == final.numel()
    assert last.min == pytest.approx(final.min().item()) and last.max == pytest.approx(final.max().item())
    activations = events.Histograms("activations/1-Tanh")
    assert [h.step for h in activations] == [0, 10, 20]
    assert list(activations[0].histogram_value.bucket) == pytest.approx(stats[0]["layers"][1]["hist"])


def test_histograms_every_n_steps_or_none(tmp_path, regression):
    train, val = regression
    for every, steps in ((8, [0, 8, 16, 24]), (0, None)):
        folder = tmp_path / f"tb{every}"
        trainwell.fit(nn.Linear(4, 1), train, val, steps=30, batch_size=32, log_every=4, eval_every=15, progress=False,
                      verbose=False, callbacks=[TensorBoardLogger(folder, histograms_every=every)])
        events = read_events(folder)
        if steps is None:
            assert events.Tags()["histograms"] == []
        else:
            assert [h.step for h in events.Histograms("weights/weight")] == steps


class KilledAt(Callback):
    """Raises at a log step, as a kill would stop the run (after the checkpoint of the step-20 evaluation)."""

    order = 90  # after the loggers: the step is logged, then the process dies

    def __init__(self, step):
        self.step = step

    def on_log(self, state, record):
        if state.step == self.step:
            raise KeyboardInterrupt


def test_resumed_run_hides_the_killed_runs_later_events(tmp_path, regression):
    """purge_step: what a killed run logged after its last checkpoint is not drawn twice."""
    train, val = regression
    run = tmp_path / "run"
    kwargs = dict(steps=40, batch_size=32, log_every=5, eval_every=20, lr=0.01, progress=False, verbose=False, run_dir=run,
                  checkpoint_seconds=0)  # a checkpoint at every evaluation: the kill comes after step 20's
    first = TensorBoardLogger()
    with pytest.raises(KeyboardInterrupt):
        trainwell.fit(nn.Linear(4, 1), train, val, callbacks=[first, KilledAt(30)], **kwargs)
    assert first.writer is None  # Ctrl-C: on_exception flushed and closed the event file
    killed = read_events(run / "tensorboard").Scalars("train/loss")
    assert [e.step for e in killed] == [5, 10, 15, 20, 25, 30]
    trainwell.fit(nn.Linear(4, 1), train, val, callbacks=[TensorBoardLogger()], resume=run / "last.pt", **kwargs)
    loss = read_events(run / "tensorboard").Scalars("train/loss")
    assert [e.step for e in loss] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert [e.value for e in loss[:4]] == [e.value for e in killed[:4]]
    resumed = [r for r in trainwell.io.read_jsonl(run / "metrics.jsonl") if r["split"] == "train"][-4:]
    assert [r["step"] for r in resumed] == [25, 30, 35, 40]
    assert [e.value for e in loss[4:]] == pytest.approx([r["loss"] for r in resumed], rel=1e-6)
    assert [h.step for h in read_events(run / "tensorboard").Histograms("weights/weight")] == [0, 20, 40]
