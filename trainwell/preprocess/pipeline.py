"""Pipeline: several preprocessors applied in order, each fitted on the previous one's output.

    fit:        x_0 = x;  step_i.fit(x_{i-1});  x_i = step_i.transform(x_{i-1})
    transform:  step_n(... step_1(x))
    inverse:    step_1⁻¹(... step_n⁻¹(y))      (in reverse order)

The state dict records each step's name and options, so a checkpoint rebuilds the pipeline
without the code that made it:

    >>> pipe = build_pipeline(["standardize", {"name": "pca", "k": 10}]).fit(train_x)
    >>> torch.save({"preprocess": pipe.state_dict(), ...}, path)
    >>> pipe2 = Pipeline.from_state_dict(torch.load(path, weights_only=True)["preprocess"])
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from torch import Tensor

from trainwell.errors import UserError
from trainwell.preprocess.base import NotFittedError, Preprocessor
from trainwell.preprocess.registry import PREPROCESSORS, preprocessor_from_state_dict
from trainwell.registry import Spec


class Pipeline:
    """An ordered list of preprocessors with one fit / transform / inverse_transform / state_dict."""

    name = "pipeline"

    def __init__(self, steps: Sequence[Preprocessor]) -> None:
        steps = list(steps)
        for i, step in enumerate(steps):
            if not isinstance(step, Preprocessor):
                raise UserError(
                    f"Pipeline step {i} must be a preprocessor (e.g. Standardize()), got {type(step).__name__}"
                )
        self.steps: list[Preprocessor] = steps

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Preprocessor]:
        return iter(self.steps)

    def __getitem__(self, i: int) -> Preprocessor:
        return self.steps[i]

    @property
    def fitted(self) -> bool:
        """True when every step is fitted (an empty pipeline is the identity and always fitted)."""
        return all(step.fitted for step in self.steps)

    def fit(self, x: Tensor) -> "Pipeline":
        """Fit each step on the output of the steps before it (training data only). Returns self."""
        for i, step in enumerate(self.steps):
            step.fit(x)
            if i + 1 < len(self.steps):
                x = step.transform(x)
        return self

    def transform(self, x: Tensor) -> Tensor:
        """Apply every step in order; the statistics are not changed."""
        self._require_fitted("transform")
        for step in self.steps:
            x = step.transform(x)
        return x

    def as_module(self, dtype=None, device="cpu"):
        """The fitted pipeline as an `nn.Sequential` of traceable modules (see `Preprocessor.as_module`)."""
        import torch

        self._require_fitted("as_module")
        return torch.nn.Sequential(*(s.as_module(dtype or torch.float32, device) for s in self.steps))

    def inverse_transform(self, y: Tensor) -> Tensor:
        """Undo the steps in reverse order (PCA with k < D projects, see `PCA`)."""
        self._require_fitted("inverse_transform")
        for step in reversed(self.steps):
            y = step.inverse_transform(y)
        return y

    def fit_transform(self, x: Tensor) -> Tensor:
        return self.fit(x).transform(x)

    def _require_fitted(self, method: str) -> None:
        missing = [f"{i}:{s.name}" for i, s in enumerate(self.steps) if not s.fitted]
        if missing:
            raise NotFittedError(
                f"pipeline steps {missing} are not fitted: call pipeline.fit(train_x) before .{method}()"
            )

    def state_dict(self) -> dict[str, Any]:
        """{"name": "pipeline", "steps": [step.state_dict(), ...]} — plain, weights_only-safe."""
        return {"name": self.name, "steps": [step.state_dict() for step in self.steps]}

    def load_state_dict(self, sd: Mapping[str, Any]) -> "Pipeline":
        """Load each step's state; the step names must match this pipeline's, in order."""
        steps = _check_pipeline_sd(sd)
        mine = [s.name for s in self.steps]
        theirs = [s.get("name") if isinstance(s, Mapping) else None for s in steps]
        if mine != theirs:
            raise UserError(f"Pipeline.load_state_dict: this pipeline has steps {mine}, the state dict has {theirs}")
        for step, step_sd in zip(self.steps, steps):
            step.load_state_dict(step_sd)
        return self

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, Any]) -> "Pipeline":
        """Rebuild the steps by name (from PREPROCESSORS) with their options, then load them."""
        return cls([preprocessor_from_state_dict(step_sd) for step_sd in _check_pipeline_sd(sd)])

    def __repr__(self) -> str:
        if not self.steps:
            return "Pipeline([])"
        inner = "".join(f"\n  ({i}) {step!r}," for i, step in enumerate(self.steps))
        return f"Pipeline([{inner}\n])"


def _check_pipeline_sd(sd: Any) -> list[Any]:
    if not isinstance(sd, Mapping) or sd.get("name") != Pipeline.name or not isinstance(sd.get("steps"), list):
        found = sorted(sd) if isinstance(sd, Mapping) else type(sd).__name__
        raise UserError(
            f"expected a pipeline state dict {{'name': 'pipeline', 'steps': [...]}}, found {found}"
        )
    return sd["steps"]


def build_pipeline(specs: Sequence[Spec]) -> Pipeline:
    """A Pipeline from registry specs: ["standardize", {"name": "pca", "k": 10}]."""
    if isinstance(specs, (str, Mapping)):
        specs = [specs]
    return Pipeline([PREPROCESSORS.build(spec) for spec in specs])
