"""`MLflowLogger`: a run in MLflow — parameters, tags and metrics with steps.

    trainwell.fit(model, train, val, callbacks=[MLflowLogger(dir="logs/mlruns")])
    # recipe: [log] mlflow = true           → <run>/mlruns/mlflow.db (+ mlruns/artifacts/)
    #         [log] mlflow_uri = "http://localhost:5000"   → a tracking server instead
    # read:   MlflowClient("sqlite:///runs/x/mlruns/mlflow.db").get_metric_history(run_id, "val/accuracy")

Needs ``mlflow-skinny`` (``pip install 'trainwell[mlflow]'``). Uses `mlflow.MlflowClient` only —
no global "active run" is started or changed, so it works beside your own `mlflow.start_run`.

The default store is a local SQLite file under the run directory, no server: MLflow 3 keeps the
older plain-folder store ("./mlruns") in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``; a ``file:`` URI works wherever that is set. Creating a new
SQLite store runs MLflow's schema migrations once (a few seconds).

What is logged: `params` (from a recipe, every key flattened, ``optim.lr`` → ``"0.01"``; without
params: the model class, its parameter count and the number of steps), tags ``trainwell.*``, and
every scalar of `trainwell.train.loggers.scalars` as a metric with its step (``train/loss``,
``val/accuracy``, ``train/lr``, ``stats/update_ratio/<param>`` ...). Metrics are buffered and sent
in one batch at each evaluation, at the end of fit, and at least every `flush_secs` (10 s), to
MLflow's own background queue (``log_batch(synchronous=False)``); the end of fit waits until all
is stored. One store transaction costs tens of milliseconds on SQLite (bench/bench_loggers.py),
far more than a step of a small model: in the training loop, one per record would slow it. The run ends FINISHED, or
FAILED when training diverged. A resumed run continues the MLflow run it started (its id is kept
in the checkpoint). A store that fails mid-run (a server gone) gets a warning and no more
writes: logging never stops a training run.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from trainwell.errors import UserError
from trainwell.train.loggers.base import Logger
from trainwell.train.loggers.extras import load, require

MAX_METRICS = 1000  # MLflow's limits per log_batch call
MAX_PARAMS = 100


def default_uri(folder: Path) -> str:
    """``sqlite:///<folder>/mlflow.db`` (an absolute path)."""
    return "sqlite:///" + str((folder / "mlflow.db").resolve())


