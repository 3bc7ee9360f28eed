"""Geometry and statistics of the 1-D signal transforms (hand-made signals, hand-computed values)."""
import math

import pytest
import torch

from trainwell.augment import (
    AmplitudeScale,
    Cutout1d,
    GaussianNoise,
    RandomShift,
    TimeReverse,
    TimeStretch,
    shift1d,
    stretch1d,
)
from trainwell.errors import UserError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def spikes(n, length=20, t0=7):
    x = torch.zeros(n, 2, length)
    x[:, 0, t0] = 1.0
    x[:, 1, t0] = 2.0
    return x


def test_shift1d_hand_table():
    x = torch.arange(1.0, 6.0).view(1, 1, 5).repeat(3, 1, 1)      # [1 2 3 4 5]
    k = torch.tensor([2, -1, 0])
    circ = shift1d(x, k, "circular")[:, 0]
    zero = shift1d(x, k, "zeros")[:, 0]
    assert circ.tolist() == [[4, 5, 1, 2, 3], [2, 3, 4, 5, 1], [1, 2, 3, 4, 5]]
    assert zero.tolist() == [[0, 0, 1, 2, 3], [2, 3, 4, 5, 0], [1, 2, 3, 4, 5]]


def test_random_shift_moves_spike_by_its_own_k():
    x = spikes(400, length=20, t0=7)
    out = RandomShift(max_shift=3, mode="zeros")(x, gen(1))
    pos = out[:, 0].argmax(dim=1)
    k = pos - 7
    assert k.min() >= -3 and k.max() <= 3
    assert set(k.tolist()) == set(range(-3, 4))                  # every shift occurs
    # both channels moved together and the spike is intact
    assert torch.equal(out[:, 1].argmax(dim=1), pos)
    assert torch.all(out[:, 0].sum(1) == 1) and torch.all(out[:, 1].sum(1) == 2)
    # uniform over 7 values: each frequency 1/7 ± 0.07 (n=400, sd 0.017, ~4 sd)
    freq = torch.bincount(k + 3, minlength=7).float() / 400
    assert torch.all((freq - 1 / 7).abs() < 0.07)


def test_circular_shift_wraps_and_zero_fill_drops():
    x = spikes(300, length=10, t0=9)                             # spike at the last sample
    circ = RandomShift(max_shift=2, mode="circular")(x, gen(2))
    assert torch.all(circ[:, 0].sum(1) == 1)                      # never lost
    zero = RandomShift(max_shift=2, mode="zeros")(x, gen(2))
    lost = zero[:, 0].sum(1) == 0
    # the same draws: the spike is lost exactly when the circular one wrapped to 0 or 1
    wrapped = circ[:, 0].argmax(1) < 2
    assert torch.equal(lost, wrapped) and lost.any()


def test_stretch1d_ramp_exact():
    length = 21
    c = (length - 1) / 2
    t = torch.arange(length, dtype=torch.float64)
    x = (t - c).view(1, 1, -1).repeat(3, 1, 1)
    r = torch.tensor([1.0, 2.0, 1.25], dtype=torch.float64)
    out = stretch1d(x, r)
    expect = (t - c).unsqueeze(0) / r.unsqueeze(1)                 # u(t) = c + (t-c)/r, ramp(u) = u - c
    torch.testing.assert_close(out[:, 0], expect, atol=1e-12, rtol=0)


def test_stretch1d_compress_reads_zeros_outside():
    x = torch.ones(1, 1, 10, dtype=torch.float64)
    out = stretch1d(x, torch.tensor([0.5], dtype=torch.float64))[0, 0]
    # u(t) = 4.5 + 2 (t - 4.5): in range [0, 9] only for t in {3,...,6} (u = 1.5, 3.5, 5.5, 7.5)
    assert torch.all(out[3:7] == 1)
    assert torch.all(out[:2] == 0) and torch.all(out[8:] == 0)


