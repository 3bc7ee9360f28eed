"""Independent ensembles: K models of one recipe from K seeds, averaged (`Ensemble`).

Member k uses seed ``recipe.seed + 10·k`` (`member_seeds`): its initial weights, batch order
and dropout masks differ; the data split and preprocessing are the recipe's and SHARED by all
members (prepared once), so the members' probabilities on the same test inputs can be averaged.
(The stride 10 keeps the per-seed streams seed, seed+1, ..., seed+5 of different members apart.)

The members train through `trainwell.assemble.train_members`: as ONE vectorized model when the
recipe and model allow it and it is faster on this device (`trainwell.vectorized.choose_engine`:
on a CPU a ConvNet vectorizes from 16 members), else one by one through the same loop as `trainwell train`;
the decision and its reason are returned (`EnsembleRun.decision`, `.fallback`) and printed by
`trainwell ensemble`. Both paths use the Trainer's decay rule (no weight decay on biases and
normalization parameters).

Example:
    >>> run = train_independent(load_recipe("ensemble_mnist1d"), members=5)
    >>> run.scores["ensemble"], run.scores["mean_member"], run.engine
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainwell.config import Recipe, recipe_to_dict
from trainwell.data import DataBundle
from trainwell.ensemble.ensemble import Ensemble, spec_for
from trainwell.errors import UserError
from trainwell.preprocess import Pipeline

ENGINES = ("auto", "vectorized", "one_by_one")


def member_seeds(seed: int, members: int) -> list[int]:
    """Seeds of the members: seed, seed + 10, seed + 20, ..."""
    if not isinstance(members, int) or members < 1:
        raise UserError(f"an ensemble needs members >= 1, got {members!r}")
    return [seed + 10 * k for k in range(members)]


@dataclass
class EnsembleRun:
    """What an ensemble run produced: the ensemble, how it was trained, and its test scores."""

    method: str
    ensemble: Ensemble
    recipe: Recipe
    data: DataBundle
    pipeline: Pipeline
    seeds: list[int]
    engine: str
    train_seconds: float
    fallback: list[str] = field(default_factory=list)
    decision: str = ""  # which path trained the members and why (`MembersResult.decision`)
    notes: list[str] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """Plain data for JSON and the report."""
        return {"method": self.method, "recipe": self.recipe.name, "seeds": self.seeds, "engine": self.engine,
                "members": len(self.ensemble), "train_seconds": self.train_seconds, "fallback": self.fallback,
                "decision": self.decision,
                "notes": self.notes, "scores": self.scores, "data": self.data.describe(), **self.extra}


def train_independent(
    recipe: Recipe,
    members: int = 5,
    *,
    engine: str = "auto",
    out_dir: str | Path | None = None,
    progress: bool = False,
    tta: Any = None,
) -> EnsembleRun:
    """Train `members` models of `recipe` from different seeds and score them on the test set.

    engine: "auto" (vectorized when the recipe allows it and it is faster, else one by one),
    "vectorized" (UserError listing what it does not support), "one_by_one".
    `tta`: a test-time augmentation spec applied to every member when scoring (None: the recipe's
    ``augment.tta``; "none": plain predictions). Scores: `trainwell.ensemble.metrics.ensemble_scores`.
    """
    from trainwell.assemble import prepare, train_members

    if engine not in ENGINES:
        raise UserError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    seeds = member_seeds(recipe.seed, members)
    data, device = prepare(recipe)
    out = Path(out_dir) if out_dir else None
    recipes = []
    for k, seed in enumerate(seeds):
        rk = recipe.model_copy(update={"seed": seed})
        rk.name = f"{recipe.name}-member{k}"
        recipes.append(rk)
    result = train_members(recipes, data, device, engine=engine, progress=progress, label=recipe.name,
                           run_dirs=[out / f"member-{k}" if out is not None else None for k in range(members)])
    bundle = data.bundle
    ens = Ensemble(result.models, spec_for(recipe.model, bundle.input_shape, bundle.num_classes),
                   config=recipe_to_dict(recipe), preprocess=data.pipeline.state_dict())
    run = EnsembleRun("independent", ens, recipe, bundle, data.pipeline, seeds, result.engine, result.seconds,
                      fallback=result.reasons, decision=result.decision)
    score(run, tta)
    return run


def score(run: EnsembleRun, tta: Any = None) -> EnsembleRun:
    """Fill `run.scores` with test scores (and `scores_tta` with test-time augmentation)."""
    from trainwell.ensemble.metrics import ensemble_scores, growth

    tta = run.recipe.augment.tta if tta is None else tta
    d = run.data
    probs = run.ensemble.member_proba(d.x_test)
    run.scores = ensemble_scores(probs, d.y_test)
    run.scores["growth"] = growth(probs, d.y_test)
    if tta is not None and tta != "none":
        run.scores["tta"] = ensemble_scores(run.ensemble.member_proba(d.x_test, tta=tta), d.y_test)
        run.scores["tta_spec"] = tta
    return run


__all__ = ["ENGINES", "EnsembleRun", "member_seeds", "score", "train_independent"]
