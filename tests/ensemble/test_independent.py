"""Independent ensembles: the vectorized and the one-by-one paths train the same members."""
import pytest
import torch

from trainwell.config import recipe_from_dict
from trainwell.assemble.support import members_blockers
from trainwell.ensemble.independent import member_seeds, train_independent
from trainwell.errors import UserError
from trainwell.models import MODELS

RAW = {"name": "tiny", "data": {"name": "mnist1d", "preprocess": ["standardize"], "train_subset": 400},
       "model": {"name": "mlp", "widths": [16]}, "optim": {"name": "adam", "lr": 3e-3},
       "schedule": {"name": "cosine"}, "train": {"steps": 12, "batch_size": 32, "checkpoint": False}}


def test_member_seeds_keep_streams_apart():
    assert member_seeds(3, 3) == [3, 13, 23]
    with pytest.raises(UserError):
        member_seeds(0, 0)


def test_blockers_name_what_the_vectorized_engine_lacks():
    r = recipe_from_dict(RAW, "t", ['augment.train=[{name="shift", max_shift=2}]', "train.label_smoothing=0.1", "train.swa=0.5",
                                   "optim.name=rmsprop", "train.ema=0.9", 'train.precision="bf16"', "train.accumulate=2"])
    bn = MODELS.build({"name": "mlp", "widths": [4], "norm": "batch"}, input_shape=(1, 40), num_classes=10)
    reasons = " | ".join(members_blockers([r], bn, torch.device("cpu")))
    for part in ("BatchNorm", "augmentation", "label smoothing", "rmsprop", "EMA", "SWA", "precision", "accumulate"):
        assert part in reasons
    assert members_blockers([recipe_from_dict(RAW, "t")], None, None) == []
    a, b = recipe_from_dict(RAW, "t"), recipe_from_dict(RAW, "t", ["train.batch_size=16"])
    assert "train.batch_size" in " ".join(members_blockers([a, b], None, None))


def test_batched_and_one_by_one_paths_agree():
    """Same seeds → same init, batches and Adam math: the members' test probabilities agree to float
    rounding (tolerance 1e-4 after 12 steps)."""
    r = recipe_from_dict(RAW, "t")
    a = train_independent(r, members=2, engine="vectorized")
    b = train_independent(r, members=2, engine="one_by_one")
    assert a.engine.startswith("vectorized") and b.engine.startswith("one by one")
    pa, pb = a.ensemble.member_proba(a.data.x_test), b.ensemble.member_proba(b.data.x_test)
    torch.testing.assert_close(pa, pb, rtol=0, atol=1e-4)
    assert a.scores["ensemble"] == pytest.approx((pa.mean(0).argmax(-1) == a.data.y_test).float().mean().item())
    assert len(a.scores["members"]) == 2 and a.scores["growth"][0] == a.scores["members"][0]


def test_auto_falls_back_and_says_why():
    r = recipe_from_dict(RAW, "t", ["train.label_smoothing=0.1", "train.steps=3"])
    run = train_independent(r, members=2, engine="auto")
    assert run.engine.startswith("one by one") and any("label smoothing" in f for f in run.fallback)
    with pytest.raises(UserError, match="label smoothing"):
        train_independent(r, members=2, engine="vectorized")


def test_vectorized_members_keep_dropout_when_the_first_member_has_none():
    """Members differing in model.dropout where member 0 has none: the others still drop units."""
    from trainwell.assemble import prepare, train_members

    base = recipe_from_dict(RAW, "t")
    with_dropout = recipe_from_dict(RAW, "t", ["model.dropout=0.5"])
    data, device = prepare(base)
    vec = train_members([base, with_dropout], data, device, engine="vectorized")
    one = train_members([base, with_dropout], data, device, engine="one_by_one")
    assert vec.engine.startswith("vectorized")
    # member 0 (no dropout) matches its one-by-one twin closely; member 1 differs from a no-dropout run
    p_vec = [m(data.bundle.x_test) for m in vec.models]
    p_one = [m(data.bundle.x_test) for m in one.models]
    torch.testing.assert_close(p_vec[0], p_one[0], rtol=0, atol=1e-4)
    assert not torch.allclose(p_vec[1], p_vec[0], atol=1e-3)
    assert abs(vec.results[1].train_loss - vec.results[0].train_loss) > 1e-3  # dropout changed training