def test_time_stretch_factors_log_uniform():
    n, length = 2000, 41
    c = (length - 1) / 2
    t = torch.arange(length, dtype=torch.float64)
    x = (t - c).view(1, 1, -1).repeat(n, 1, 1)
    out = TimeStretch(factor=(0.5, 2.0), padding_mode="border")(x, gen(3))
    # recover r from a central sample, valid for every r in [0.5, 2]: t = c + 5
    r = 5.0 / out[:, 0, int(c) + 5]
    logr = r.log()
    assert logr.min() >= math.log(0.5) - 1e-9 and logr.max() <= math.log(2.0) + 1e-9
    # log r ~ U(-log 2, log 2): mean 0 ± 0.03 (sd of mean 0.009), var (2 log 2)^2/12 ± 10 %
    assert abs(logr.mean().item()) < 0.03
    assert abs(logr.var().item() / ((2 * math.log(2)) ** 2 / 12) - 1) < 0.1
    # the last sample reads u = c + (L-1-c)/r: inside for r >= 1, else the border value c
    last = torch.where(r >= 1, c / r, torch.full_like(r, c))
    torch.testing.assert_close(out[:, 0, -1], last, atol=1e-9, rtol=0)


def test_amplitude_scale_recovered_per_example():
    x = torch.ones(1000, 3, 8)
    out = AmplitudeScale(scale=(0.5, 1.5))(x, gen(4))
    s = out[:, 0, 0]
    assert torch.all(out == s.view(-1, 1, 1))                       # one factor per example
    assert s.min() >= 0.5 and s.max() <= 1.5
    assert abs(s.mean().item() - 1.0) < 0.03                        # sd of mean 0.009
    assert s.unique().numel() == 1000                               # independent per example


def test_reverse_hand():
    x = torch.arange(4.0).view(1, 1, 4).repeat(2, 1, 1)
    out = TimeReverse(p=1.0)(x, gen())
    assert out[:, 0].tolist() == [[3, 2, 1, 0], [3, 2, 1, 0]]


def test_cutout1d_segment():
    n, length = 500, 30
    x = torch.ones(n, 2, length)
    out = Cutout1d(size=6)(x, gen(5))
    erased = out[:, 0] == 0
    assert torch.equal(erased, out[:, 1] == 0)                      # all channels, same segment
    counts = erased.sum(1)
    assert counts.max() == 6 and counts.min() >= 3                  # clipped at the ends: >= 6 - 6//2
    # contiguous: exactly one 1->0 edge or starts at 0
    idx = torch.arange(length)
    first = torch.where(erased, idx, length).min(1).values
    last = torch.where(erased, idx, -1).max(1).values
    assert torch.equal(last - first + 1, counts)
    # centre c uniform over 0..29, segment [c-3, c+3): touches the left end iff c <= 3, 4/30 (± 0.05, sd 0.015)
    assert abs((first == 0).float().mean().item() - 4 / 30) < 0.05


def test_cutout1d_float_size_is_fraction():
    out = Cutout1d(size=0.25)(torch.ones(200, 1, 40), gen(6))
    assert (out == 0).sum(-1).max().item() == 10


def test_gaussian_noise_statistics():
    x = torch.zeros(200, 4, 100)
    out = GaussianNoise(std=0.3)(x, gen(7))
    # 80000 draws: mean 0 ± 0.005 (sd 0.001), std 0.3 ± 1 %
    assert abs(out.mean().item()) < 0.005
    assert abs(out.std().item() / 0.3 - 1) < 0.01


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="max_shift"):
        RandomShift(max_shift=-1)
    with pytest.raises(UserError, match="mode"):
        RandomShift(mode="wrap")
    with pytest.raises(UserError, match="factor"):
        TimeStretch(factor=(2.0, 1.0))
    with pytest.raises(UserError, match="size"):
        Cutout1d(size=1.5)
