"""LayerStats / StatsCallback: values against numpy/float64 references, hooks, sampling, syncs."""
import copy
import json
import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from trainwell.diagnostics import capture_torch
from trainwell.diagnostics.callback import StatsCallback
from trainwell.diagnostics.capture import LayerStats
from trainwell.diagnostics.stats import activation_kind, activation_summary, dead_fraction


def tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2), nn.Sigmoid())
    with torch.no_grad():
        net[0].bias[:2] = -100.0  # units 0, 1 of the ReLU never fire: dead fraction 2/6
        net[0].bias[2] = -0.3  # unit 2 fires for some examples only: alive
        net[2].weight[:2] *= 40.0  # tanh units 0, 1 driven into saturation
        net[4].weight *= 40.0  # sigmoid saturates for part of the batch
    return net


def batch(n=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g), torch.randint(0, 2, (n,), generator=g)


def reference(net, x, y):
    """float64 copy: every leaf output (retain_grad) after one backward of the same loss."""
    ref = copy.deepcopy(net).double()
    outs = []
    h = x.double()
    for m in ref:
        h = m(h)
        h.retain_grad()
        outs.append(h)
    nn.functional.cross_entropy(h, y).backward()
    return outs


def captured_step(net, x, y, opt=None, step=0, stats=None):
    stats = stats or LayerStats(net, every=1, bins=12)
    stats.start(step)
    loss = nn.functional.cross_entropy(net(x), y)
    if opt is not None:
        opt.zero_grad()
    loss.backward()
    stats.after_backward()
    if opt is not None:
        opt.step()
    return stats.finish()


def test_activation_stats_match_numpy_float64():
    net, (x, y) = tiny_net(), batch()
    record = captured_step(net, x, y)
    outs = reference(net, x, y)
    assert [layer["name"] for layer in record["layers"]] == [str(i) for i in range(6)]
    assert [layer["kind"] for layer in record["layers"]] == [None, "relu", None, "tanh", None, "sigmoid"]
    for layer, out in zip(record["layers"], outs):
        a = out.detach().numpy()
        assert layer["numel"] == a.size
        assert layer["mean"] == pytest.approx(a.mean(), rel=2e-6, abs=1e-6)  # float32 sums
        assert layer["std"] == pytest.approx(a.std(), rel=1e-5, abs=1e-6)  # population std
        assert layer["lo"] == pytest.approx(a.min(), rel=1e-6, abs=1e-6)
        assert layer["hi"] == pytest.approx(a.max(), rel=1e-6, abs=1e-6)
        counts, _ = np.histogram(a, bins=12, range=(a.min(), a.max()))
        assert sum(layer["hist"]) == a.size
        assert np.abs(np.array(layer["hist"]) - counts).sum() <= 2  # float32 vs float64 at bin edges
        g = out.grad.numpy()
        assert layer["grad_mean"] == pytest.approx(g.mean(), abs=1e-7)
        assert layer["grad_std"] == pytest.approx(g.std(), rel=1e-4, abs=1e-8)
    relu, tanh, sig = (record["layers"][i] for i in (1, 3, 5))
    a1, a3, a5 = (outs[i].detach().numpy() for i in (1, 3, 5))
    assert relu["dead_frac"] == pytest.approx((a1.max(axis=0) <= 0).mean()) == pytest.approx(2 / 6)
    assert tanh["saturated_frac"] == pytest.approx((np.abs(a3) > 0.99).mean())
    assert 0.2 < tanh["saturated_frac"] < 0.9  # the test data exercise the rule
    assert sig["saturated_frac"] == pytest.approx(((a5 < 0.01) | (a5 > 0.99)).mean())
    assert 0.05 < sig["saturated_frac"] < 0.95
    assert "dead_frac" not in record["layers"][0] and "saturated_frac" not in relu
    json.loads(json.dumps(record))  # plain, JSON-serialisable record


def test_dead_units_are_channels_for_conv():
    y = torch.rand(4, 3, 7)  # N, C, L — all positive
    y[:, 1] = 0.0  # channel 1 dead for every example and position
    y[:2, 2] = 0.0  # channel 2 fires for examples 2, 3 only: alive
    assert dead_fraction(y).item() == pytest.approx(1 / 3)
    assert activation_kind(nn.LeakyReLU()) == "relu" and activation_kind(nn.Hardtanh()) == "tanh"
    assert activation_kind(nn.Conv1d(1, 1, 1)) is None


def test_histogram_hand_table():
    y = torch.tensor([-1.0, -0.5, 0.0, 0.25, 1.0, 1.0])
    v = activation_summary(y, None, bins=4).tolist()  # range [-1, 1], bins of width 0.5
    assert v[:4] == pytest.approx([0.125, float(np.std(y.numpy())), -1.0, 1.0])
    assert v[4:] == [1.0, 1.0, 2.0, 2.0]  # [-1,-.5) [-.5,0) [0,.5) [.5,1]


