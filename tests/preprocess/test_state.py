"""Fit on train only, state_dict round trips (weights_only), and errors for people."""
import io

import pytest
import torch

from trainwell.errors import UserError
from trainwell.preprocess import (
    PCA,
    PREPROCESSORS,
    ChannelStandardize,
    NotFittedError,
    Standardize,
    ZCAWhiten,
    preprocessor_from_state_dict,
)

NAMES = PREPROCESSORS.names()


def images(n=40, seed=0, shape=(2, 3, 3)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g) * torch.arange(1.0, 19.0).reshape(shape) + 3.0


def save_load(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# ---- statistics come from the training split only ---------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_transforming_other_splits_leaves_state_unchanged(name):
    t = PREPROCESSORS.build(name).fit(images())
    before = {k: v.clone() for k, v in t.state_dict()["stats"].items()}
    first = t.transform(images(n=10, seed=1))
    for seed in (2, 3):  # different test sets, even a shifted one
        t.transform(images(n=25, seed=seed) * 5 - 7)
    after = t.state_dict()["stats"]
    assert sorted(before) == sorted(after)
    assert all(torch.equal(before[k], after[k]) for k in before)
    torch.testing.assert_close(t.transform(images(n=10, seed=1)), first, rtol=0, atol=0)


def test_test_split_uses_train_statistics_hand_computed():
    train = torch.tensor([[0.0, 10.0], [2.0, 14.0], [4.0, 12.0]])  # mean (2, 12), std (sqrt(8/3), sqrt(8/3))
    test = torch.tensor([[100.0, -100.0], [2.0, 12.0]])
    s = Standardize().fit(train)
    sd = (8 / 3) ** 0.5
    expect = torch.tensor([[98 / sd, -112 / sd], [0.0, 0.0]])
    torch.testing.assert_close(s.transform(test), expect)
    # fitting on train + test would have given other numbers (the leak the lectures warn about)
    leaked = Standardize().fit(torch.cat([train, test])).transform(test)
    assert (leaked - expect).abs().max() > 1.0


def test_channel_and_pca_stats_equal_train_only_computation():
    train, test = images(), images(n=30, seed=5)
    cs = ChannelStandardize().fit(train)
    ref_mean = train.double().transpose(0, 1).reshape(2, -1).mean(1)
    torch.testing.assert_close(cs.mean, ref_mean, rtol=1e-14, atol=0)
    p = PCA(k=3).fit(train)
    p.transform(test)
    torch.testing.assert_close(p.state_dict()["stats"]["mean"], train.double().reshape(40, -1).mean(0), rtol=1e-14, atol=0)


# ---- state_dict round trip ----------------------------------------------------------------------

OPTIONS = {"pca": {"k": 4}, "pca_whiten": {"k": 5, "eps": 1e-3}, "zca_whiten": {"eps": 0.1},
           "standardize": {"eps": 1e-6}, "minmax": {"low": 0.0, "high": 2.0}}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trips_through_weights_only_load(name):
    t = PREPROCESSORS.build({"name": name, **OPTIONS.get(name, {})}).fit(images())
    loaded = save_load({"preprocess": t.state_dict()})["preprocess"]
    rebuilt = preprocessor_from_state_dict(loaded)
    assert type(rebuilt) is type(t) and rebuilt.options() == t.options() and rebuilt.fitted
    test = images(n=12, seed=4)
    assert torch.equal(rebuilt.transform(test), t.transform(test))
    y = t.transform(test)
    assert torch.equal(rebuilt.inverse_transform(y), t.inverse_transform(y))
    # loading into a default-constructed instance restores the options too
    fresh = PREPROCESSORS.build(name).load_state_dict(loaded)
    assert fresh.options() == t.options()
    assert torch.equal(fresh.transform(test), t.transform(test))
    assert repr(fresh) == repr(t)


def test_unfitted_state_round_trips():
    sd = save_load(PCA(k=2).state_dict())
    assert sd == {"name": "pca", "options": {"k": 2}, "example_shape": None, "stats": {}}
    p = preprocessor_from_state_dict(sd)
    assert not p.fitted and p.k == 2


def test_load_state_dict_rejects_wrong_state():
    sd = Standardize().fit(images()).state_dict()
    with pytest.raises(UserError, match="belongs to 'standardize', not 'pca'"):
        PCA().load_state_dict(sd)
    bad = dict(sd, stats={"mean": sd["stats"]["mean"], "std": torch.ones(3)})
    with pytest.raises(UserError, match=r"stats\['std'\] has shape \(3,\), expected \(2, 3, 3\)"):
        Standardize().load_state_dict(bad)
    with pytest.raises(UserError, match=r"expected stats \['mean', 'std'\], found \['mean'\]"):
        Standardize().load_state_dict(dict(sd, stats={"mean": sd["stats"]["mean"]}))
    with pytest.raises(UserError, match="eps must be a finite number"):
        Standardize().load_state_dict(dict(sd, options={"eps": -1.0}))
    with pytest.raises(UserError, match="unknown options"):
        Standardize().load_state_dict(dict(sd, options={"k": 3}))


# ---- errors for people ------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_transform_before_fit_raises_not_fitted_naming_the_transform(name):
    t = PREPROCESSORS.build(name)
    assert not t.fitted and "not fitted" in repr(t)
    with pytest.raises(NotFittedError, match=f"{name} is not fitted") as err:
        t.transform(images())
    assert isinstance(err.value, RuntimeError)
    with pytest.raises(NotFittedError, match=f"{name} is not fitted"):
        t.inverse_transform(images())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_fit_on_non_finite_data_raises(name, bad):
    x = images()
    x[7, 1, 2, 0] = bad
    with pytest.raises(UserError, match=r"non-finite training data: .* \(first in example 7\)"):
        PREPROCESSORS.build(name).fit(x)


@pytest.mark.parametrize("name", NAMES)
def test_fit_on_empty_set_raises(name):
    with pytest.raises(UserError, match="empty training set"):
        PREPROCESSORS.build(name).fit(torch.zeros(0, 2, 3, 3))


def test_shape_mismatch_message_names_expected_and_found():
    s = Standardize().fit(torch.randn(10, 1, 40))
    with pytest.raises(UserError, match=r"standardize was fitted on examples of shape \(1, 40\) but standardize.transform got \(1, 41\)"):
        s.transform(torch.randn(3, 1, 41))
    p = PCA(k=5).fit(torch.randn(10, 8))
    with pytest.raises(UserError, match=r"pca was fitted on examples whose transformed shape is of shape \(5,\)"):
        p.inverse_transform(torch.randn(3, 6))
    cs = ChannelStandardize().fit(torch.randn(4, 3, 5, 5))
    with pytest.raises(UserError, match=r"fitted on examples of shape \(3, 5, 5\) \(3 channels, 3 axes\) but channel_standardize.transform got \(4, 5, 5\)"):
        cs.transform(torch.randn(2, 4, 5, 5))
    with pytest.raises(UserError, match="3 axes"):
        cs.transform(torch.randn(2, 3, 25))


def test_bad_inputs_and_options():
    with pytest.raises(UserError, match="expects a torch.Tensor .* got ndarray"):
        Standardize().fit(images().numpy())
    with pytest.raises(UserError, match="floating-point tensor, got dtype torch.uint8"):
        Standardize().fit(torch.zeros(4, 3, dtype=torch.uint8))
    with pytest.raises(UserError, match=r"at least 2 axes .* got shape \(5,\)"):
        Standardize().fit(torch.randn(5))
    with pytest.raises(UserError, match=r"mean_image.fit expects a tensor with at least 3 axes .* got shape \(5, 4\)"):
        PREPROCESSORS.build("mean_image").fit(torch.randn(5, 4))
    with pytest.raises(UserError, match="at least 2 examples"):
        Standardize().fit(torch.randn(1, 4))
    with pytest.raises(UserError, match="k=9 is larger than the number of features D=8"):
        PCA(k=9).fit(torch.randn(20, 8))
    with pytest.raises(UserError, match="integer >= 1 or None, got 0"):
        PCA(k=0)
    with pytest.raises(UserError, match="low must be < high"):
        PREPROCESSORS.build({"name": "minmax", "low": 1.0, "high": 1.0})
    with pytest.raises(UserError, match="use eps > 0"):
        ZCAWhiten(eps=0.0).fit(torch.randn(3, 8))  # rank ≤ 2 < 8: singular covariance
    with pytest.raises(UserError, match="has no option 'kk'"):
        PREPROCESSORS.build({"name": "pca", "kk": 3})


def test_constant_feature_is_centered_not_blown_up():
    """Documented rule: std ≤ eps -> scale 1. A border pixel always 0 in train stays finite on test."""
    x = torch.randn(50, 4)
    x[:, 2] = 0.0
    s = Standardize().fit(x)
    assert s.transform(x)[:, 2].abs().max() == 0
    assert s.transform(torch.full((1, 4), 0.5))[0, 2].item() == 0.5
    cs = ChannelStandardize().fit(torch.zeros(5, 2, 3, 3))
    assert torch.equal(cs.transform(torch.ones(1, 2, 3, 3)), torch.ones(1, 2, 3, 3))
