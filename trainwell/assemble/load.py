"""A trained model back from a run directory or a weights file: architecture, weights, preprocessing.

    trained = load_trained("runs/mnist1d-cnn")                 # best.pt (else final.pt)
    trained = load_trained("runs/mnist1d-cnn", weights="ema")  # ema.pt
    probs = trained.predict_proba(x_raw)                       # the run's own preprocessing applied

A weights file ("trainwell-model-1", see `trainwell.train.best`) carries the recipe it was trained
with ("config"), the fitted preprocessing, the input shape, the number of classes, the task and the
class names; the architecture is rebuilt from the recipe's [model] and the weights are loaded with
`torch.load(weights_only=True)` (a file can never run code); a tensor that does not fit is named.
`weights` is "best", "final", "ema", "swa", "last" (the resumable checkpoint) or a file path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from trainwell.config import Recipe, recipe_from_dict
from trainwell.errors import UserError
from trainwell.preprocess import Pipeline
from trainwell.train.checkpoint import check_compatible, load_checkpoint
from trainwell.train.tasks import Task, build_task

WEIGHTS = ("best", "final", "ema", "swa", "last")


@dataclass
class Trained:
    """A model ready to use, with everything needed to feed it raw inputs."""

    model: nn.Module
    recipe: Recipe
    pipeline: Pipeline | None
    task: Task
    num_classes: int
    input_shape: tuple[int, ...] | None
    class_names: list[str] | None
    which: str
    step: int | None
    source: Path

    def names(self) -> list[str]:
        return list(self.class_names) if self.class_names else [str(c) for c in range(self.num_classes)]

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return self.pipeline.transform(x) if self.pipeline is not None and len(self.pipeline) else x

    @torch.no_grad()
    def outputs(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """The model's outputs on RAW inputs (preprocessing applied), in eval mode, in batches."""
        from trainwell.train.evaluate import predict_logits

        device = next(self.model.parameters()).device
        x = self.preprocess(x.to(device))
        return predict_logits(self.model, x, batch_size)

    def predict_proba(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        out = self.outputs(x, batch_size)
        if self.task.name == "classification":
            return out.float().softmax(-1)
        if self.task.name == "multilabel":
            return out.float().sigmoid()
        return out.float()


def weights_file(source: str | Path, weights: str = "best") -> Path:
    """The weights file a run directory (or a file path) names."""
    source = Path(source)
    if source.is_file():
        return source
    if not source.exists():
        raise UserError(f"{source}: no such run directory or weights file")
    if weights not in WEIGHTS:
        path = Path(weights)
        if path.is_file():
            return path
        raise UserError(f"--weights must be one of {', '.join(WEIGHTS)} or a file, got {weights!r}")
    path = source / f"{weights}.pt"
    if path.exists():
        return path
    if weights == "best" and (source / "final.pt").exists():
        return source / "final.pt"  # a run without validation data keeps no best weights
    have = sorted(p.name for p in source.glob("*.pt"))
    raise UserError(f"{source} has no {weights}.pt (it has: {', '.join(have) or 'no weights files'}); "
                    f"{'train with train.' + weights + ' set' if weights in ('ema', 'swa') else 'is the run finished?'}")


def load_trained(source: str | Path, weights: str = "best", device: str | torch.device = "cpu",
                 input_shape: tuple[int, ...] | None = None) -> Trained:
    """Rebuild and load a trained model (see the module docstring)."""
    from trainwell.assemble.run import model_for

    path = weights_file(source, weights)
    payload = load_checkpoint(path, device)
    if payload.get("model_class"):
        raise UserError(
            f"{path} holds the weights of your own model class {payload['model_class']} (trained with "
            f"trainwell.fit), which trainwell cannot rebuild: build the model in Python and load them, "
            f"model.load_state_dict(trainwell.load_weights({str(source)!r})), then use it "
            f"(trainwell.evaluate(model, data), model(x))")
    config = payload.get("config")
    if config is None and Path(source).is_dir() and (Path(source) / "config.json").exists():
        from trainwell.assemble.rundir import recipe_of_run

        recipe = recipe_of_run(source)
    elif config is None:
        raise UserError(f"{path} has no saved recipe (config), so its architecture cannot be rebuilt")
    else:
        recipe = recipe_from_dict(config, f"{path} (config)")
    state = payload["model"]
    shape = payload.get("input_shape") or input_shape
    if shape is None:
        raise UserError(f"{path} does not record the input shape; pass input_shape= (the data's example shape)")
    if payload.get("num_classes") is not None:
        num_classes = int(payload["num_classes"])
    else:
        heads = [k for k in state if k.endswith("head.weight")]
        if not heads:
            raise UserError(f"{path}: cannot tell the number of classes (no num_classes, no head.weight)")
        num_classes = int(state[heads[-1]].shape[0])
    model = model_for(recipe, tuple(shape), num_classes, seed=0)
    check_compatible(model, state, str(path))
    model.load_state_dict(state)
    pipeline = Pipeline.from_state_dict(payload["preprocess"]) if payload.get("preprocess") else None
    task = build_task(payload.get("task") or "classification")
    which = payload.get("which") or path.stem
    return Trained(model.to(device).eval(), recipe, pipeline, task, num_classes, tuple(shape),
                   payload.get("class_names"), which, payload.get("step"), path)


__all__ = ["Trained", "WEIGHTS", "load_trained", "weights_file"]