def test_update_ratio_equals_hand_computed_sgd_step():
    net, (x, y) = tiny_net(), batch()
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    record = captured_step(net, x, y, opt)
    names = [n for n, _ in net.named_parameters()]
    assert [p["name"] for p in record["params"]] == names
    for rec, w0, p in zip(record["params"], before, net.parameters()):
        # SGD: Δw = −lr·g, so ‖Δw‖/‖w‖ = lr‖g‖/‖w‖ and ‖Δw‖ = ‖w_after − w_before‖
        grad_norm = float(p.grad.norm())
        assert rec["grad_norm"] == pytest.approx(grad_norm, rel=1e-5)
        assert rec["delta_norm"] == pytest.approx(float((p.detach() - w0).norm()), rel=1e-5)
        assert rec["weight_norm"] == pytest.approx(float(w0.norm()), rel=1e-6)
        assert rec["update_ratio"] == pytest.approx(0.05 * grad_norm / float(w0.norm()), rel=1e-4)


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_hooks_only_during_capture_and_none_after_close():
    net, (x, _) = tiny_net(), batch()
    stats = LayerStats(net, every=1)
    assert _hook_count(net) == 0
    stats.start(0)
    assert _hook_count(net) == 6  # one per leaf module, parameter-less ones included
    stats.finish()
    assert _hook_count(net) == 0
    stats.start(1)
    net(x)
    stats.close()
    assert _hook_count(net) == 0 and not stats.active


def _loop(model, callback, steps, batches, opt, state, evaluate_every=None):
    """A hand-written loop firing the Trainer's events in the documented order."""
    callback.on_fit_start(state)
    for i in range(steps):
        x, y = batches[i % len(batches)]
        callback.on_batch_start(state)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        callback.on_after_backward(state)
        opt.step()
        state.step += 1
        state.loss = loss.detach()
        callback.on_batch_end(state)
        if evaluate_every and state.step % evaluate_every == 0:
            model.eval()
            with torch.no_grad():
                model(x)
            model.train()
            callback.on_eval_end(state, {})
    callback.on_fit_end(state)


def fake_state(model, opt):
    records = {}
    return SimpleNamespace(model=model, optimizer=opt, step=0, epoch=0, total_steps=0, loss=None, lr=0.1,
                           device=torch.device("cpu"), run_dir=None, stop=False, stop_reason="", records=records,
                           emit=lambda stream, rec: records.setdefault(stream, []).append(rec))


def test_callback_records_only_sampled_steps_with_one_transfer_each(monkeypatch):
    net = tiny_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    state = fake_state(net, opt)
    calls = {"to_host": 0, "item": 0, "tolist": 0, "cpu": 0, "numpy": 0}
    real_to_host = capture_torch.to_host

    def spy(flat):
        calls["to_host"] += 1
        return real_to_host(flat)

    def counting(name):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *a, **k):
            calls[name] += 1
            return original(self, *a, **k)

        return wrapper

    monkeypatch.setattr(capture_torch, "to_host", spy)
    for name in ("item", "tolist", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, counting(name))
    cb = StatsCallback(every=4, bins=8)
    batches = [batch(16, seed=s) for s in range(3)]
    _loop(net, cb, 10, batches, opt, state)
    steps = [r["step"] for r in state.records["stats"]]
    monkeypatch.undo()
    assert steps == [0, 4, 8]
    assert calls["to_host"] == len(steps)
    # to_host is flat.cpu().numpy(): one copy per sampled step, and no other read-back anywhere
    assert calls["cpu"] == calls["numpy"] == len(steps) and calls["item"] == calls["tolist"] == 0
    assert _hook_count(net) == 0


def test_sample_next_forces_an_unscheduled_step():
    net = tiny_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    state = fake_state(net, opt)
    stats = LayerStats(net, every=5)
    assert [s for s in range(12) if stats.should_sample(s)] == [0, 5, 10]
    stats.sample_next()
    assert stats.should_sample(3)
    stats.start(3)
    stats.cancel()
    assert not stats.should_sample(3)
    cb = StatsCallback(every=5)
    batches = [batch(16)]
    cb.on_fit_start(state)
    for i in range(7):  # drive step by step to call sample_next() at step 2
        if i == 2:
            cb.sample_next()
        _loop_one(net, cb, batches[0], opt, state)
    assert [r["step"] for r in state.records["stats"]] == [0, 2, 5]
    cb.on_fit_end(state)


def _loop_one(model, cb, xy, opt, state):
    x, y = xy
    cb.on_batch_start(state)
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    cb.on_after_backward(state)
    opt.step()
    state.step += 1
    cb.on_batch_end(state)


