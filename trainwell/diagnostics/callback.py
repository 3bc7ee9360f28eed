"""`StatsCallback`: `LayerStats` wired to the Trainer's events, records emitted to the "stats" stream.

    on_batch_start     sampled step (step % every == 0, or after sample_next())? → register hooks
    on_after_backward  gradient norms + weight snapshot
    on_batch_end       update ratios, the record (ONE device→host transfer), state.emit("stats", record)
    on_eval_end        (include_eval=True) the evaluation's record, phase "eval"
    on_fit_end         all hooks removed

`record["step"]` is the number of optimizer steps done *before* the captured one (the trainer's
`state.step` at `on_batch_start`), so the first captured step is step 0 — the network at init.

In a data-parallel run (torch.distributed, several processes) every process captures the same
steps on its share of the batch; the records are gathered to rank 0 (one collective a captured
step), merged into the global batch's (`trainwell.diagnostics.merge`) and emitted there only.

Example:
    >>> trainer = Trainer(..., callbacks=[StatsCallback(every=10, bins=40)])
    >>> state = trainer.fit()       # run_dir/stats.jsonl, or state.records["stats"]
"""
from __future__ import annotations

from typing import Any

from trainwell.diagnostics.capture import LayerStats
from trainwell.errors import UserError

try:  # the Trainer's base class when it is there; the same event names otherwise
    from trainwell.train.callbacks import Callback as _Base
except ImportError:  # pragma: no cover - only before trainwell.train exists
    _Base = object  # type: ignore[assignment,misc]


class StatsCallback(_Base):  # type: ignore[misc,valid-type]
    """Per-layer statistics every `every` steps (see `trainwell.diagnostics.capture`)."""

    order = 50  # after callbacks that change the model/optimizer at batch start, before loggers

    def __init__(self, every: int = 10, bins: int = 40, include_eval: bool = False, stream: str = "stats"):
        if every < 1:
            raise UserError(f"StatsCallback: every must be ≥ 1, found {every}")
        if bins < 1:
            raise UserError(f"StatsCallback: bins must be ≥ 1, found {bins}")
        self.every, self.bins, self.include_eval, self.stream = every, bins, include_eval, stream
        self.recorder: LayerStats | None = None
        self._force_next = False

    def sample_next(self) -> None:
        """Capture the next training step whatever its number."""
        if self.recorder is None:
            self._force_next = True
        else:
            self.recorder.sample_next()

    def _recorder(self, state: Any) -> LayerStats:
        if self.recorder is None or self.recorder.model is not state.model:
            if self.recorder is not None:
                self.recorder.close()
            self.recorder = LayerStats(state.model, self.every, self.bins, include_eval=self.include_eval)
            if self._force_next:
                self.recorder.sample_next()
                self._force_next = False
        return self.recorder

    def on_fit_start(self, state: Any) -> None:
        self._recorder(state)

    def on_batch_start(self, state: Any) -> None:
        rec = self._recorder(state)
        if rec.active:  # an evaluation capture that no evaluation used
            rec.cancel()
        if rec.should_sample(state.step):
            rec.start(state.step, phase="train")

    def on_after_backward(self, state: Any) -> None:
        if self.recorder is not None and self.recorder.active:
            self.recorder.after_backward()

    def on_batch_end(self, state: Any) -> None:
        rec = self.recorder
        if rec is None:
            return
        if rec.active:  # hooks stay for a captured next step (evaluation included)
            record = rec.finish(keep_hooks=self.include_eval or rec.should_sample(state.step))
            record["epoch"] = state.epoch
            self._emit(state, record)
        if self.include_eval:
            rec.start(state.step, phase="eval")  # recorded only if an evaluation runs next

    def on_eval_end(self, state: Any, metrics: dict[str, Any]) -> None:
        rec = self.recorder
        if rec is not None and rec.active and rec.phase == "eval":
            record = rec.finish()
            record["epoch"] = state.epoch
            self._emit(state, record)

    def _emit(self, state: Any, record: dict[str, Any]) -> None:
        from trainwell.train.distributed import current, gather_to_main

        if current() is not None:  # data-parallel: the processes' records merged, on rank 0 only
            from trainwell.diagnostics.merge import merge_records

            records = gather_to_main(record)
            if records is None:
                return
            record = merge_records(records)
        if record["layers"] or record["phase"] == "train":
            state.emit(self.stream, record)

    def on_fit_end(self, state: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
