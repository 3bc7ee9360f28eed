"""The `Trainer`: a fast, deterministic, resumable training loop with ordered callbacks.

It takes any `nn.Module`, pre-loaded tensors (sliced by index, see `BatchLoader`), a loss, an
optimizer and an LR schedule. Per step the loss and accuracy are accumulated ON THE DEVICE; the
host reads them once every `log_every` steps (one transfer), which is also when a NaN/Inf loss is
detected. Evaluation runs every `eval_every` steps and at the end; a checkpoint (`last.pt`, and
`best.pt` on a new best validation accuracy) is written atomically after each evaluation.

Determinism: the model is built by the caller (seeded); the batch order comes from the loader's
generator, augmentation from a device generator seeded `seed + 2`, mixing decisions from a CPU
generator seeded `seed + 3`, and modules that use torch's default RNG (e.g. nn.Dropout) from the
default generator seeded `seed + 4` at the start of `fit`. All of these states go into the
checkpoint, so `fit(resume=...)` continues a killed run to the same result as an uninterrupted one.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainwell.data.loader import BatchLoader
from trainwell.errors import UserError
from trainwell.train.callbacks import Callback, Dispatcher
from trainwell.io import atomic_copy
from trainwell.train.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from trainwell.train.evaluate import evaluate
from trainwell.train.state import TrainState

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Mixer = Callable[[torch.Tensor, torch.Tensor, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class Diverged(RuntimeError):
    """Training stopped on a non-finite loss."""


def cross_entropy(label_smoothing: float = 0.0) -> LossFn:
    """Cross-entropy on logits with hard (int) or soft (N×C probabilities) targets."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing)

    return loss


def default_eval_every(steps_per_epoch: int, total_steps: int) -> int:
    """Once per epoch, but at most ~20 evaluations per run."""
    return max(steps_per_epoch, math.ceil(total_steps / 20))