def test_eval_batches_are_ignored_unless_asked():
    net = tiny_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    batches = [batch(16)]
    state = fake_state(net, opt)
    _loop(net, StatsCallback(every=2), 4, batches, opt, state, evaluate_every=2)
    assert [(r["step"], r["phase"]) for r in state.records["stats"]] == [(0, "train"), (2, "train")]
    state = fake_state(net, opt)
    _loop(net, StatsCallback(every=2, include_eval=True), 4, batches, opt, state, evaluate_every=2)
    got = [(r["step"], r["phase"]) for r in state.records["stats"]]
    assert got == [(0, "train"), (2, "eval"), (2, "train"), (4, "eval")]
    eval_rec = state.records["stats"][1]
    assert len(eval_rec["layers"]) == 6 and "grad_mean" not in eval_rec["layers"][0]
    assert _hook_count(net) == 0
    # the recorder alone: an eval-mode forward during a capture is skipped by default
    stats = LayerStats(net)
    stats.start(0)
    net.eval()
    net(batches[0][0])
    net.train()
    assert stats.finish()["layers"] == []


def test_stats_under_autocast_are_float32_of_low_precision_outputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    seen = {}

    def keep(module, args, out):  # returns None: the output is not replaced
        seen["out"] = out.detach().clone()

    handle = net[0].register_forward_hook(keep)
    stats = LayerStats(net, every=1, bins=10)
    stats.start(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = nn.functional.cross_entropy(net(x).float(), y)
    loss.backward()
    stats.after_backward()
    record = stats.finish()
    handle.remove()
    out = seen["out"]
    assert out.dtype == torch.bfloat16
    ref = out.float().double()
    layer = record["layers"][0]
    assert layer["mean"] == pytest.approx(float(ref.mean()), abs=1e-6)
    assert layer["std"] == pytest.approx(float(ref.std(unbiased=False)), rel=1e-5)
    assert sum(layer["hist"]) == out.numel()
    assert all(np.isfinite(layer[k]) for k in ("grad_mean", "grad_std"))


def test_histogram_subset_keeps_other_stats_exact():
    net, (x, y) = tiny_net(), batch(256)
    full = captured_step(net, x, y, stats=LayerStats(net, every=1, bins=12, hist_samples=None))
    part = captured_step(net, x, y, stats=LayerStats(net, every=1, bins=12, hist_samples=300))
    for a, b in zip(full["layers"], part["layers"]):
        assert sum(a["hist"]) == a["numel"]
        assert sum(b["hist"]) == min(300, b["numel"])
        for key in ("mean", "std", "lo", "hi"):
            assert a[key] == b[key]
    # the subset is a fair sample: bin fractions agree with the full histogram (seed-fixed subset;
    # stated tolerance 0.1 per bin ≈ 3.5 binomial standard deviations at n = 300)
    big = full["layers"][0]
    small = part["layers"][0]
    for ca, cb in zip(big["hist"], small["hist"]):
        assert abs(ca / big["numel"] - cb / 300) < 0.1


def test_a_sampled_step_trains_exactly_like_an_unsampled_one():
    """Hooks never replace outputs or gradients: same losses and bit-identical weights."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(1, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 7, 3))
    twin = copy.deepcopy(net)
    opt, opt_twin = torch.optim.Adam(net.parameters(), lr=1e-2), torch.optim.Adam(twin.parameters(), lr=1e-2)
    stats = LayerStats(net, every=1, bins=8)
    g = torch.Generator().manual_seed(3)
    for step in range(4):
        x, y = torch.randn(16, 1, 15, generator=g), torch.randint(0, 3, (16,), generator=g)
        losses = []
        for model, o, sampled in ((net, opt, True), (twin, opt_twin, False)):
            if sampled:
                stats.start(step)
            loss = nn.functional.cross_entropy(model(x), y)
            o.zero_grad()
            loss.backward()
            if sampled:
                stats.after_backward()
            o.step()
            if sampled:
                assert len(stats.finish()["layers"]) == 4
            losses.append(loss.item())
        assert losses[0] == losses[1]
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_conv_recorder_dead_channels_and_histogram_subset_of_unequal_layers():
    """Recorder on N×C×L outputs: per-channel dead units, float64 references, subset histograms
    of layers larger and smaller than `hist_samples` binned together."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(2, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 18, 4))
    with torch.no_grad():
        net[0].bias[1] = -100.0  # channel 1 never fires
    x, y = torch.randn(12, 2, 20), torch.randint(0, 4, (12,))
    record = captured_step(net, x, y, stats=LayerStats(net, every=1, bins=10, hist_samples=500))
    ref = copy.deepcopy(net).double()
    outs, h = [], x.double()
    for m in ref:
        h = m(h)
        outs.append(h.detach().numpy())
    assert [layer["numel"] for layer in record["layers"]] == [1080, 1080, 1080, 48]
    for layer, a in zip(record["layers"], outs):
        assert layer["mean"] == pytest.approx(a.mean(), rel=2e-6, abs=1e-6)
        assert layer["std"] == pytest.approx(a.std(), rel=1e-5)
        assert layer["lo"] == pytest.approx(a.min(), rel=1e-6, abs=1e-6)
        assert layer["hi"] == pytest.approx(a.max(), rel=1e-6, abs=1e-6)
        assert sum(layer["hist"]) == min(500, a.size)
    conv_out = outs[1]
    assert record["layers"][1]["dead_frac"] == pytest.approx((conv_out.max(axis=(0, 2)) <= 0).mean()) == 0.2
    assert record["layers"][2]["hist"] == record["layers"][1]["hist"]  # Flatten: a view, same numbers
    counts, _ = np.histogram(outs[3], bins=10, range=(outs[3].min(), outs[3].max()))
    assert np.abs(np.array(record["layers"][3]["hist"]) - counts).sum() <= 2  # all 48 elements


def test_an_in_place_activation_does_not_change_the_previous_layers_numbers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(inplace=True), nn.Linear(8, 2))
    x, y = batch(32)
    record = captured_step(net, x, y)
    pre = (x.double() @ net[0].weight.double().T + net[0].bias.double()).detach().numpy()
    layer = record["layers"][0]
    assert layer["lo"] == pytest.approx(pre.min(), rel=1e-6) and layer["lo"] < 0  # before the ReLU ran
    assert layer["mean"] == pytest.approx(pre.mean(), rel=2e-6, abs=1e-6)
    assert record["layers"][1]["lo"] == 0.0


