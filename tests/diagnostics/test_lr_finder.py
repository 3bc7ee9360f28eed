"""LR range test: sensible suggestion on a problem with a known stable LR range, caller state
untouched (model, optimizer, RNG), NaN and spike handling, the documented formulas."""
import math

import pytest
import torch
from torch import nn

from trainwell.diagnostics.lr_finder import ema_bias_corrected, lr_at, lr_find, steepest_descent


def regression_batches(n_batches=20, batch=64, d=10, seed=0):
    """y = X w* + noise with X ~ N(0, I): MSE Hessian ≈ 2I, so plain SGD diverges for lr ≳ 1
    (2/λ_max, λ_max ≈ 2(1 + sqrt(d/batch))² ≈ 2.7 for one batch) and lr ≈ 0.5 is optimal."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, 1, generator=g)
    out = []
    for _ in range(n_batches):
        x = torch.randn(batch, d, generator=g)
        out.append((x, x @ w + 0.1 * torch.randn(batch, 1, generator=g)))
    return out


def sgd(params):
    return torch.optim.SGD(params, lr=123.0)


def test_sweep_formula_and_ema_by_hand():
    assert lr_at(0, 1e-4, 1.0, 5) == pytest.approx(1e-4)
    assert lr_at(2, 1e-4, 1.0, 5) == pytest.approx(1e-2)
    assert lr_at(4, 1e-4, 1.0, 5) == pytest.approx(1.0)
    # β = 0.5: avg = 1, 1.5, 2.25 → corrected 1/(0.5), 1.5/0.75, 2.25/0.875
    assert ema_bias_corrected([2.0, 2.0, 3.0], 0.5) == pytest.approx([2.0, 2.0, 2.25 / 0.875])


def test_suggestion_in_the_stable_band_and_divergence_detected():
    torch.manual_seed(0)
    model = nn.Linear(10, 1)
    result = lr_find(model, nn.functional.mse_loss, regression_batches(), sgd, start_lr=1e-4, end_lr=100,
                     num_steps=100)
    assert result.stopped_early and "exceeded" in result.stop_reason
    stop_lr = result.lrs[-1]
    assert 0.8 < stop_lr < 20  # diverges a little above the 2/λ_max ≈ 0.75 limit (EMA lag)
    assert result.suggestion is not None and 1e-2 <= result.suggestion <= 0.75
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) < 100
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert max(ratios) == pytest.approx(min(ratios))  # exponential sweep


def test_caller_model_optimizer_and_rng_untouched():
    torch.manual_seed(123)
    model = nn.Sequential(nn.Linear(10, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 1))
    model.eval()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 10)).sum().backward()
    opt.step()  # the caller's optimizer has state
    before_model = {k: v.clone() for k, v in model.state_dict().items()}
    before_opt = opt.state_dict()
    before_opt_state = {k: {n: t.clone() for n, t in s.items()} for k, s in before_opt["state"].items()}
    grads = [p.grad.clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    lr_find(model, nn.functional.mse_loss, regression_batches(5), sgd, num_steps=30,
            generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before_model[k])
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    after = opt.state_dict()
    assert after["param_groups"] == before_opt["param_groups"]
    for k, s in after["state"].items():
        for n, t in s.items():
            assert torch.equal(t, before_opt_state[k][n])


def test_same_generator_seed_same_sweep():
    model = nn.Sequential(nn.Linear(10, 16), nn.Dropout(0.3), nn.Linear(16, 1))
    runs = [lr_find(model, nn.functional.mse_loss, regression_batches(5), sgd, num_steps=40,
                    generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert runs[0].losses == runs[1].losses


class NaNAbove:
    """MSE, but NaN once the lr passed to the step exceeds `limit` (read from the optimizer)."""

    def __init__(self, limit):
        self.limit, self.opt = limit, None

    def factory(self, params):
        self.opt = torch.optim.SGD(params, lr=0.0)
        return self.opt

    def __call__(self, pred, y):
        loss = nn.functional.mse_loss(pred, y)
        return loss * math.nan if self.opt.param_groups[0]["lr"] > self.limit else loss


def test_nan_stops_the_sweep_and_never_enters_the_suggestion():
    loss = NaNAbove(0.3)
    result = lr_find(nn.Linear(10, 1), loss, regression_batches(), loss.factory, start_lr=1e-4, end_lr=100,
                     num_steps=100, diverge_factor=1e9)
    assert result.stopped_early and "nan" in result.stop_reason
    assert math.isnan(result.losses[-1]) and result.lrs[-2] <= 0.3 < result.lrs[-1]
    assert all(math.isfinite(v) for v in result.losses[:-1])
    assert result.suggestion is not None and 1e-2 <= result.suggestion <= 0.3
    # a NaN at the very start leaves nothing to suggest — None, not an exception
    early = NaNAbove(1e-6)
    result = lr_find(nn.Linear(10, 1), early, regression_batches(), early.factory, start_lr=1e-7, end_lr=1.0,
                     num_steps=50)
    assert result.stopped_early and result.suggestion is None


class SpikeAt:
    def __init__(self, steps, factor=50.0):
        self.steps, self.factor, self.calls = steps, factor, 0

    def __call__(self, pred, y):
        loss = nn.functional.mse_loss(pred, y)
        self.calls += 1
        return loss * self.factor if self.calls - 1 in self.steps else loss


def test_isolated_early_spike_neither_stops_nor_moves_the_suggestion():
    torch.manual_seed(0)
    clean = lr_find(nn.Linear(10, 1), nn.functional.mse_loss, regression_batches(), sgd, start_lr=1e-4, end_lr=100)
    torch.manual_seed(0)
    spiky = lr_find(nn.Linear(10, 1), SpikeAt({3, 12}), regression_batches(), sgd, start_lr=1e-4, end_lr=100)
    assert spiky.losses[3] > 10 * clean.losses[3]
    # the stop rule reads the plain EMA, so the spikes delay it a little, but it is the real
    # divergence above the stable limit (lr ≈ 0.75) that stops the sweep, not the spikes
    assert spiky.stopped_early and spiky.lrs[-1] > 0.75 and clean.lrs[-1] > 0.75
    assert spiky.suggestion == pytest.approx(clean.suggestion, rel=0.5)


def test_steepest_descent_on_a_known_curve():
    # loss = 1 − tanh(log10(lr) + 2): steepest descent at log10(lr) = −2, minimum at the end
    lrs = [10 ** (-5 + 5 * i / 99) for i in range(100)]
    losses = [1 - math.tanh(math.log10(lr) + 2) for lr in lrs]
    assert steepest_descent(lrs, losses, smoothing=0.0, skip_start=5) == pytest.approx(1e-2, rel=0.13)


def test_callable_batches_and_bad_input():
    data = regression_batches(3)
    it = iter(range(10**6))
    result = lr_find(nn.Linear(10, 1), nn.functional.mse_loss, lambda: data[next(it) % 3], sgd, num_steps=20)
    assert len(result.losses) == 20
    with pytest.raises(ValueError, match="start_lr"):
        lr_find(nn.Linear(10, 1), nn.functional.mse_loss, data, sgd, start_lr=1.0, end_lr=0.1)
