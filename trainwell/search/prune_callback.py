"""The Trainer side of pruning: a callback that reports each evaluation to the Optuna trial.

`PruningCallback` is an ordinary trainwell `Callback` (nothing is patched): after each evaluation
(``on_eval_end(state, metrics)``) it calls ``trial.report(value, step)`` with the trial's figure
(validation accuracy, or validation loss for ``objective = "val_loss"``) and, when
``trial.should_prune()`` says so, sets ``state.stop`` and ``state.stop_reason``; the Trainer then
ends the run after that step. It also keeps the run's metric records and asks the `hopeless`
function (`trainwell.search.pruning`) after each log window and evaluation; a verdict stops the run
the same way. The verdict is kept in `TrialPruning.verdict` for the worker, which tells the study
PRUNED. Nothing happens at the last step: a finished run is never pruned.

Example (no Optuna trial: hopeless verdicts only):
    >>> cb = PruningCallback(TrialPruning(trial=None), chance=0.1, n_val=400)
    >>> trainer = make_trainer(prepared, run_dir, callbacks=[cb])  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainwell.search.pruning import Hopeless, hopeless
from trainwell.train.callbacks import Callback
from trainwell.train.state import TrainState


@dataclass
class TrialPruning:
    """What one trial's pruning needs, and its outcome.

    trial: the `optuna.Trial` (None: hopeless verdicts only). metric: "accuracy" or "val_loss".
    pruner: the name of the study's pruner ("none": never ask it). verdict: why it was stopped.
    """

    trial: Any = None
    metric: str = "accuracy"
    pruner: str = "none"
    hopeless: Hopeless | None = hopeless
    verdict: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    def figure(self, metrics: dict[str, Any]) -> float | None:
        return metrics.get("accuracy") if self.metric == "accuracy" else metrics.get("loss")


class PruningCallback(Callback):
    """Report evaluations to the trial; stop on a pruner's or a hopeless verdict (module docstring)."""

    order = 50  # after loggers and EMA/SWA bookkeeping

    def __init__(self, pruning: TrialPruning, chance: float | None = None, n_val: int | None = None):
        self.pruning = pruning
        self.chance = chance
        self.n_val = n_val
        self.last_eval = -1

    def _stop(self, state: TrainState, verdict: str) -> None:
        self.pruning.verdict = verdict
        state.stop = True
        state.stop_reason = verdict

    def _hopeless(self, state: TrainState) -> None:
        check = self.pruning.hopeless
        if check is None or state.stop or state.step >= state.total_steps:
            return
        verdict = check(self.pruning.records, state.total_steps, chance=self.chance, n_val=self.n_val)
        if verdict:
            self._stop(state, f"hopeless ({verdict})")

    def on_log(self, state: TrainState, record: dict[str, Any]) -> None:
        self.pruning.records.append(dict(record))
        self._hopeless(state)

    def on_eval_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        value = self.pruning.figure(metrics)
        if value is None or state.step == self.last_eval:  # the same evaluation again (the Trainer's final one)
            return
        self.last_eval = state.step
        self.pruning.records.append(dict(metrics))
        trial = self.pruning.trial
        if trial is not None:
            trial.report(float(value), state.step)
            if self.pruning.pruner != "none" and state.step < state.total_steps and not state.stop and trial.should_prune():
                name = "val loss" if self.pruning.metric == "val_loss" else "val accuracy"
                self._stop(state, f"pruned by the {self.pruning.pruner} pruner at step {state.step} ({name} {value:.4g})")
                return
        self._hopeless(state)