def test_a_nan_layer_does_not_spoil_the_others():
    net, (x, y) = tiny_net(), batch()
    clean = captured_step(net, x, y)
    with torch.no_grad():
        net[4].weight[0, 0] = float("nan")  # layers 4, 5 become NaN; 0 … 3 unchanged in the forward
    record = captured_step(net, x, y)
    for a, b in zip(clean["layers"][:4], record["layers"][:4]):
        assert all(a[k] == b[k] for k in ("mean", "std", "lo", "hi", "hist"))
    for layer in record["layers"][4:]:
        assert layer["mean"] != layer["mean"] and sum(layer["hist"]) == layer["numel"]


def test_later_captures_one_pass_moments_stay_within_stated_tolerance():
    """After the first capture, layers whose |mean| ≤ 3·std use the one-pass Σy² − (Σy)²/n; the
    std still matches float64 within 1e-5 relative (the module states ≲ 3e-6)."""
    net, (x, y) = tiny_net(), batch(256)
    stats = LayerStats(net, every=1, bins=12)
    captured_step(net, x, y, stats=stats)  # first capture: two-pass everywhere
    one_pass = set(range(6)) - stats._reducer.exact_act
    assert one_pass, "the test data must exercise the one-pass path"
    record = captured_step(net, x, y, stats=stats)
    outs = reference(net, x, y)
    for i, (layer, out) in enumerate(zip(record["layers"], outs)):
        a, g = out.detach().numpy(), out.grad.numpy()
        assert layer["std"] == pytest.approx(a.std(), rel=1e-5, abs=1e-7), i
        assert layer["mean"] == pytest.approx(a.mean(), rel=2e-6, abs=1e-6), i
        assert layer["grad_std"] == pytest.approx(g.std(), rel=1e-4, abs=1e-8), i