class MLflowLogger(Logger):
    """An MLflow run per fit (see the module docstring).

    Args:
        uri: tracking URI; default: a SQLite store in `dir` (default <run directory>/mlruns).
        experiment: experiment name (created when missing).
        run_name: the run's name (default: the run directory's name).
        params: parameters to log once (strings, or plain values written as JSON text).
        tags: extra tags.
        flush_secs: metrics are buffered and sent at each evaluation, at the end, and at a log
            step at least this many seconds after the last send.
    """

    subfolder = "mlruns"

    def __init__(self, uri: str | None = None, *, dir: str | Path | None = None, experiment: str = "trainwell",
                 run_name: str | None = None, params: dict[str, Any] | None = None,
                 tags: dict[str, str] | None = None, flush_secs: float = 10.0, stats_stream: str = "stats",
                 only_with_run_dir: bool = False):
        require("mlflow", "mlflow", "MLflowLogger")
        super().__init__(dir, stats_stream=stats_stream, only_with_run_dir=only_with_run_dir)
        self.needs_folder = uri is None
        self.uri = uri
        self.experiment = experiment
        self.run_name = run_name
        self.params = params
        self.tags = dict(tags or {})
        self.client: Any = None
        self.run_id: str | None = None
        self._resume_id: str | None = None
        self._entities: Any = None
        self.flush_secs = flush_secs
        self._pending: list[Any] = []
        self._operations: list[Any] = []
        self._flushed_at = time.monotonic()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id} if self.run_id else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume_id = state.get("run_id")

    # ------------------------------------------------------------------ logger
    def open(self, state: Any, folder: Path | None) -> None:
        mlflow = load("mlflow", "mlflow", "MLflowLogger")
        self._entities = mlflow.entities
        uri, artifacts = self.uri, None
        if uri is None:
            from trainwell.io import ensure_dir

            ensure_dir(folder, "MLflow folder")
            uri, artifacts = default_uri(folder), (folder / "artifacts").resolve().as_uri()
        try:
            self.client = mlflow.MlflowClient(tracking_uri=uri)
            experiment_id = self._experiment(artifacts)
            if state.step > 0 and self._resume_id and self._reopen(self._resume_id):
                self.run_id = self._resume_id
                return
            run = self.client.create_run(experiment_id, run_name=self.run_name or self._name(state),
                                         tags={**self._facts(state), **self.tags})
            self.run_id = run.info.run_id
            params = self._params(state)
            keys = list(params)
            for k in range(0, len(keys), MAX_PARAMS):
                self.client.log_batch(self.run_id, params=[self._entities.Param(key, params[key])
                                                           for key in keys[k:k + MAX_PARAMS]])
        except Exception as exc:  # noqa: BLE001 — any failure to reach the store is the user's to fix
            if isinstance(exc, UserError):
                raise
            raise UserError(f"MLflowLogger: cannot log to the MLflow store {uri} "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                            "check [log] mlflow_uri (or the uri given)") from None

    def _experiment(self, artifacts: str | None) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(self.experiment, artifact_location=artifacts)
        except Exception:  # noqa: BLE001 — created meanwhile by another process
            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return found.experiment_id

    def _reopen(self, run_id: str) -> bool:
        try:
            run = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 — not in this store: start a new run
            return False
        self.client.update_run(run_id, status="RUNNING")
        # a run stopped by an exception (Ctrl-C) flushed the records after its last checkpoint; the resumed
        # run recomputes those steps identically: log each step once
        steps = [m.step for key in run.data.metrics for m in self.client.get_metric_history(run_id, key)]
        self._logged_through = max(steps, default=-1)
        return True

    @staticmethod
    def _name(state: Any) -> str | None:
        return Path(state.run_dir).name if state.run_dir is not None else None

    @staticmethod
    def _facts(state: Any) -> dict[str, str]:
        facts = {"trainwell.model": type(state.model).__name__, "trainwell.total_steps": str(state.total_steps),
                 "trainwell.parameters": str(sum(p.numel() for p in state.model.parameters()))}
        if state.run_dir is not None:
            facts["trainwell.run_dir"] = str(Path(state.run_dir).resolve())
        return facts

    def _params(self, state: Any) -> dict[str, str]:
        from trainwell.train.loggers.scalars import flatten

        if self.params is not None:
            return flatten(self.params)
        return {"model": type(state.model).__name__, "parameters": str(sum(p.numel() for p in state.model.parameters())),
                "total_steps": str(state.total_steps), "optimizer": type(state.optimizer).__name__}

    def write(self, split: str, step: int, epoch: float | None, values: dict[str, float]) -> None:
        if self.client is None or step <= getattr(self, "_logged_through", -1):
            return
        now = int(time.time() * 1000)
        self._pending += [self._entities.Metric(f"{split}/{k}", v, now, step) for k, v in values.items()]
        if time.monotonic() - self._flushed_at >= self.flush_secs:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered metrics to MLflow's background queue (`log_batch(synchronous=False)`,
        at most 1000 a call): at each evaluation, every `flush_secs` at the latest, and at the end.
        The store's transaction (tens of milliseconds on SQLite) runs beside training, not in it."""
        self._flushed_at = time.monotonic()
        pending, self._pending = self._pending, []
        if self.client is None or not pending:
            return
        try:
            for k in range(0, len(pending), MAX_METRICS):
                self._operations.append(self.client.log_batch(self.run_id, metrics=pending[k:k + MAX_METRICS],
                                                              synchronous=False))
        except Exception as exc:  # noqa: BLE001 — a store gone mid-run must not stop training
            self._gone(exc, pending[0].step)

    def _gone(self, exc: Exception, step: Any = "?") -> None:
        warnings.warn(f"MLflowLogger: the MLflow store stopped accepting metrics (at step {step}: "
                      f"{type(exc).__name__}: {exc}); no more MLflow logging in this run", stacklevel=3)
        self.client = None

    def _wait(self) -> None:
        """Wait until MLflow has stored everything handed to it (its errors surface here)."""
        operations, self._operations = self._operations, []
        for operation in operations:
            try:
                if operation is not None:
                    operation.wait()
            except Exception as exc:  # noqa: BLE001
                if self.client is not None:
                    self._gone(exc)

    def close(self, state: Any) -> None:
        self.flush()
        self._wait()
        if self.client is None:
            return
        try:
            stopped = getattr(self, "interrupted", None)
            status = ("KILLED" if isinstance(stopped, KeyboardInterrupt) else "FAILED") if stopped is not None \
                else ("FAILED" if state.diverged else "FINISHED")
            self.client.set_terminated(self.run_id, status=status)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"MLflowLogger: could not close the MLflow run ({type(exc).__name__}: {exc})", stacklevel=2)
        self.client = None


__all__ = ["MLflowLogger", "default_uri"]
