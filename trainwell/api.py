"""The Python API: `trainwell.fit` and `trainwell.evaluate` for any model and data.

    import trainwell
    fitted = trainwell.fit(model, train_loader, val_loader, epochs=5)
    fitted.summary["val_accuracy"], fitted.best_step
    model.load_state_dict(fitted.best_weights())
    trainwell.evaluate(model, test_loader)      # {"loss": ..., "accuracy": ...}
    model.load_state_dict(trainwell.load_weights("runs/mine"))   # later, from the run directory

`train`/`val`/`test` may be (x, y) tensors or arrays, a torch Dataset, or a DataLoader yielding
tuples or dicts. Keyword arguments are recipe keys (`trainwell.assemble.user.FIT_KEYS`: lr,
weight_decay, optimizer, schedule, epochs, steps, batch_size, task, loss, precision, accumulate,
compile, clip_grad_norm, ema, swa, ...); what is not given follows the lectures' defaults
(AdamW, lr 1e-3, cosine decay; printed when `verbose`). Every trainwell callback works here
(per-layer statistics, EMA/SWA, progress bar, early stop, loggers).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.train.callbacks import Callback
from trainwell.train.state import TrainState


@dataclass
class Fitted:
    """What `trainwell.fit` returns: the trained model, its history and summary, the best weights."""

    model: nn.Module
    state: TrainState
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    run_dir: Path | None = None
    _best: Any = None

    @property
    def best_step(self) -> int:
        return self.state.best_step

    def best_weights(self) -> dict[str, torch.Tensor]:
        """The state dict of the best validation evaluation (the final weights without validation data)."""
        weights = self._best.weights() if self._best is not None else None
        return weights if weights is not None else self.final_weights()

    def final_weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def best_model(self) -> nn.Module:
        """A copy of the model holding the best weights (in eval mode)."""
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.best_weights())
        return model.eval()


def fit(model: nn.Module, train: Any, val: Any = None, *, test: Any = None, loss: Any = None, optimizer: Any = None,
        callbacks: Sequence[Callback] = (), device: str | torch.device | None = None, run_dir: str | Path | None = None,
        progress: bool = True, verbose: bool = True, keys: tuple[str | None, str | None] = (None, None),
        resume: str | Path | None = None, **recipe_keys: Any) -> Fitted:
    """Train `model` on `train` (see the module docstring); returns a `Fitted`."""
    from trainwell.assemble.rundir import weights_meta
    from trainwell.assemble.user import describe_defaults, from_model
    from trainwell.train.best import BestWeights, weights_payload

    best = BestWeights()
    run = from_model(model, train, val, test=test, loss=loss, optimizer=optimizer, callbacks=[*callbacks, best],
                     device=device, run_dir=run_dir, progress=progress, keys=keys, **recipe_keys)
    if verbose:
        import sys

        print(describe_defaults(run), file=sys.stderr)
    folder = Path(run_dir) if run_dir is not None else None
    if folder is not None:
        from trainwell.io import RunLock, atomic_torch_save, atomic_write_json

        with RunLock(folder):
            best.path, best.meta = folder / "best.pt", weights_meta(run, user_model=True)
            state = run.fit(resume=resume)
            atomic_torch_save(folder / "final.pt", weights_payload(run.model, "final", state.step, best.meta))
            summary = _summary(run, state)
            atomic_write_json(folder / "summary.json", summary)
        from trainwell.io import read_jsonl

        history = read_jsonl(folder / "metrics.jsonl")
    else:
        state = run.fit(resume=resume)
        summary = _summary(run, state)
        history = list(state.records.get("metrics", []))
    return Fitted(run.model, state, summary, history, folder, best)


def _summary(run, state: TrainState) -> dict[str, Any]:
    import math

    out: dict[str, Any] = {"task": run.task.name, "task_reason": run.task_reason, "steps": state.step,
                           "status": "diverged" if state.diverged else "done", "message": state.stop_reason,
                           "monitor": state.monitor, "best_value": state.best_value, "best_step": state.best_step,
                           **{k: v for k, v in state.metrics.items() if k not in ("steps_per_s",)}}
    if run.data.test is not None and not state.diverged:
        from trainwell.assemble.rundir import test_metrics

        out.update(test_metrics(run, run.model))
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def evaluate(model: nn.Module, data: Any, *, task: Any = None, loss: Any = None, batch_size: int = 1024,
             device: str | torch.device | None = None,
             keys: tuple[str | None, str | None] = (None, None)) -> dict[str, float]:
    """Loss and metrics of `model` on `data` ((x, y), a Dataset or a DataLoader); the task is
    inferred from the targets when not given ("classification", "multilabel", "regression")."""
    from trainwell.data.adapt import first_batch, iter_batches, xy_tensors
    from trainwell.train.evaluate import evaluate_batches
    from trainwell.train.tasks import build_task, infer_task

    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    pair = xy_tensors(data, "data") if not isinstance(data, torch.utils.data.DataLoader) else None
    if task is None:
        y = pair[1] if pair is not None else first_batch(data, 8, keys, "data")[1]
        task = infer_task(y)[0]
    else:
        task = build_task(task)
    if pair is not None:
        x, y = pair
        batches = ((x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)) for i in range(0, len(x), batch_size))
    else:
        batches = iter_batches(data, batch_size=batch_size, device=device, keys=keys, name="data")
    return evaluate_batches(model, batches, task, loss)


def load_weights(source: str | Path, which: str = "best", device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The state dict of a run's weights (`which`: best, final, ema, swa) or of a weights file,
    read without unpickling code (``weights_only``): ``model.load_state_dict(load_weights("runs/x"))``."""
    from trainwell.assemble.load import weights_file
    from trainwell.errors import UserError
    from trainwell.train.checkpoint import load_checkpoint

    path = weights_file(source, which)
    payload = load_checkpoint(path, device)
    state = payload.get("model")
    if not isinstance(state, dict):
        raise UserError(f"{path} holds no model weights (keys: {', '.join(sorted(map(str, payload))) or 'none'})")
    return state


__all__ = ["Fitted", "evaluate", "fit", "load_weights"]