def test_a_layer_far_from_zero_mean_keeps_the_exact_two_pass_std():
    """|mean| = 1e4·std: a one-pass float32 M2 would be noise; the recorder must keep two passes."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    with torch.no_grad():
        net[0].weight.mul_(1e-3)
        net[0].bias.fill_(50.0)  # outputs ≈ 50 ± 0.005
    x, y = torch.randn(128, 4), torch.randint(0, 3, (128,))
    stats = LayerStats(net, every=1, bins=8)
    for _ in range(3):
        record = captured_step(net, x, y, stats=stats)
    assert 0 in stats._reducer.exact_act  # still two-pass after three captures
    out = (x.double() @ net[0].weight.double().T + net[0].bias.double()).detach().numpy()
    assert out.mean() / out.std() > 1e3
    assert record["layers"][0]["std"] == pytest.approx(out.std(), rel=1e-4)


def test_histogram_sample_stride_is_coprime_with_the_example_size():
    """A batch of 1024 examples of 475 values with hist_samples 1024: a stride of 475 would take
    element 0 of every example; the coprime stride spreads the sample over all units."""
    from trainwell.diagnostics.stats import sample_stride

    count, stride = sample_stride(1024 * 475, 1024, 475)
    assert count == 1024 and math.gcd(stride, 475) == 1 and (count - 1) * stride < 1024 * 475
    positions = {(i * stride) % 475 for i in range(count)}
    assert len(positions) == 475  # every unit/position of an example is sampled
    assert sample_stride(300, 1024, 30) == (300, 1)  # fewer elements than k: all of them


def test_hooks_kept_between_consecutive_captures_are_inert_and_removed_at_the_end():
    """every=1: the callback keeps the hooks from one captured step to the next (no re-registering);
    in between they record nothing (an evaluation forward here), and fit end removes them."""
    net = tiny_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    state = fake_state(net, opt)
    cb = StatsCallback(every=1, bins=8)
    cb.on_fit_start(state)
    xy = batch(16)
    _loop_one(net, cb, xy, opt, state)
    assert _hook_count(net) == 6 and not cb.recorder.active  # kept, idle
    handles = list(cb.recorder._handles)
    with torch.no_grad():
        net(xy[0])  # a forward between captures: not recorded
    _loop_one(net, cb, xy, opt, state)
    assert cb.recorder._handles == handles  # the same hooks, not registered again
    assert [r["step"] for r in state.records["stats"]] == [0, 1]
    assert all(len(r["layers"]) == 6 for r in state.records["stats"])
    cb.on_fit_end(state)
    assert _hook_count(net) == 0


# ---------------------------------------------------------------------------------------------
# Properties first checked against the C kernels removed in favour of one torch implementation.


def conv_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(2, 6, 3, padding=1), nn.ReLU(), nn.Conv1d(6, 4, 3), nn.Tanh(),
                         nn.Flatten(), nn.Linear(4 * 10, 8), nn.Sigmoid(), nn.Linear(8, 3))


def one_step(net, stats, x, y, opt):
    stats.start(0)
    loss = nn.functional.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    stats.after_backward()
    opt.step()
    return stats.finish()


def float64_outputs(net, x, y):
    """(outputs, their gradients) of every layer of a Sequential, in float64, for the same loss."""
    ref = copy.deepcopy(net).double()
    outs, h = [], x.double()
    for m in ref:
        h = m(h)
        h.retain_grad()
        outs.append(h)
    nn.functional.cross_entropy(h, y).backward()
    return [o.detach().numpy() for o in outs], [o.grad.numpy() for o in outs]


def assert_layers_match(record, outs, grads, rel=1e-5, hist_samples=1024):
    for layer, a, g in zip(record["layers"], outs, grads, strict=True):
        assert layer["numel"] == a.size
        assert layer["mean"] == pytest.approx(a.mean(), rel=2e-6, abs=1e-6), layer["name"]
        assert layer["std"] == pytest.approx(a.std(), rel=rel, abs=1e-7), layer["name"]
        assert layer["lo"] == pytest.approx(a.min(), rel=1e-6, abs=1e-6), layer["name"]
        assert layer["hi"] == pytest.approx(a.max(), rel=1e-6, abs=1e-6), layer["name"]
        assert layer["grad_mean"] == pytest.approx(g.mean(), abs=1e-7), layer["name"]
        assert layer["grad_std"] == pytest.approx(g.std(), rel=1e-4, abs=1e-8), layer["name"]
        assert sum(layer["hist"]) == min(layer["numel"], hist_samples)
        kind = layer["kind"]
        if kind == "relu" and "dead_frac" in layer:
            assert layer["dead_frac"] == pytest.approx((a.max(axis=tuple(i for i in range(a.ndim) if i != 1)) <= 0).mean())
        elif kind == "tanh":
            assert layer["saturated_frac"] == pytest.approx((np.abs(a) > 0.99).mean())
        elif kind == "sigmoid":
            assert layer["saturated_frac"] == pytest.approx((np.abs(a - 0.5) > 0.49).mean())


def test_conv_net_record_matches_float64_references_and_the_momentum_step():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(50, 2, 12, generator=g), torch.randint(0, 3, (50,), generator=g)
    net = conv_net()
    outs, grads = float64_outputs(net, x, y)
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    record = one_step(net, LayerStats(net, every=1, bins=16, hist_samples=100), x, y, opt)
    assert [layer["name"] for layer in record["layers"]] == [str(i) for i in range(8)]
    assert_layers_match(record, outs, grads, hist_samples=100)
    for rec, w0, (name, p) in zip(record["params"], before, net.named_parameters(), strict=True):
        assert rec["name"] == name
        assert rec["grad_norm"] == pytest.approx(float(p.grad.norm()), rel=1e-5)
        assert rec["weight_norm"] == pytest.approx(float(w0.norm()), rel=1e-6)
        assert rec["delta_norm"] == pytest.approx(float((p.detach() - w0).norm()), rel=1e-5)


def test_a_copy_or_pickle_of_an_observed_model_is_not_observed():
    """Hooks kept between captures travel into deepcopy/pickle as inert hooks (an EMA copy, torch.save)."""
    net = conv_net()
    stats = LayerStats(net, every=1)
    x = torch.randn(4, 2, 12)
    stats.start(0)
    twin = copy.deepcopy(net)
    restored = pickle.loads(pickle.dumps(net))
    twin(x)
    restored(x)
    assert stats._entries == []  # neither copy reported to the recorder
    net(x)
    assert len(stats._entries) == 8
    stats.close()
    assert _hook_count(twin) == _hook_count(restored) == 8  # inert, and never the recorder's


def test_a_float64_model_gets_float32_statistics_and_float64_update_norms():
    """Statistics in float32 whatever the dtype; Δw of float64 weights does not drown in float32 rounding."""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(40, 2, 12, generator=g).double(), torch.randint(0, 3, (40,), generator=g)
    net = conv_net().double()
    outs, grads = float64_outputs(net, x, y)
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=1e-9)  # an update far below float32 resolution of w
    record = one_step(net, LayerStats(net, every=1, bins=16), x, y, opt)
    assert_layers_match(record, outs, grads, rel=2e-5)
    for rec, w0, p in zip(record["params"], before, net.parameters(), strict=True):
        assert rec["delta_norm"] == pytest.approx(float((p.detach() - w0).norm()), rel=1e-6) and rec["delta_norm"] > 0


def image_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3),
                        nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    with torch.no_grad():
        net[3].bias[:2] = -50.0  # two dead channels after the second ReLU
    return net.to(memory_format=torch.channels_last)


def test_a_channels_last_image_model_matches_float64_references():
    """channels_last outputs: per-channel dead units (dim 1 whatever the memory order) and every
    statistic as for the same numbers in C order."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(16, 3, 8, 8, generator=g).to(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (16,), generator=g)
    net = image_net()
    assert net(x).shape == (16, 5) and net[0](x).is_contiguous(memory_format=torch.channels_last)
    outs, grads = float64_outputs(net, x, y)
    record = one_step(net, LayerStats(net, every=1, bins=16), x, y, torch.optim.SGD(net.parameters(), lr=0.1))
    assert_layers_match(record, outs, grads)
    assert record["layers"][4]["dead_frac"] == 0.5


