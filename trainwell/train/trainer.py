"""The `Trainer`: a fast, deterministic, resumable training loop with ordered callbacks.

It takes any `nn.Module`, a batch source (`trainwell.data.adapt.as_source`: tensors resident on the
device, a torch Dataset or your DataLoader), an optimizer, `TrainerSettings`, and optionally an LR
scheduler, a loss, a task (classification, multi-label, regression), validation data,
augmentation, a mixer, a penalty and callbacks.

Per step the loss and the task's running sums stay ON THE DEVICE (small outputs are kept and scored
in one batched call at the log step); the host reads them once every `log_every` steps (one
transfer), which is also when a NaN/Inf loss is detected. Evaluation runs
every `eval_every` steps and at the end; a resumable checkpoint (`last.pt`) is written atomically
after each evaluation (the best weights are kept by the `BestWeights` callback).

A step: `accumulate` micro-batches, each forward (under autocast for bf16/fp16) and backward with
its loss divided by `accumulate`; then `on_after_backward`, gradient clipping, the optimizer step
(through a gradient scaler for fp16) and `on_batch_end`. Steps, schedules and `total_steps` count
optimizer steps.

Randomness (see `TrainerSettings`): the batch order is the data source's; augmentation draws from
a generator seeded `seed + 2`, mixing decisions from one seeded `seed + 3`, and modules that use
torch's default generator (nn.Dropout) see it seeded `seed + 4` — inside `torch.random.fork_rng`,
so the caller's global RNG state is the same after `fit` as before. All of these states go into the
checkpoint, so `fit(resume=...)` continues a killed run to the same result as an uninterrupted one;
the run's record streams (*.jsonl) are cut back to the checkpoint's step first, so no step is logged twice.

Data-parallel runs (torch.distributed initialized with several processes, e.g. under torchrun):
the few lines marked "data-parallel" train through DistributedDataParallel, shard validation, sum
the metrics of each log window and evaluation over the processes (one all_reduce each), give each
process its own random streams and leave every file to rank 0 — see `trainwell.train.distributed`.
A single process (`self.procs is None`) runs none of them.
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.io import ensure_dir, trim_jsonl
from trainwell.train import distributed
from trainwell.train.callbacks import Callback, Dispatcher
from trainwell.train.checkpoint import check_compatible, check_resumable, load_checkpoint, save_checkpoint
from trainwell.train.evaluate import evaluate, evaluate_batches
from trainwell.train.settings import TrainerSettings, default_eval_every
from trainwell.train.state import TrainState
from trainwell.train.tasks import Classification, LossFn, Task

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Mixer = Callable[[torch.Tensor, torch.Tensor, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


# outputs of at most this many elements are kept until the log step and scored there in one call
# (fewer small ops per step); larger ones (images, sequences) are reduced at once to save memory
DEFER_ELEMENTS = 1 << 16


class Diverged(RuntimeError):
    """Training stopped on a non-finite loss."""


def cross_entropy(label_smoothing: float = 0.0) -> LossFn:
    """Cross-entropy on logits with hard (int) or soft (N×C probabilities) targets."""
    return Classification(label_smoothing=label_smoothing).default_loss()


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" → "bf16" where `device` computes bfloat16 natively, else "fp32"; others unchanged.

    Native: a CUDA device with bf16 support (Ampere and later), or a CPU with AVX512-BF16 or AMX
    tiles. Elsewhere bf16 autocast is emulated and usually slower than fp32. Measured on the
    default recipe (CPU with AMX, 1 thread): bf16 1.47× the steps/s of fp32 at the same test
    accuracy (bench/bench_engine_options.py)."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        try:
            native = any(bool(probe()) for probe in probes if probe is not None)
        except (RuntimeError, AttributeError):
            native = False
        return "bf16" if native else "fp32"
    return "fp32"


def autocast_for(device: torch.device, precision: str) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of autocast contexts for `precision` on `device` (a no-op context for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "fp16" and device.type != "cuda":
        raise UserError("train.precision = \"fp16\" needs a CUDA device (its gradient scaler is for GPUs); "
                        "use \"bf16\" on the CPU")
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


class Trainer:
    """Train `model` on `source` for `settings.total_steps` optimizer steps (see the module docstring).

    Args:
        model: any nn.Module mapping a batch x to outputs (logits N×C for classification).
        source: a batch source (`next_batch()`, `len`, `state_dict`): `trainwell.data.BatchLoader`,
            or what `trainwell.data.adapt.as_source` makes of a Dataset or DataLoader.
        optimizer: a torch optimizer over the model's parameters.
        settings: `TrainerSettings` (steps, evaluation and logging cadence, seed, clipping,
            accumulation, precision, compile, run directory, checkpoints).
        scheduler: an object with `.set(step) -> lr` (trainwell.optim.LRScheduler), or None.
        loss: loss(outputs, target); default: the task's (cross-entropy for classification).
        task: a `trainwell.train.tasks.Task` (default classification).
        val: validation data — (x, y) tensors on the device, or a Dataset/DataLoader.
        eval_loss: the loss reported on validation data (default: the task's plain loss, e.g.
            cross-entropy without label smoothing).
        augment: callable(x, generator) applied to each training batch.
        mixer: callable(x, y, num_classes, generator) -> (x, soft targets) (Mixup/CutMix) on a
            fraction `settings.mix_prob` of the batches; needs `num_classes`.
        penalty: callable(model) -> scalar added to the loss (L1/L2/elastic net).
        callbacks: Callback objects (run in ascending `order`).
        metrics: extra validation metrics {name: torchmetrics Metric or fn(outputs, targets)}
            (`trainwell.train.metrics`), logged as val_<name> at each evaluation.
    """

    def __init__(
        self,
        model: nn.Module,
        source: Any,
        optimizer: torch.optim.Optimizer,
        settings: TrainerSettings,
        *,
        scheduler: Any = None,
        loss: LossFn | None = None,
        task: Task | None = None,
        val: Any = None,
        eval_loss: LossFn | None = None,
        augment: Augment | None = None,
        mixer: Mixer | None = None,
        num_classes: int | None = None,
        penalty: Callable[[nn.Module], torch.Tensor] | None = None,
        callbacks: Sequence[Callback] = (),
        metrics: dict[str, Any] | None = None,
    ):
        if not isinstance(settings, TrainerSettings):
            raise UserError(f"Trainer expects TrainerSettings as `settings`, got {type(settings).__name__}")
        if not hasattr(source, "next_batch"):
            raise UserError(f"Trainer expects a batch source (trainwell.data.adapt.as_source(...)), got "
                            f"{type(source).__name__}")
        if mixer is not None and num_classes is None:
            raise UserError("a mixer needs num_classes (to build soft targets)")
        self.model = model
        self.source = source
        self.optimizer = optimizer
        self.settings = s = settings
        self.scheduler = scheduler
        self.task = task or Classification()
        self.loss_fn = loss or self.task.default_loss()
        self.eval_loss = eval_loss or type(self.task)().default_loss()
        self.val = val
        self.augment = augment
        self.mixer = mixer
        self.num_classes = num_classes
        self.penalty = penalty
        self.callbacks = list(callbacks)
        self.dispatch = Dispatcher(self.callbacks)
        self.metrics = None
        if metrics:
            from trainwell.train.metrics import MetricSet

            self.metrics = MetricSet(metrics, self.task.name)
        self.steps_per_epoch = max(len(source) // s.accumulate, 1)
        self.eval_every = s.eval_every or default_eval_every(self.steps_per_epoch, s.total_steps)
        self.run_dir = s.run_dir
        self.checkpoint = s.checkpoint and self.run_dir is not None
        self.device = self._device()
        self.procs = distributed.current()  # data-parallel: the process group (None: one process)
        self._ddp: nn.Module | None = None
        self._val_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._seed = s.seed
        if self.procs is not None:  # data-parallel: DDP, sharded validation, own streams, rank 0 writes
            distributed.check_sharded(source, self.procs)
            self._ddp = distributed.wrap(model, self.device)
            self.val, self._val_reduce = distributed.shard_val(val, self.procs, self.device)
            self._seed = distributed.rank_seed(s.seed, self.procs.rank)
            self.run_dir = self.run_dir if self.procs.is_main else None
        self.precision = resolve_precision(s.precision, self.device)  # "auto" → what this device runs natively
        self.autocast = autocast_for(self.device, self.precision)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.aug_generator = torch.Generator(device=self.device).manual_seed(self._seed + 2)
        self.mix_generator = torch.Generator().manual_seed(self._seed + 3)
        self.default_rng: dict[str, Any] | None = None  # the run's own default-generator states
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.forward: Callable[[Any], torch.Tensor] = model if self._ddp is None else self._ddp
        if s.compile:
            self.forward = self._compiled(self.forward)
        self._fp32 = self.precision == "fp32"
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []
        self._sums: list[torch.Tensor] = []
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._window_start = 0
        self._t0 = time.perf_counter()
        self._evaluated_at = -1
        self._checkpoint_time, self._checkpointed_at = time.perf_counter(), -1

    # ------------------------------------------------------------------ set-up helpers
    def _device(self) -> torch.device:
        x = getattr(self.source, "x", None)
        if isinstance(x, torch.Tensor):
            return x.device
        device = getattr(self.source, "device", None)
        if isinstance(device, torch.device):
            return device
        first = next(iter(self.model.parameters()), None)
        return first.device if first is not None else torch.device("cpu")

    def _compiled(self, model: Callable[[Any], torch.Tensor]) -> Callable[[Any], torch.Tensor]:
        try:
            compiled = torch.compile(model)
        except Exception as exc:  # noqa: BLE001 — any failure means: run eager
            warnings.warn(f"torch.compile is not available here ({type(exc).__name__}: {exc}); training eagerly",
                          stacklevel=3)
            return model
        state = {"fn": compiled}

        def forward(x: Any) -> torch.Tensor:
            try:
                return state["fn"](x)
            except Exception as exc:  # noqa: BLE001 — the first call compiles; a failure falls back
                if state["fn"] is model:
                    raise
                warnings.warn(f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                              "training eagerly", stacklevel=2)
                state["fn"] = model
                return model(x)

        return forward

    @property
    def total_steps(self) -> int:
        return self.settings.total_steps

    def _cuda_devices(self) -> list[int]:
        if self.device.type == "cuda":
            return [self.device.index if self.device.index is not None else torch.cuda.current_device()]
        return []

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: str | Path | dict[str, Any] | None = None) -> TrainState:
        """Run training to `total_steps` (or from a checkpoint onwards). Returns the final state."""
        s = self.settings
        state = TrainState(model=self.model, optimizer=self.optimizer, total_steps=s.total_steps,
                           device=self.device, run_dir=self.run_dir, steps_per_epoch=self.steps_per_epoch,
                           monitor=f"val_{self.task.monitor}", higher_is_better=self.task.higher_is_better)
        if self.run_dir is not None:
            ensure_dir(self.run_dir, "run directory")
        with torch.random.fork_rng(devices=self._cuda_devices()):
            self._seed_default_rng()
            if resume is not None:
                ckpt = resume if isinstance(resume, dict) else load_checkpoint(resume, self.device)
                try:
                    self._restore(ckpt, state)
                except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
                    if isinstance(exc, UserError):
                        raise
                    raise UserError(f"the checkpoint cannot be resumed: one of its states does not fit this run "
                                    f"({type(exc).__name__}: {str(exc)[:300]}); it is damaged or from another run") from None
                if self.run_dir is not None:  # steps after the checkpoint run (and log) again: drop their records
                    for stream in sorted(p for p in Path(self.run_dir).glob("*.jsonl") if not p.is_symlink()):
                        trim_jsonl(stream, lambda r, last=state.step: not isinstance(r.get("step"), int) or r["step"] <= last)
            self._checkpoint_time = time.perf_counter()
            self._checkpointed_at = state.step if resume is not None else -1
            self.model.train()
            self.dispatch("on_fit_start", state)
            self._window_start, self._t0 = state.step, time.perf_counter()
            try:
                with self._ctrl_c() as interrupted:
                    while state.step < s.total_steps and not state.stop and not interrupted:
                        self._step(state)
                if interrupted:
                    self._stop_for_ctrl_c(state)
                if self._losses:
                    self._log(state)
                if not state.diverged and self._evaluated_at != state.step:
                    self._evaluate(state)  # the final evaluation, unless one just ran (also on a finished resume)
                if (self.checkpoint and not state.diverged and self._checkpointed_at != state.step
                        and math.isfinite(state.metrics.get("loss", 0.0))):
                    self._save_checkpoint(state)  # stopped early, or the last evaluation fell inside the interval
                self.dispatch("on_fit_end", state)
            except BaseException as exc:
                self.dispatch("on_exception", state, exc)
                raise
            finally:
                state.close()
        return state

    @contextlib.contextmanager
    def _ctrl_c(self):
        """Ctrl-C (SIGINT) while a run with a run directory trains: the step under way finishes, so
        the checkpoint is of a whole step; a second Ctrl-C interrupts at once. Only in the main thread,
        only where Python's own handler is installed, and not in data-parallel runs (the processes
        would stop at different steps)."""
        import signal
        import threading

        hit: list[bool] = []
        if (not self.checkpoint or self.procs is not None or threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield hit
            return

        def handler(signum, frame):
            if hit:
                raise KeyboardInterrupt
            hit.append(True)

        signal.signal(signal.SIGINT, handler)
        try:
            yield hit
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _stop_for_ctrl_c(self, state: TrainState) -> None:
        if self._losses:
            self._log(state)
        if math.isfinite(state.metrics.get("loss", 0.0)):
            self._save_checkpoint(state)
        raise KeyboardInterrupt(f"stopped by Ctrl-C after step {state.step}; {self.run_dir / 'last.pt'} holds it "
                                "(resume from it)")

    def _seed_default_rng(self) -> None:
        seed = self._seed + 4
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed(seed)

    def _rng_state(self) -> dict[str, Any]:
        return {
            "default": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "augment": self.aug_generator.get_state(),
            "mix": self.mix_generator.get_state(),
        }

    def _step(self, state: TrainState) -> None:
        spe, s = self.steps_per_epoch, self.settings
        if state.step % spe == 0:
            state.epoch = state.step // spe
            self.dispatch("on_epoch_start", state)
        if self.scheduler is not None:
            state.lr = self.scheduler.set(state.step)
        self.optimizer.zero_grad(set_to_none=True)
        for micro in range(s.accumulate):
            x, y = self.source.next_batch()
            state.batch = (x, y)
            if micro == 0:
                self.dispatch("on_batch_start", state)
            if self._ddp is not None and micro < s.accumulate - 1:
                with self._ddp.no_sync():  # data-parallel: gradients are averaged on the last micro-batch only
                    self._forward_backward(x, y, state)
            else:
                self._forward_backward(x, y, state)
        self.dispatch("on_after_backward", state)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if s.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.params, s.grad_clip, foreach=True)
            state.grad_norm = norm
        elif s.log_grad_norm:
            state.grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        state.step += 1
        self.dispatch("on_batch_end", state)
        eval_due = state.step % self.eval_every == 0 or state.step == s.total_steps
        if state.step % s.log_every == 0 or eval_due:
            self._log(state)
        if eval_due and not state.diverged:
            self._evaluate(state)
        if state.step % spe == 0:
            self.dispatch("on_epoch_end", state)

    def _forward_backward(self, x: Any, y: torch.Tensor, state: TrainState) -> None:
        if self.augment is not None:
            x = self.augment(x, self.aug_generator)
        target = y
        if self.mixer is not None and (self.settings.mix_prob >= 1.0
                                       or torch.rand((), generator=self.mix_generator).item() < self.settings.mix_prob):
            x, target = self.mixer(x, y, self.num_classes, self.aug_generator)
        if self._fp32:
            out = self.forward(x)
            loss = self.loss_fn(out, target)
        else:
            with self.autocast():
                out = self.forward(x)
                loss = self.loss_fn(out, target)
        objective = loss
        if self.penalty is not None:
            objective = objective + self.penalty(self.model)
        if self.settings.accumulate > 1:
            objective = objective / self.settings.accumulate
        if self.scaler is not None:
            self.scaler.scale(objective).backward()
        else:
            objective.backward()
        loss = loss.detach()
        state.loss = loss
        self._losses.append(loss)
        self._sizes.append(len(y))
        out = out.detach()
        if out.numel() <= DEFER_ELEMENTS and isinstance(y, torch.Tensor):
            self._pending.append((out, y))  # scored at the log step, all at once
        else:
            self._sums.append(self.task.sums(out, y))

    # ------------------------------------------------------------------ logging / eval
    def _log(self, state: TrainState) -> None:
        sizes = self._sizes
        n = sum(sizes)
        losses = torch.stack(self._losses).float()
        if len(set(sizes)) == 1:
            loss_sum = losses.sum() * sizes[0]
        else:
            loss_sum = (losses * torch.tensor(sizes, dtype=losses.dtype, device=losses.device)).sum()
        if self._pending:
            self._sums.append(self._score_pending())
        packed = [loss_sum.reshape(1).double(), torch.stack(self._sums).sum(0).double()]
        if getattr(state, "grad_norm", None) is not None:
            packed.append(state.grad_norm.detach().reshape(1).double())
        if self.procs is None:
            values = torch.cat(packed).tolist()  # the one host transfer of the window
        else:  # data-parallel: every process's sums and examples (one all_reduce), then the one transfer
            values, n = distributed.sum_window(torch.cat(packed), n, 1 + len(self.task.sum_names))
        now = time.perf_counter()
        seconds = max(now - self._t0, 1e-9)
        steps = state.step - self._window_start
        k = len(self.task.sum_names)
        record: dict[str, Any] = {"split": "train", "step": state.step, "epoch": state.step / self.steps_per_epoch,
                                  "loss": values[0] / n, **self.task.metrics(values[1:1 + k], n), "lr": state.lr,
                                  "steps_per_s": steps / seconds, "examples_per_s": n / seconds}
        if len(values) > 1 + k:
            record["grad_norm"] = values[1 + k]
        self._losses, self._sizes, self._sums, self._pending = [], [], [], []
        self._window_start, self._t0 = state.step, now
        state.metrics.update({key: v for key, v in record.items() if key not in ("split", "step", "epoch", "examples_per_s")})
        state.emit("metrics", record)
        self.dispatch("on_log", state, record)
        if not math.isfinite(record["loss"]):
            state.stop = state.diverged = True
            state.stop_reason = (
                f"the training loss became {record['loss']} by step {state.step} (lr={state.lr:.3g}); "
                "the learning rate is likely too high — lower optim.lr (e.g. 10×) or clip gradients "
                "(optim.grad_clip). The last good checkpoint was kept."
            )

    def _score_pending(self) -> torch.Tensor:
        """The task's sums over the window's small outputs, in one batched call."""
        outs, ys = zip(*self._pending)
        if len(outs) > 1 and all(o.shape[1:] == outs[0].shape[1:] for o in outs) \
                and all(t.shape[1:] == ys[0].shape[1:] for t in ys):
            return self.task.sums(torch.cat(outs), torch.cat(ys))
        return torch.stack([self.task.sums(o, t) for o, t in self._pending]).sum(0)

    def evaluate_val(self) -> dict[str, float] | None:
        """Loss and metrics of the model on the validation data (None without validation data)."""
        if self.val is None:
            return None
        if isinstance(self.val, (tuple, list)) and len(self.val) == 2 and isinstance(self.val[0], torch.Tensor):
            if len(self.val[0]) == 0 and self._val_reduce is None:
                return None
            return evaluate(self.model, self.val[0], self.val[1], task=self.task, loss_fn=self.eval_loss,
                            autocast=None if self._fp32 else self.autocast,
                            extra=self.metrics, reduce=self._val_reduce)
        from trainwell.data.adapt import iter_batches

        batches = iter_batches(self.val, batch_size=1024, device=self.device)
        return evaluate_batches(self.model, batches, self.task, self.eval_loss,
                                None if self._fp32 else self.autocast, extra=self.metrics, reduce=self._val_reduce)

    def _evaluate(self, state: TrainState) -> None:
        self._evaluated_at = state.step
        metrics: dict[str, Any] = {"split": "val", "step": state.step, "epoch": state.step / self.steps_per_epoch}
        if self.procs is not None:  # data-parallel: every process evaluates with rank 0's BatchNorm statistics
            distributed.broadcast_buffers(self.model)
        result = self.evaluate_val()
        improved = False
        if result is not None:
            metrics.update(result)
            state.metrics.update({f"val_{k}": v for k, v in result.items()})
            state.emit("metrics", metrics)
            value = result.get(self.task.monitor, float("nan"))
            improved = state.improves(value)
            if improved:
                state.best_value, state.best_step = value, state.step
        self.dispatch("on_eval_end", state, metrics)
        finite = math.isfinite(state.metrics.get("loss", 0.0)) and math.isfinite(metrics.get("loss", 0.0))
        due = (self.procs is not None or state.step >= self.settings.total_steps
               or time.perf_counter() - self._checkpoint_time >= self.settings.checkpoint_seconds)
        if self.checkpoint and finite and due:
            self._save_checkpoint(state)

    def _save_checkpoint(self, state: TrainState) -> None:
        payload = self.checkpoint_payload(state)
        if self.procs is not None:  # data-parallel: every process's random streams; rank 0 writes
            payload["rng_ranks"] = distributed.gather(self._rng_state())
        if self.run_dir is not None:
            save_checkpoint(self.run_dir / "last.pt", payload)
        self._checkpoint_time, self._checkpointed_at = time.perf_counter(), state.step

    # ------------------------------------------------------------------ checkpoints
    def _callback_keys(self) -> list[tuple[str, Callback]]:
        """Each callback under "<class name>#<k>" (its k-th of that class): a callback added or
        removed between a run and its resume does not shift the others' saved states."""
        seen: dict[str, int] = {}
        out = []
        for c in self.callbacks:
            name = type(c).__name__
            out.append((f"{name}#{seen.get(name, 0)}", c))
            seen[name] = seen.get(name, 0) + 1
        return out

    def checkpoint_payload(self, state: TrainState) -> dict[str, Any]:
        return {
            "format": "trainwell-checkpoint-2",
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "step": state.step,
            "epoch": state.epoch,
            "total_steps": self.settings.total_steps,
            "monitor": state.monitor,
            "best_value": state.best_value,
            "best_step": state.best_step,
            "metrics": dict(state.metrics),
            "loader": self.source.state_dict(),
            "rng": self._rng_state(),
            "callbacks": {key: c.state_dict() for key, c in self._callback_keys()},
            **self.settings.extra_checkpoint,
        }

    def _restore(self, ckpt: dict[str, Any], state: TrainState) -> None:
        check_resumable(ckpt)
        check_compatible(self.model, ckpt["model"], "checkpoint")
        if int(ckpt.get("total_steps", self.settings.total_steps)) != self.settings.total_steps:
            raise UserError(f"the checkpoint was made for a run of {ckpt['total_steps']} steps, this one has "
                            f"{self.settings.total_steps}; resume with the settings it was made with")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        state.step, state.epoch = int(ckpt["step"]), int(ckpt["epoch"])
        if "best_value" in ckpt:
            state.best_value, state.best_step = float(ckpt["best_value"]), int(ckpt["best_step"])
        else:  # trainwell-checkpoint-1
            state.best_value, state.best_step = float(ckpt["best_val_accuracy"]), int(ckpt["best_step"])
        state.metrics.update({k: float(v) for k, v in (ckpt.get("metrics") or {}).items() if isinstance(v, (int, float))})
        self.source.load_state_dict(ckpt["loader"])
        # data-parallel: this process's own saved streams (a process the saved run lacked keeps fresh ones)
        rng = ckpt["rng"] if self.procs is None else distributed.rank_rng(ckpt, self.procs.rank)
        if rng is not None:
            torch.set_rng_state(rng.get("default", rng.get("torch")))
            if self.device.type == "cuda" and rng.get("cuda") is not None and not isinstance(rng["cuda"], list):
                torch.cuda.set_rng_state(rng["cuda"], self.device)
            self.aug_generator.set_state(rng["augment"])
            self.mix_generator.set_state(rng["mix"])
        saved = ckpt.get("callbacks") or {}
        if isinstance(saved, list):  # trainwell-checkpoint-1: by position
            saved = {key: state for (key, _), state in zip(self._callback_keys(), saved)}
        for key, callback in self._callback_keys():
            if key in saved:
                callback.load_state_dict(saved[key])
        if self.scheduler is not None:
            state.lr = self.scheduler.set(min(state.step, self.settings.total_steps - 1))
        self._evaluated_at = -1


__all__ = ["Diverged", "Trainer", "autocast_for", "cross_entropy", "default_eval_every", "resolve_precision"]