class Trainer:
    """Train `model` on `loader` for `total_steps` optimizer steps.

    Args:
        model: any nn.Module mapping a batch x to logits N×C.
        loader: a BatchLoader over the training tensors (on the device).
        optimizer: a torch optimizer over the model's parameters.
        total_steps: optimizer steps to take.
        lr_scheduler: an object with `.set(step) -> lr` (trainwell.optim.LRScheduler), or None.
        loss_fn: loss(logits, target); default cross-entropy. Targets are labels, or N×C soft
            targets when a mixer is used.
        val: (x_val, y_val) evaluated every `eval_every` steps and at the end.
        augment: callable(x, generator) applied to each training batch.
        mixer: callable(x, y, num_classes, generator) -> (x, soft targets), used on a fraction
            `mix_prob` of the batches (Mixup/CutMix).
        penalty: callable(model) -> scalar added to the loss (L1/L2/elastic net), or None.
        grad_clip: clip the global gradient norm to this value.
        callbacks: extra Callback objects.
        run_dir: where metrics JSONL and checkpoints go (None: keep records in memory).
        extra_checkpoint: plain data saved in every checkpoint (config, preprocessing state).
    """

    def __init__(
        self,
        model: nn.Module,
        loader: BatchLoader,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        *,
        lr_scheduler: Any = None,
        loss_fn: LossFn | None = None,
        val: tuple[torch.Tensor, torch.Tensor] | None = None,
        eval_every: int | None = None,
        log_every: int = 20,
        augment: Augment | None = None,
        mixer: Mixer | None = None,
        mix_prob: float = 1.0,
        num_classes: int | None = None,
        penalty: Callable[[nn.Module], torch.Tensor] | None = None,
        grad_clip: float | None = None,
        callbacks: Sequence[Callback] = (),
        seed: int = 0,
        run_dir: str | Path | None = None,
        checkpoint: bool = True,
        extra_checkpoint: dict[str, Any] | None = None,
    ):
        if total_steps < 1:
            raise UserError(f"total_steps must be >= 1, got {total_steps}")
        if mixer is not None and num_classes is None:
            raise UserError("a mixer needs num_classes (to build soft targets)")
        self.model = model
        self.loader = loader
        self.optimizer = optimizer
        self.total_steps = total_steps
        self.lr_scheduler = lr_scheduler
        self.loss_fn = loss_fn or cross_entropy()
        self.val = val
        self.steps_per_epoch = len(loader)
        self.eval_every = eval_every or default_eval_every(self.steps_per_epoch, total_steps)
        self.log_every = log_every
        self.augment = augment
        self.mixer = mixer
        self.mix_prob = mix_prob
        self.num_classes = num_classes
        self.penalty = penalty
        self.grad_clip = grad_clip
        self.callbacks = list(callbacks)
        self.dispatch = Dispatcher(self.callbacks)
        self.seed = seed
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpoint = checkpoint and self.run_dir is not None
        self.extra_checkpoint = extra_checkpoint or {}
        self.device = loader.x.device
        self.aug_generator = torch.Generator(device=self.device).manual_seed(seed + 2)
        self.mix_generator = torch.Generator().manual_seed(seed + 3)
        self._sums = torch.zeros(2, device=self.device)  # loss sum and correct count of the log window
        self._sums_n = 0  # examples in the log window
        self._window_start = 0
        self.params = [p for p in model.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: str | Path | dict[str, Any] | None = None) -> TrainState:
        """Run training to `total_steps` (or from a checkpoint onwards). Returns the final state."""
        state = TrainState(
            model=self.model,
            optimizer=self.optimizer,
            total_steps=self.total_steps,
            device=self.device,
            run_dir=self.run_dir,
            steps_per_epoch=self.steps_per_epoch,
        )
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(self.seed + 4)
        if resume is not None:
            self._restore(resume if isinstance(resume, dict) else load_checkpoint(resume, self.device), state)
        self.model.train()
        self.dispatch("on_fit_start", state)
        self._window_start, self._t0 = state.step, time.perf_counter()
        try:
            while state.step < self.total_steps and not state.stop:
                self._step(state)
            if not state.diverged and state.step % self.eval_every:  # final evaluation unless one just ran
                self._evaluate(state)
            self.dispatch("on_fit_end", state)
        finally:
            state.close()
        return state

    def _step(self, state: TrainState) -> None:
        spe = self.steps_per_epoch
        if state.step % spe == 0:
            state.epoch = state.step // spe
            self.dispatch("on_epoch_start", state)
        x, y = self.loader.next_batch()
        state.batch = (x, y)
        self.dispatch("on_batch_start", state)
        if self.lr_scheduler is not None:
            state.lr = self.lr_scheduler.set(state.step)
        if self.augment is not None:
            x = self.augment(x, self.aug_generator)
        target = y
        if self.mixer is not None and (
            self.mix_prob >= 1.0 or torch.rand((), generator=self.mix_generator).item() < self.mix_prob
        ):
            x, target = self.mixer(x, y, self.num_classes, self.aug_generator)
        logits = self.model(x)
        loss = self.loss_fn(logits, target)
        objective = loss + self.penalty(self.model) if self.penalty is not None else loss
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.dispatch("on_after_backward", state)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip, foreach=True)
        self.optimizer.step()
        state.step += 1
        loss = loss.detach()
        state.loss = loss
        self._sums[0].add_(loss, alpha=len(y))  # on the device: no sync
        self._sums[1].add_((logits.detach().argmax(1) == y).sum())
        self._sums_n += len(y)
        self.dispatch("on_batch_end", state)
        eval_due = state.step % self.eval_every == 0 or state.step == self.total_steps
        if state.step % self.log_every == 0 or eval_due:
            self._log(state)
        if eval_due and not state.diverged:
            self._evaluate(state)
        if state.step % spe == 0:
            self.dispatch("on_epoch_end", state)

    # ------------------------------------------------------------------ logging / eval
    def _log(self, state: TrainState) -> None:
        loss_sum, correct = self._sums.tolist()  # the one host transfer of the window
        n = max(self._sums_n, 1)
        now = time.perf_counter()
        seconds = max(now - self._t0, 1e-9)
        steps = state.step - self._window_start
        record = {
            "split": "train",
            "step": state.step,
            "epoch": state.step / self.steps_per_epoch,
            "loss": loss_sum / n,
            "accuracy": correct / n,
            "lr": state.lr,
            "steps_per_s": steps / seconds,
            "examples_per_s": n / seconds,
        }
        self._sums.zero_()
        self._sums_n = 0
        self._window_start, self._t0 = state.step, now
        state.metrics.update({"loss": record["loss"], "accuracy": record["accuracy"], "lr": state.lr,
                              "steps_per_s": record["steps_per_s"]})
        state.emit("metrics", record)
        self.dispatch("on_log", state, record)
        if not math.isfinite(record["loss"]):
            state.stop = state.diverged = True
            state.stop_reason = (
                f"the training loss became {record['loss']} by step {state.step} (lr={state.lr:.3g}); "
                "the learning rate is likely too high — lower optim.lr (e.g. 10×) or clip gradients "
                "(optim.grad_clip). The last good checkpoint was kept."
            )

    def _evaluate(self, state: TrainState) -> None:
        metrics: dict[str, Any] = {"split": "val", "step": state.step, "epoch": state.step / self.steps_per_epoch}
        if self.val is not None and len(self.val[0]):
            result = evaluate(self.model, *self.val)
            metrics.update(result)
            state.metrics.update({"val_loss": result["loss"], "val_accuracy": result["accuracy"]})
            state.emit("metrics", metrics)
        improved = metrics.get("accuracy", -1.0) > state.best_val_accuracy
        if improved:
            state.best_val_accuracy, state.best_step = metrics.get("accuracy", -1.0), state.step
        self.dispatch("on_eval_end", state, metrics)
        finite = math.isfinite(state.metrics.get("loss", 0.0)) and math.isfinite(metrics.get("loss", 0.0))
        if self.checkpoint and finite:
            save_checkpoint(self.run_dir / "last.pt", self.checkpoint_payload(state))
            if improved:  # the same bytes: copy the file instead of serializing twice
                atomic_copy(self.run_dir / "last.pt", self.run_dir / "best.pt")

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_payload(self, state: TrainState) -> dict[str, Any]:
        return {
            "format": "trainwell-checkpoint-1",
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": state.step,
            "epoch": state.epoch,
            "total_steps": self.total_steps,
            "best_val_accuracy": state.best_val_accuracy,
            "best_step": state.best_step,
            "loader": self.loader.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "augment": self.aug_generator.get_state(),
                "mix": self.mix_generator.get_state(),
            },
            "window": {"sums": self._sums.cpu(), "n": self._sums_n},
            "callbacks": [c.state_dict() for c in self.callbacks],
            **self.extra_checkpoint,
        }

    def _restore(self, ckpt: dict[str, Any], state: TrainState) -> None:
        check_compatible(self.model, ckpt["model"], "checkpoint")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        state.step, state.epoch = int(ckpt["step"]), int(ckpt["epoch"])
        state.best_val_accuracy, state.best_step = float(ckpt["best_val_accuracy"]), int(ckpt["best_step"])
        self.loader.load_state_dict(ckpt["loader"])
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.aug_generator.set_state(rng["augment"])
        self.mix_generator.set_state(rng["mix"])
        self._sums.copy_(ckpt["window"]["sums"].to(self.device))
        self._sums_n = int(ckpt["window"]["n"])
        for callback, saved in zip(self.callbacks, ckpt.get("callbacks", [])):
            callback.load_state_dict(saved)
        if self.lr_scheduler is not None:
            state.lr = self.lr_scheduler.set(state.step)