def test_a_second_backward_through_the_graph_keeps_the_first_gradients():
    """retain_graph=True and a second backward in one captured step: each layer reports its first gradient."""
    net = conv_net()
    x = torch.randn(10, 2, 12)
    stats = LayerStats(net, every=1)
    stats.start(0)
    out = net(x)
    out.pow(2).sum().backward(retain_graph=True)
    (3 * out).sum().backward()
    stats.after_backward()
    record = stats.finish()
    ref = conv_net()
    stats_ref = LayerStats(ref, every=1)
    stats_ref.start(0)
    ref(x).pow(2).sum().backward()
    stats_ref.after_backward()
    want = stats_ref.finish()
    for got, exp in zip(record["layers"], want["layers"], strict=True):
        assert got["grad_std"] == pytest.approx(exp["grad_std"], rel=1e-6), got["name"]


def test_a_weight_given_new_memory_during_the_step_still_gets_its_update_norm():
    net = conv_net()
    stats = LayerStats(net, every=1)
    stats.start(0)
    net(torch.randn(6, 2, 12)).sum().backward()
    stats.after_backward()
    with torch.no_grad():
        before = net[0].weight.detach().clone()
        net[0].weight.data = net[0].weight.data + 0.5  # new memory, same shape
        net[2].weight.data = torch.zeros(3)  # new memory, another size: Δw undefined
    record = stats.finish()
    by_name = {p["name"]: p for p in record["params"]}
    assert by_name["0.weight"]["delta_norm"] == pytest.approx(0.5 * before.numel() ** 0.5, rel=1e-5)
    assert by_name["2.weight"]["delta_norm"] != by_name["2.weight"]["delta_norm"]  # NaN
    assert by_name["0.bias"]["delta_norm"] == 0.0


def test_a_sparse_output_is_skipped_not_fatal():
    class Sparsify(nn.Module):
        def forward(self, x):
            return x.to_sparse()

    net = nn.Sequential(nn.Linear(4, 3), Sparsify())
    stats = LayerStats(net, every=1)
    stats.start(0)
    with torch.no_grad():
        net(torch.randn(5, 4))
    assert [layer["name"] for layer in stats.finish()["layers"]] == ["0"]


def test_histograms_host_bins_like_a_per_element_float32_reference():
    """Rows of unequal size, a tiny spread, a constant row, NaN and ±inf: each element in bin
    ⌊(y − lo)·s⌋ clamped to [0, bins − 1] (float32; s = bins/(hi − lo) in float64), NaN in bin 0."""
    from trainwell.diagnostics.stats import histograms_host

    g = np.random.default_rng(0)
    rows, width, bins = 6, 300, 17
    samples = g.normal(size=(rows, width)).astype(np.float32)
    samples[1] *= 1e-30  # a tiny spread
    samples[2] = 0.25  # a constant row
    samples[3, 5] = np.nan
    samples[4, 9] = np.inf
    sizes = [300, 120, 300, 300, 250, 1]
    lo = np.array([np.nanmin(samples[r, :k]) for r, k in enumerate(sizes)], dtype=np.float64)
    hi = np.array([np.nanmax(samples[r, :k]) for r, k in enumerate(sizes)], dtype=np.float64)
    lo[3], hi[3] = np.nan, np.nan  # a NaN layer: everything lands in bin 0
    got = histograms_host(samples.reshape(-1), sizes, lo, hi, bins, width)
    want = np.zeros((rows, bins), dtype=np.int64)
    for r, k in enumerate(sizes):
        l32 = np.float32(lo[r])
        spread = max(hi[r] - lo[r], float(np.finfo(np.float32).tiny))
        scale = np.float32(min(bins / spread, 1e30))
        for v in samples[r, :k]:
            with np.errstate(invalid="ignore", over="ignore"):
                z = np.float32(np.float32(v - l32) * scale)
            b = 0 if z != z else int(min(max(z, 0.0), bins - 1))
            want[r, b] += 1
    np.testing.assert_array_equal(got, want)
    assert got.sum(axis=1).tolist() == sizes
    assert got[2, 0] == 300 and got[3, 0] == 300  # constant row, NaN row


