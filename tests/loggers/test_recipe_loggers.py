"""Loggers from a recipe's [log] table: TensorBoard, CSV and MLflow at once in one `trainwell train` run,
each read back with its own tool (EventAccumulator, csv, MlflowClient)."""
from __future__ import annotations

import csv
import time

import pytest

pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install 'trainwell[tensorboard]'")
pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install 'trainwell[mlflow]'")

from trainwell.assemble import train_recipe  # noqa: E402
from trainwell.config import recipe_from_dict, recipe_to_dict  # noqa: E402
from trainwell.io import read_jsonl  # noqa: E402
from trainwell.train.callbacks import Callback  # noqa: E402
from trainwell.train.loggers.mlflow_logger import default_uri  # noqa: E402
from trainwell.train.loggers.scalars import flatten  # noqa: E402


@pytest.fixture(scope="module")
def run(blobs, tmp_path_factory, tiny):
    recipe = recipe_from_dict(tiny(blobs, {"tensorboard": True, "csv": True, "mlflow": True}, log_grad_norm=True))
    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    start = time.perf_counter()
    summary = train_recipe(recipe, out, progress=False)
    assert summary["status"] == "done"
    return recipe, out, time.perf_counter() - start


def test_three_loggers_write_the_same_records(run):
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe, out, _ = run
    records = read_jsonl(out / "metrics.jsonl")
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "val"]
    assert [r["step"] for r in train] == [10, 20, 30, 40] and [r["step"] for r in val] == [20, 40]

    with open(out / "metrics.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["step", "epoch", "split", "loss", "accuracy", "lr", "steps_per_s",
                                     "examples_per_s", "grad_norm"]
        rows = list(reader)
    assert [(int(r["step"]), r["split"]) for r in rows] == [(r["step"], r["split"]) for r in records]
    assert [float(r["accuracy"]) for r in rows] == [r["accuracy"] for r in records]

    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"train/loss", "train/accuracy", "train/lr", "train/grad_norm",
                                             "train/steps_per_s", "train/examples_per_s", "val/loss", "val/accuracy"}
    assert [(e.step, e.value) for e in events.Scalars("val/accuracy")] == \
        [(r["step"], pytest.approx(r["accuracy"], rel=1e-6)) for r in val]

    client = MlflowClient(default_uri(out / "mlruns"))
    experiment = client.get_experiment_by_name("tiny")             # the recipe's name
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == "tiny-run"
    assert found.data.params == flatten(recipe_to_dict(recipe))    # every recipe key, flattened
    assert found.data.params["optim.lr"] == "0.01" and found.data.params["log.mlflow"] == "true"
    for key, split, metric in (("train/loss", train, "loss"), ("train/grad_norm", train, "grad_norm"),
                               ("val/accuracy", val, "accuracy"), ("train/lr", train, "lr")):
        history = sorted(client.get_metric_history(found.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [r["step"] for r in split], key
        assert [m.value for m in history] == pytest.approx([r[metric] for r in split], rel=1e-12), key


def test_no_log_table_no_logger_and_no_files(blobs, tmp_path, tiny):
    from trainwell.assemble.parts import callbacks_for
    from trainwell.train.loggers import Logger

    recipe = recipe_from_dict(tiny(blobs, {}, steps=10))
    assert not any(isinstance(c, Logger) for c in callbacks_for(recipe, progress=False, label="x"))
    train_recipe(recipe, tmp_path / "plain", progress=False)
    assert not {"metrics.csv", "tensorboard", "mlruns"} & {p.name for p in (tmp_path / "plain").iterdir()}


class Killed(Callback):
    order = 90

    def on_log(self, state, record):
        if state.step == 30:
            raise KeyboardInterrupt  # after logging step 30; the checkpoint is of step 20


def test_mlflow_resume_continues_the_same_run(run, regression, tmp_path):
    """A store given by URI (the module's SQLite file); the run id travels in the checkpoint."""
    from mlflow import MlflowClient
    from torch import nn

    import trainwell
    from trainwell.train.loggers import MLflowLogger

    _, out, _ = run
    uri = default_uri(out / "mlruns")
    train, val = regression
    folder = tmp_path / "fit"
    kwargs = dict(steps=40, batch_size=32, log_every=10, eval_every=20, progress=False, verbose=False, run_dir=folder,
                  checkpoint_seconds=0)  # a checkpoint at every evaluation: the kill comes after step 20's
    first = MLflowLogger(uri, experiment="resume", params={"lr": 1e-3, "widths": [4, 1]})
    with pytest.raises(KeyboardInterrupt):
        trainwell.fit(nn.Linear(4, 1), train, val, callbacks=[first, Killed()], **kwargs)
    second = MLflowLogger(uri, experiment="resume", params={"lr": 1e-3, "widths": [4, 1]})
    trainwell.fit(nn.Linear(4, 1), train, val, callbacks=[second], resume=folder / "last.pt", **kwargs)
    assert second.run_id == first.run_id
    client = MlflowClient(uri)
    found = client.get_run(first.run_id)
    assert found.info.status == "FINISHED" and found.data.params == {"lr": "0.001", "widths": "[4, 1]"}
    assert found.data.tags["trainwell.model"] == "Linear" and found.data.tags["trainwell.total_steps"] == "40"
    history = sorted(client.get_metric_history(first.run_id, "train/loss"), key=lambda m: m.step)
    # the interrupted run flushed its step-30 record when it stopped; the resumed run recomputes step 30
    # (the same value) and the logger does not log it twice
    assert [m.step for m in history] == [10, 20, 30, 40]
    records = [r for r in read_jsonl(folder / "metrics.jsonl") if r["split"] == "train"]
    # and metrics.jsonl, cut back to the checkpoint's step 20 on resume, holds step 30 once too
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert [m.value for m in history] == [r["loss"] for r in records]
    assert sorted(m.step for m in client.get_metric_history(first.run_id, "val/r2")) == [20, 40]
