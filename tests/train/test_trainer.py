import math

import pytest
import torch
from torch import nn

from trainwell.data import BatchLoader
from trainwell.errors import UserError
from trainwell.train import Callback, Trainer, TrainerSettings, load_checkpoint
from trainwell.train.checkpoint import check_compatible


def problem(seed=0, n=96):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return x, y


def net(seed=0, dropout=0.2):
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def make(seed=0, lr=0.05, total=40, run_dir=None, callbacks=(), eval_every=10, dropout=0.2, batch=16, **settings):
    model = net(seed, dropout)
    x, y = problem()
    loader = BatchLoader(x[:80], y[:80], batch, generator=torch.Generator().manual_seed(seed + 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    s = TrainerSettings(total_steps=total, eval_every=eval_every, log_every=5, seed=seed, run_dir=run_dir, **settings)
    return Trainer(model, loader, opt, s, val=(x[80:], y[80:]), callbacks=list(callbacks))


def params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_same_seed_same_result_and_it_learns():
    a, b = make(), make()
    sa = a.fit()
    b.fit()
    assert torch.equal(params(a.model), params(b.model))
    first = sa.records["metrics"][0]["loss"]
    assert sa.metrics["loss"] < first  # training reduces the loss on this separable problem
    assert sa.metrics["val_accuracy"] > 0.7


class Recorder(Callback):
    def __init__(self):
        self.events = []
        self.losses = []

    def on_fit_start(self, state): self.events.append("fit_start")
    def on_epoch_start(self, state): self.events.append("epoch_start")
    def on_batch_start(self, state): self.events.append("batch_start")
    def on_after_backward(self, state):
        self.events.append("after_backward")
        assert all(p.grad is not None for p in state.model.parameters())
    def on_batch_end(self, state):
        self.events.append("batch_end")
        self.losses.append(state.loss.item())
    def on_eval_end(self, state, metrics): self.events.append("eval_end")
    def on_epoch_end(self, state): self.events.append("epoch_end")
    def on_fit_end(self, state): self.events.append("fit_end")


def test_event_order_and_logged_loss_is_the_window_mean():
    rec = Recorder()
    t = make(total=10, callbacks=[rec], eval_every=5)
    state = t.fit()
    ev = rec.events
    assert ev[:5] == ["fit_start", "epoch_start", "batch_start", "after_backward", "batch_end"]
    assert ev[-1] == "fit_end" and ev.count("eval_end") == 2 and ev.count("batch_end") == 10
    assert ev.count("epoch_start") == 2  # 5 steps per epoch (80 examples / 16)
    train = [r for r in state.records["metrics"] if r["split"] == "train"]
    assert [r["step"] for r in train] == [5, 10]
    # each logged train loss is the mean of the per-step losses of its window (float32 sums)
    assert train[0]["loss"] == pytest.approx(sum(rec.losses[:5]) / 5, rel=1e-5)
    assert train[1]["loss"] == pytest.approx(sum(rec.losses[5:]) / 5, rel=1e-5)


class Killer(Callback):
    def __init__(self, at):
        self.at = at

    def on_batch_end(self, state):
        if state.step == self.at:
            raise KeyboardInterrupt


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    full = make(run_dir=tmp_path / "a", total=40)
    full.fit()
    # a kill -9 after the checkpoint of step 20 (a checkpoint at every evaluation, not every 10 s)
    killed = make(run_dir=tmp_path / "b", total=40, callbacks=[Killer(27)], checkpoint_seconds=0)
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    ckpt = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ckpt["step"] == 20  # the last evaluation before the kill
    resumed = make(run_dir=tmp_path / "b", total=40, seed=0)
    state = resumed.fit(resume=tmp_path / "b" / "last.pt")
    assert state.step == 40
    assert torch.equal(params(full.model), params(resumed.model))


def test_nan_loss_stops_with_hint_and_keeps_last_good_checkpoint(tmp_path):
    class Poison(Callback):
        def on_batch_start(self, state):
            if state.step == 12:
                with torch.no_grad():
                    state.model[0].weight.fill_(float("inf"))

    t = make(run_dir=tmp_path, total=40, callbacks=[Poison()], checkpoint_seconds=0)  # a checkpoint at step 10
    state = t.fit()
    assert state.diverged and state.step == 15 and "learning rate" in state.stop_reason
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["step"] == 10
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_huge_learning_rate_diverges():
    t = make(lr=1e6, total=40, dropout=0.0)
    state = t.fit()
    assert state.diverged and state.step < 40


def test_checkpoint_loading_is_safe_and_checked(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": Evil()}))
    with pytest.raises(UserError, match="cannot be loaded safely"):
        load_checkpoint(evil)
    trunc = tmp_path / "trunc.pt"
    t = make(run_dir=tmp_path / "r", total=10)
    t.fit()
    trunc.write_bytes((tmp_path / "r" / "last.pt").read_bytes()[:100])
    with pytest.raises(UserError, match="truncated, corrupt"):
        load_checkpoint(trunc)
    other = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 3))
    with pytest.raises(UserError) as err:
        check_compatible(other, load_checkpoint(tmp_path / "r" / "last.pt")["model"])
    assert "0.weight: model (8, 6) vs checkpoint (16, 6)" in str(err.value)


def test_eval_every_default_caps_evaluations():
    from trainwell.train.settings import default_eval_every

    assert default_eval_every(36, 6000) == 300
    assert default_eval_every(36, 360) == 36
    assert math.ceil(6000 / default_eval_every(36, 6000)) <= 20


def test_fit_leaves_the_callers_global_rng_as_it_was():
    torch.manual_seed(123)
    trainer = make(total=12)  # (building nn.Linear layers draws from the global RNG: not fit's doing)
    before = torch.get_rng_state()
    trainer.fit()  # dropout draws from the default generator inside fit
    assert torch.equal(torch.get_rng_state(), before)
    # and the run's own randomness does not depend on the caller's global state
    torch.manual_seed(999)
    a = make(total=12)
    a.fit()
    torch.manual_seed(5)
    b = make(total=12)
    b.fit()
    assert torch.equal(params(a.model), params(b.model))


def test_resuming_a_finished_run_re_evaluates_instead_of_writing_nan(tmp_path):
    first = make(run_dir=tmp_path, total=20)
    done = first.fit()
    again = make(run_dir=tmp_path, total=20)
    state = again.fit(resume=tmp_path / "last.pt")
    assert state.step == 20
    assert state.metrics["val_accuracy"] == pytest.approx(done.metrics["val_accuracy"])
    assert math.isfinite(state.metrics["loss"]) and state.metrics["loss"] == pytest.approx(done.metrics["loss"])


def test_accumulating_4_micro_batches_equals_one_batch_four_times_larger():
    # no dropout, no batch statistics: the mean of 4 micro-batch mean losses / 4 is the big batch's mean loss
    x, y = problem()

    def run(batch, accumulate):
        model = net(0, dropout=0.0)
        loader = BatchLoader(x[:80], y[:80], batch, shuffle=False, generator=None)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        s = TrainerSettings(total_steps=5, eval_every=5, log_every=5, accumulate=accumulate)
        Trainer(model, loader, opt, s, val=(x[80:], y[80:])).fit()
        return params(model)

    big, small = run(16, 1), run(4, 4)
    assert torch.allclose(big, small, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(big, run(4, 1), rtol=1e-3)  # plain batch 4 differs: the test can fail


def test_bf16_autocast_trains_on_cpu_and_fp16_asks_for_cuda():
    state = make(total=10, precision="bf16", dropout=0.0).fit()
    assert math.isfinite(state.metrics["loss"]) and state.metrics["val_accuracy"] >= 0.0
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA"):
            make(total=10, precision="fp16")


def test_gradient_clipping_bounds_the_norm_and_logs_it():
    class Norms(Callback):
        def __init__(self):
            self.seen = []

        def on_batch_end(self, state):
            self.seen.append(float(torch.nn.utils.get_total_norm([p.grad for p in state.model.parameters()])))

    rec = Norms()
    state = make(total=10, lr=0.5, grad_clip=0.01, callbacks=[rec]).fit()
    assert max(rec.seen) <= 0.01 * (1 + 1e-4)
    assert "grad_norm" in state.metrics and state.metrics["grad_norm"] > 0.01  # the norm before clipping


def test_checkpoints_are_written_by_the_clock_and_always_at_the_end(tmp_path):
    """checkpoint_seconds: last.pt at an evaluation only once that many seconds passed (here never
    during the run), always at the end; a run stopped early by a callback checkpoints its stop step."""
    import trainwell.train.trainer as trainer_module

    saves = []

    class Count(Callback):
        def on_eval_end(self, state, metrics):
            saves.append((state.step, (tmp_path / "a" / "last.pt").exists()))

    make(run_dir=tmp_path / "a", total=40, callbacks=[Count()], checkpoint_seconds=3600).fit()
    assert [s for s, _ in saves] == [10, 20, 30, 40] and not any(exists for _, exists in saves[:3])
    assert load_checkpoint(tmp_path / "a" / "last.pt")["step"] == 40

    class StopAt(Callback):
        def on_batch_end(self, state):
            state.stop = state.step == 17

    make(run_dir=tmp_path / "b", total=40, callbacks=[StopAt()], checkpoint_seconds=3600).fit()
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 17
    every = []
    make(run_dir=tmp_path / "c", total=40, checkpoint_seconds=0,
         callbacks=[type("C", (Callback,), {"on_eval_end": lambda self, st, m: every.append(
             load_checkpoint(tmp_path / "c" / "last.pt")["step"] if (tmp_path / "c" / "last.pt").exists() else None)})()]).fit()
    assert every == [None, 10, 20, 30]  # on_eval_end runs before that evaluation's checkpoint
    assert trainer_module.TrainerSettings(total_steps=1).checkpoint_seconds == 10.0


def test_auto_precision_is_bf16_only_where_the_device_computes_it_natively(monkeypatch):
    """'auto' → bf16 on a CPU with AVX512-BF16/AMX or a bf16 CUDA device, else fp32; named precisions pass."""
    from trainwell.train.trainer import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    t = make(total=5, precision="auto")
    assert t.precision == "bf16" and not t._fp32
    t.fit()  # trains under bf16 autocast on the CPU