@pytest.mark.parametrize("kind", [None, "relu", "tanh"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_a_large_output_stays_within_tolerance(kind, channels_last):
    """~1M elements, C order and channels_last: M2 within 1e-5 of float64, exact min/max and dead channels."""
    g = torch.Generator().manual_seed(5)
    y = torch.randn(37, 16, 40, 41, generator=g)  # 970 880 elements, an odd number of examples
    if kind == "relu":
        y = torch.where(y > 0, y, 0.0)
        y[:, 3] = -1.0  # channel 3 never fires (ReLU family: ≤ 0 everywhere)
        y[20, 5] = -1.0  # channel 5 alive in the other examples
    if channels_last:
        y = y.contiguous(memory_format=torch.channels_last)
    act = {None: nn.Identity(), "relu": nn.LeakyReLU(0.0), "tanh": nn.Tanh()}[kind]
    stats = LayerStats(nn.Sequential(act), every=1, bins=10)
    stats.start(0)
    with torch.no_grad():
        out = stats.model(y)
    layer = stats.finish()["layers"][0]
    d = out.double().reshape(-1)
    assert layer["mean"] == pytest.approx(float(d.mean()), rel=1e-5, abs=1e-7)
    assert layer["std"] == pytest.approx(float(d.std(unbiased=False)), rel=1e-5)
    assert layer["lo"] == float(out.min()) and layer["hi"] == float(out.max())
    if kind == "relu":
        assert layer["dead_frac"] == 1 / 16
    elif kind == "tanh":
        assert layer["saturated_frac"] == pytest.approx(float((d.abs() > 0.99).double().mean()))


# ---------------------------------------------------------------------------------------------
# Activations applied as functions: what the next layer receives is judged.


class FunctionalNet(nn.Module):
    """F.relu and torch.tanh in forward: no activation module at all."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2, self.fc3 = nn.Linear(3, 6), nn.Linear(6, 5), nn.Linear(5, 2)
        with torch.no_grad():
            self.fc1.bias[:2] = -100.0  # units 0, 1 of the ReLU never fire: dead fraction 2/6
            self.fc2.weight[:2] *= 40.0  # tanh units 0, 1 driven into saturation

    def forward(self, x):
        h = nn.functional.relu(self.fc1(x))
        h = torch.tanh(self.fc2(h))
        return self.fc3(h.view(h.shape[0], -1))  # a view between the activation and the layer


def test_activations_called_as_functions_are_judged_at_the_next_layers_input():
    net, (x, y) = FunctionalNet(), batch()
    record = captured_step(net, x, y)
    assert [(layer["name"], layer["type"], layer["kind"]) for layer in record["layers"]] == [
        ("fc1", "Linear", None), ("fc2:input", "relu", "relu"), ("fc2", "Linear", None),
        ("fc3:input", "tanh", "tanh"), ("fc3", "Linear", None)]
    relu_in, tanh_in = record["layers"][1], record["layers"][3]
    assert relu_in["input_of"] == "fc2" and tanh_in["input_of"] == "fc3"
    # float64 references of what fc2 and fc3 receive, and of their gradients
    ref = copy.deepcopy(net).double()
    h1 = nn.functional.relu(ref.fc1(x.double()))
    h1.retain_grad()
    h2 = torch.tanh(ref.fc2(h1))
    h2.retain_grad()
    nn.functional.cross_entropy(ref.fc3(h2), y).backward()
    for layer, h in ((relu_in, h1), (tanh_in, h2)):
        a, g = h.detach().numpy(), h.grad.numpy()
        assert layer["numel"] == a.size
        assert layer["mean"] == pytest.approx(a.mean(), rel=2e-6, abs=1e-6)
        assert layer["std"] == pytest.approx(a.std(), rel=1e-5, abs=1e-7)
        assert layer["lo"] == pytest.approx(a.min(), abs=1e-6) and layer["hi"] == pytest.approx(a.max(), rel=1e-6)
        assert layer["grad_mean"] == pytest.approx(g.mean(), abs=1e-7)
        assert layer["grad_std"] == pytest.approx(g.std(), rel=1e-4, abs=1e-8)
        assert sum(layer["hist"]) == a.size
    assert relu_in["dead_frac"] == pytest.approx(2 / 6)
    a2 = h2.detach().numpy()
    assert tanh_in["saturated_frac"] == pytest.approx((np.abs(a2) > 0.99).mean()) and tanh_in["saturated_frac"] > 0.2


def test_the_doctor_finds_dead_relus_of_a_functional_network():
    from trainwell.doctor.activation_checks import check_activations
    from trainwell.doctor.config import DoctorConfig

    net = FunctionalNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    state = fake_state(net, opt)
    _loop(net, StatsCallback(every=2), 4, [batch(32)], opt, state)
    records = state.records["stats"]
    from types import SimpleNamespace

    subject = SimpleNamespace(kind="python", model=net, optimizer=opt)  # what the doctor examines (a Python model)
    findings = check_activations(records, None, None, input_std=1.0, cfg=DoctorConfig(), subject=subject)
    dead = [f for f in findings if f.code == "dead_units"]
    assert [f.where for f in dead] == ["fc2:input"]  # 2/6 dead ≥ 30 %: judged from the records (was: "0 activation layers")
    assert dead[0].evidence["source"] == "activation modules"


def test_activation_modules_and_shared_activations_are_recorded_once():
    """nn.ReLU modules: their outputs only (no ':input' copies); a ReLU module called twice reports its
    first call, and the second call's output is caught at the input of the layer that receives it."""

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3, self.act = nn.Linear(3, 6), nn.Linear(6, 5), nn.Linear(5, 2), nn.ReLU()

        def forward(self, x):
            return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))

    net, (x, y) = Shared(), batch()
    names = [layer["name"] for layer in captured_step(net, x, y)["layers"]]
    assert names == ["fc1", "act", "fc2", "fc3:input", "fc3"]
    net = tiny_net()
    names = [layer["name"] for layer in captured_step(net, x, y)["layers"]]
    assert names == [str(i) for i in range(6)]


