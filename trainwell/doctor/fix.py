"""`--fix`: apply the diagnosis' prescription to a copy of the recipe, keep it only if it cured the fault.

    result = fix_recipe(recipe, DoctorConfig().quick(), max_steps=3)
    result.recipe        # the repaired recipe (the original when nothing helped)
    result.steps         # each attempt: the finding, the edits, kept or not and why, figures before/after

The loop, at most `max_steps` times:

1. take the first cause of the current diagnosis (causal order) whose prescription edits the
   recipe and has not been tried;
2. apply its edits to a copy of the recipe (the same `--set` overrides a person would type);
3. diagnose the copy with the same budget;
4. keep the change only if the finding is gone AND the short run's balanced validation accuracy
   (mean per-class recall: the accuracy when classes are balanced) did not drop by more than
   `tolerance` (2 points); otherwise discard it and try the next cause.

It stops when no cause is left (healthy), or none has a recipe edit (the fault is in the data or
the code: the prescription says what to change), or after `max_steps` attempts. A Python setup is
never edited: its code changes are reported (`code_changes`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainwell.config import Recipe, recipe_from_dict, recipe_to_dict
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, toml_value
from trainwell.doctor.run import Diagnosis, diagnose


def figures(d: Diagnosis) -> dict[str, Any]:
    """What a person compares before/after: the diagnosis, the counts and the short run's scores."""
    t = d.top
    s = d.scores
    last = d.metrics[-1]["loss"] if d.metrics else math.nan
    return {"top": t.code if t is not None else None, "problems": len(d.causes),
            "val_accuracy": s.get("val_accuracy", math.nan), "balanced_accuracy": s.get("balanced_accuracy", math.nan),
            "train_accuracy": s.get("train_accuracy", math.nan), "train_loss": last}


@dataclass
class FixStep:
    finding: str
    edits: dict[str, Any]
    kept: bool
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class FixResult:
    original: Recipe
    recipe: Recipe
    before: Diagnosis
    after: Diagnosis
    steps: list[FixStep] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(s.kept for s in self.steps)

    @property
    def edits(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in self.steps:
            if s.kept:
                out.update(s.edits)
        return out

    def to_json(self) -> dict[str, Any]:
        from trainwell.doctor.finding import _plain

        return {"changed": self.changed, "edits": _plain(self.edits), "recipe": recipe_to_dict(self.recipe),
                "before": _plain(figures(self.before)), "after": _plain(figures(self.after)),
                "steps": [_plain(s.__dict__) for s in self.steps]}


def apply_edits(recipe: Recipe, edits: dict[str, Any]) -> Recipe:
    """A copy of `recipe` with the edits applied as `--set key=value` overrides."""
    return recipe_from_dict(recipe_to_dict(recipe), f"{recipe.name} (fixed)", [f"{k}={toml_value(v)}" for k, v in edits.items()])


def _candidates(d: Diagnosis, tried: list[dict[str, Any]]) -> list[Finding]:
    return [f for f in d.causes if f.prescription is not None and f.prescription.edits
            and f.prescription.edits not in tried]


def fix_recipe(recipe: Recipe, config: DoctorConfig | None = None, *, max_steps: int = 3, tolerance: float = 0.02,
               diagnosis: Diagnosis | None = None, progress: Callable[[str], None] | None = None) -> FixResult:
    """The repair loop of the module docstring."""
    cfg = config or DoctorConfig(seed=recipe.seed)
    say = progress or (lambda _: None)
    current = recipe
    d = diagnosis if diagnosis is not None else diagnose(recipe, cfg, progress=say)
    first = d
    steps: list[FixStep] = []
    tried: list[dict[str, Any]] = []
    while len(steps) < max_steps:
        todo = _candidates(d, tried)
        if not todo:
            break
        f = todo[0]
        edits = dict(f.prescription.edits)
        tried.append(edits)
        say(f"fix {len(steps) + 1}: {f.code} → {f.prescription.set_args()}")
        candidate = apply_edits(current, edits)
        d2 = diagnose(candidate, cfg, progress=say)
        gone = not any(g.code == f.code and g.problem for g in d2.findings)
        b, a = figures(d), figures(d2)
        key = "balanced_accuracy"  # = accuracy on balanced classes; on imbalanced ones it counts every class
        worse = a[key] == a[key] and b[key] == b[key] and a[key] < b[key] - tolerance
        kept = gone and not worse
        reason = ("the finding is gone" + (" and the balanced validation accuracy held" if not worse else "")
                  if gone else f"{f.code} is still there")
        if gone and worse:
            reason = f"the finding is gone but the balanced validation accuracy fell {b[key]:.1%} → {a[key]:.1%}"
        steps.append(FixStep(f.code, edits, kept, reason, b, a))
        if kept:
            current, d = candidate, d2
            if d.top is None:
                break
    return FixResult(recipe, current, first, d, steps)


def code_changes(d: Diagnosis) -> list[str]:
    """The code changes the diagnosis prescribes for a Python setup, causes in order."""
    return [f"{f.code}: {f.prescription.render('python')}" for f in d.causes if f.prescription is not None]


def recipe_toml(recipe: Recipe) -> str:
    """The recipe as TOML (the search's writer: `tomllib.loads(dumps(d)) == d`)."""
    from trainwell.toml_text import dumps

    return dumps(recipe_to_dict(recipe))


__all__ = ["FixResult", "FixStep", "apply_edits", "code_changes", "figures", "fix_recipe", "recipe_toml"]
