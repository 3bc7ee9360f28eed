"""Center / standardize / global_standardize / minmax / mean_image / per-channel variants."""
import numpy as np
import pytest
import torch

from trainwell.preprocess import (
    Center,
    ChannelMean,
    ChannelStandardize,
    GlobalStandardize,
    MeanImage,
    MinMax,
    Standardize,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def skewed_data(n=400, shape=(3, 5), seed=0, dtype=torch.float32):
    """Features with very different means and scales (so a wrong axis shows)."""
    g = torch.Generator().manual_seed(seed)
    d = int(np.prod(shape))
    scale = torch.logspace(-2, 2, d, dtype=torch.float64).reshape(shape)
    shift = torch.linspace(-50, 50, d, dtype=torch.float64).reshape(shape)
    x = torch.randn((n, *shape), generator=g, dtype=torch.float64).exp() * scale + shift
    return x.to(dtype)


# ---- hand-computed tables ------------------------------------------------------------------

def test_standardize_hand_table():
    train = torch.tensor([[1.0, 10.0, 7.0], [3.0, 30.0, 7.0]])
    test = torch.tensor([[5.0, 0.0, 9.0]])
    s = Standardize().fit(train)
    # mean (2, 20, 7), population std (1, 10, 0 -> constant, scale 1)
    assert s.mean.tolist() == [2.0, 20.0, 7.0]
    assert s.std.tolist() == [1.0, 10.0, 0.0]
    assert s.transform(test).tolist() == [[3.0, -2.0, 2.0]]
    assert s.transform(train).tolist() == [[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0]]
    assert s.n_constant == 1
    assert "1 constant feature" in repr(s)


def test_center_and_global_hand_table():
    train = torch.tensor([[0.0, 4.0], [2.0, 8.0]])
    test = torch.tensor([[1.0, 1.0]])
    assert Center().fit(train).transform(test).tolist() == [[0.0, -5.0]]
    g = GlobalStandardize().fit(train)
    # all values 0, 2, 4, 8: mean 3.5, var (12.25 + 2.25 + 0.25 + 20.25)/4 = 8.75
    assert float(g._stats["mean"]) == 3.5
    assert float(g._stats["std"]) == pytest.approx(8.75**0.5, rel=1e-15)
    assert g.transform(test)[0, 0].item() == pytest.approx(-2.5 / 8.75**0.5, rel=1e-6)


def test_minmax_hand_table():
    train = torch.tensor([[0.0, 2.0, -1.0], [4.0, 2.0, 1.0], [1.0, 2.0, 0.0]])
    mm = MinMax().fit(train)
    # feature 0: [0, 4] -> mid 2, half 2; feature 1 constant 2; feature 2 [-1, 1] already
    assert mm.transform(train).tolist() == [[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0], [-0.5, 0.0, 0.0]]
    # test values outside the range are not clipped; the constant feature keeps its raw offset
    assert mm.transform(torch.tensor([[6.0, 5.0, 3.0]])).tolist() == [[2.0, 3.0, 3.0]]
    assert mm.n_constant == 1
    to01 = MinMax(low=0.0, high=1.0).fit(train)
    assert to01.transform(train)[:, 0].tolist() == [0.0, 1.0, 0.25]
    assert to01.transform(train)[:, 1].tolist() == [0.5, 0.5, 0.5]


def test_channel_hand_table():
    # N=2, C=2, L=2: channel 0 values {1, 3, 5, 7}, channel 1 values {0, 0, 2, 2}
    x = torch.tensor([[[1.0, 3.0], [0.0, 0.0]], [[5.0, 7.0], [2.0, 2.0]]])
    cm = ChannelMean().fit(x)
    assert cm.mean.tolist() == [4.0, 1.0]
    cs = ChannelStandardize().fit(x)
    assert cs.std.tolist() == pytest.approx([5.0**0.5, 1.0], rel=1e-15)
    out = cs.transform(x)
    assert out[:, 1].tolist() == [[-1.0, -1.0], [1.0, 1.0]]
    assert out[0, 0].tolist() == pytest.approx([-3 / 5**0.5, -1 / 5**0.5], rel=1e-6)


# ---- statistical: train data standardized, with stated tolerances ---------------------------

def float32_resolution(x):
    """Per-feature error bound of float32 arithmetic in standardized units: the transform runs in
    the input's dtype, so a feature is only resolved to ~ulp(max|x_j|) / std_j (2 ulps: rounding of
    the float32 mean plus of the difference), plus 1e-6 for rounding of the O(1) results."""
    x = x.double()
    return 2 * 2.0**-23 * x.abs().amax(0) / x.std(0, unbiased=False) + 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_standardized_train_has_zero_mean_unit_std_per_feature(dtype):
    x = skewed_data(dtype=dtype)
    # tolerance: the float32 resolution bound above (up to ~1.5e-4 for the feature with
    # |mean|/std ≈ 2500), 1e-12 in float64
    tol = float32_resolution(x) if dtype == torch.float32 else torch.full(x.shape[1:], 1e-12, dtype=torch.float64)
    z = Standardize().fit_transform(x).double()
    assert (z.mean(0).abs() < tol).all()
    assert ((z.std(0, unbiased=False) - 1).abs() < tol).all()
    zc = Center().fit_transform(x).double()
    assert (zc.mean(0).abs() < tol * x.double().std(0, unbiased=False)).all()


def test_global_standardize_one_scalar():
    x = skewed_data(dtype=torch.float64)
    z = GlobalStandardize().fit_transform(x)
    assert abs(z.mean().item()) < 1e-12 and abs(z.std(unbiased=False).item() - 1) < 1e-12
    # the relative scale of features is kept: ratio of spreads unchanged
    ratio_in = x.std(0) / x.std(0)[0, 0]
    ratio_out = z.std(0) / z.std(0)[0, 0]
    torch.testing.assert_close(ratio_in, ratio_out, rtol=1e-12, atol=0)


def test_minmax_train_spans_exactly_minus1_to_1():
    x = skewed_data(dtype=torch.float64)
    z = MinMax().fit_transform(x)
    torch.testing.assert_close(z.amin(0), torch.full((3, 5), -1.0, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(z.amax(0), torch.full((3, 5), 1.0, dtype=torch.float64), rtol=0, atol=1e-12)


def test_channel_standardize_per_channel_on_images():
    g = torch.Generator().manual_seed(1)
    means = torch.tensor([0.5, -3.0, 100.0]).view(1, 3, 1, 1)
    stds = torch.tensor([0.1, 2.0, 30.0]).view(1, 3, 1, 1)
    x = torch.randn(64, 3, 6, 6, generator=g) * stds + means
    z = ChannelStandardize().fit_transform(x).double()
    per_c = z.transpose(0, 1).reshape(3, -1)
    # tolerance 1e-5: float32 output, values up to ~|x|/std ≈ 5
    assert per_c.mean(1).abs().max() < 1e-5
    assert (per_c.std(1, unbiased=False) - 1).abs().max() < 1e-5
    # but not per feature: per-position means are not forced to 0 (a different statistic)
    assert z.mean(0).abs().max() > 0.1
    zc = ChannelMean().fit_transform(x).double()
    assert zc.transpose(0, 1).reshape(3, -1).mean(1).abs().max() < 1e-5 * 30


def test_channel_stats_match_torch_batchnorm_reference():
    """Reference: BatchNorm2d in training mode normalizes with the same per-channel biased stats."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 4, 5, 5, generator=g, dtype=torch.float64) * 3 + 1
    bn = torch.nn.BatchNorm2d(4, eps=1e-300, affine=False, dtype=torch.float64).train()
    torch.testing.assert_close(ChannelStandardize().fit_transform(x), bn(x), rtol=1e-12, atol=1e-12)


def test_mean_image_subtracts_whole_mean_example():
    x = skewed_data(shape=(2, 3, 3), dtype=torch.float64)
    mi = MeanImage().fit(x)
    assert mi.mean.shape == (2, 3, 3)
    torch.testing.assert_close(mi.transform(x[:5]), x[:5] - x.mean(0), rtol=0, atol=1e-12)
    # differs from the per-channel mean (VGG) on the same data
    assert (mi.transform(x) - ChannelMean().fit_transform(x)).abs().max() > 1.0


def test_channel_transform_accepts_other_spatial_size():
    g = torch.Generator().manual_seed(3)
    cs = ChannelStandardize().fit(torch.randn(8, 3, 4, 4, generator=g))
    big = torch.randn(2, 3, 7, 9, generator=g)
    expect = (big - cs.mean.float().view(1, 3, 1, 1)) / cs.std.float().view(1, 3, 1, 1)
    torch.testing.assert_close(cs.transform(big), expect)


# ---- invariants: inverse, dtype, device ------------------------------------------------------

ALL = [Center, Standardize, GlobalStandardize, MinMax, MeanImage, ChannelMean, ChannelStandardize]


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_inverse_round_trip(cls, dtype, rtol):
    x = skewed_data(n=50, dtype=dtype)
    t = cls().fit(x)
    test = skewed_data(n=20, seed=9, dtype=dtype)
    back = t.inverse_transform(t.transform(test))
    assert back.dtype == dtype
    assert ((back - test).norm() / test.norm()).item() < rtol


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", ALL)
def test_dtype_and_device_preserved(cls, device):
    x = skewed_data(n=30).to(device)
    t = cls().fit(x)
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        y = t.transform(x.to(dtype))
        assert y.dtype == dtype and y.device == x.device
    assert all(v.dtype == torch.float64 for v in t.state_dict()["stats"].values())
    # float64 statistics applied in float32: matches the float64 computation cast down, within
    # the float32 resolution of each feature (see float32_resolution) times its output scale
    ref = t.transform(x.double())
    err = (t.transform(x).double() - ref).abs()
    spread = ref.std(0, unbiased=False).clamp_min(1e-12)
    assert (err <= float32_resolution(x) * spread + 1e-6 * ref.abs()).all()