# ---------------------------------------------------------------------------------------------
# torch.compile


def _compile_or_skip(model):
    """torch.compile(model) where it can run here (dynamo supported, a C++ compiler for inductor)."""
    import shutil

    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile is not available in this torch build")
    from torch import _dynamo

    if not _dynamo.is_dynamo_supported():
        pytest.skip("torch.compile (dynamo) is not supported on this Python/platform")
    if not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
        pytest.skip("torch.compile's CPU backend (inductor) needs a C++ compiler: none on PATH")
    return torch.compile(model)


@pytest.mark.slow
def test_statistics_of_a_compiled_model_train_like_the_eager_model():
    """A torch.compile'd model with StatsCallback: captured steps run eagerly with hooks on the original
    modules (names without `_orig_mod.`), the others compiled; the records match an eager twin's and
    compiling with the statistics on never traces a hook (it used to fail with "already tracked for
    mutation" or drop the hooks)."""
    def make():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 2))

    eager, compiled_net = make(), make()
    compiled = _compile_or_skip(compiled_net)
    from torch._dynamo.eval_frame import _stance
    from torch._dynamo.utils import counters

    counters.clear()
    batches = [batch(32, seed=s) for s in range(3)]
    compiled(batches[0][0])  # compiled before the statistics exist (the order that used to fail)
    runs = {}
    for name, model, params in (("eager", eager, eager.parameters()), ("compiled", compiled, compiled.parameters())):
        opt = torch.optim.SGD(params, lr=0.05)
        state = fake_state(model, opt)
        _loop(model, StatsCallback(every=2, bins=8), 5, batches, opt, state)
        runs[name] = state.records["stats"]
        assert _hook_count(model) == 0
    a, b = runs["eager"], runs["compiled"]
    assert [r["step"] for r in b] == [0, 2, 4]
    assert [layer["name"] for layer in b[0]["layers"]] == ["0", "1", "2", "3", "4"]
    assert [p["name"] for p in b[0]["params"]] == [n for n, _ in eager.named_parameters()]
    for ra, rb in zip(a, b, strict=True):
        for la, lb in zip(ra["layers"], rb["layers"], strict=True):
            for key in ("mean", "std", "lo", "hi", "grad_std", "dead_frac", "saturated_frac"):
                if key in la:
                    assert lb[key] == pytest.approx(la[key], rel=1e-4, abs=1e-6), (rb["step"], la["name"], key)
    assert counters["stats"]["unique_graphs"] >= 1  # the unsampled steps did run compiled code
    assert _stance.stance == "default"  # the eager stance ended with the capture


def test_a_custom_leaf_whose_forward_ends_in_an_activation_function_gets_its_kind():
    class LinearReLU(nn.Module):  # a leaf (no children) that applies F.relu itself
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(6, 3))
            self.bias = nn.Parameter(torch.zeros(6))
            with torch.no_grad():
                self.bias[:3] = -100.0  # units 0, 1, 2 never fire

        def forward(self, x):
            return nn.functional.relu(nn.functional.linear(x, self.weight, self.bias))

    torch.manual_seed(0)
    net = nn.Sequential(LinearReLU(), nn.Linear(6, 2))
    x, y = batch()
    layers = captured_step(net, x, y)["layers"]
    assert [(layer["name"], layer["type"], layer["kind"]) for layer in layers] == [
        ("0", "LinearReLU", "relu"), ("1", "Linear", None)]  # no "1:input" copy of the same tensor
    assert layers[0]["dead_frac"] == 0.5
