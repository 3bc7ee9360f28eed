"""Ensemble = mean of member probabilities; one-file save/load; scores by hand."""
import pytest
import torch

from trainwell.augment import build_tta, tta_predict
from trainwell.ensemble.ensemble import Ensemble, spec_for
from trainwell.ensemble.metrics import ensemble_scores, growth
from trainwell.errors import UserError
from trainwell.models import MODELS


def _mlp(seed, widths=(8,)):
    return MODELS.build({"name": "mlp", "widths": list(widths)}, input_shape=(1, 12), num_classes=3,
                        generator=torch.Generator().manual_seed(seed))


def test_forward_is_mean_of_member_softmax():
    members = [_mlp(s) for s in range(3)]
    x = torch.randn(5, 1, 12, generator=torch.Generator().manual_seed(9))
    ens = Ensemble(members)
    expected = sum(torch.softmax(m(x), -1) for m in members) / 3
    torch.testing.assert_close(ens(x), expected)
    torch.testing.assert_close(ens.predict_proba(x), expected)
    assert ens.member_proba(x).shape == (3, 5, 3)
    assert torch.equal(ens.predict(x), expected.argmax(-1))
    assert len(ens.members) == 3 and ens.members[1] is members[1]


def test_tta_is_mean_over_members_of_view_means():
    members = [_mlp(s).eval() for s in range(2)]
    x = torch.randn(4, 1, 12, generator=torch.Generator().manual_seed(1))
    tta = build_tta({"name": "shift", "shifts": [-1, 0, 1]})
    expected = (tta_predict(members[0], x, tta.views) + tta_predict(members[1], x, tta.views)) / 2
    torch.testing.assert_close(Ensemble(members).predict_proba(x, tta={"name": "shift", "shifts": [-1, 0, 1]}), expected)


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    spec = spec_for({"name": "mlp", "widths": [8]}, (1, 12), 3)
    ens = Ensemble([_mlp(s) for s in range(3)], spec, config={"name": "r"}, preprocess={"steps": []})
    path = ens.save(tmp_path / "ens.pt", info={"note": "x"})
    back = Ensemble.load(path)
    x = torch.randn(7, 1, 12, generator=torch.Generator().manual_seed(2))
    assert torch.equal(back.predict_proba(x), ens.predict_proba(x))
    assert back.config == {"name": "r"} and back.info == {"note": "x"} and len(back) == 3


def test_load_lists_mismatching_tensors(tmp_path):
    ens = Ensemble([_mlp(0, widths=(8,))], spec_for({"name": "mlp", "widths": [16]}, (1, 12), 3))  # wrong spec
    path = ens.save(tmp_path / "bad.pt")
    with pytest.raises(UserError, match=r"fc1\.weight: model \(16, 12\) vs .* \(8, 12\)"):
        Ensemble.load(path)


def test_save_without_specs_and_foreign_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no member specs"):
        Ensemble([_mlp(0)]).save(tmp_path / "e.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a trainwell ensemble"):
        Ensemble.load(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot be loaded safely"):
        Ensemble.load(tmp_path / "junk.pt")


def test_scores_by_hand():
    # 3 members, 2 examples, 2 classes; labels [1, 0]
    p = torch.tensor([[[0.6, 0.4], [0.9, 0.1]],
                      [[0.3, 0.7], [0.4, 0.6]],
                      [[0.45, 0.55], [0.45, 0.55]]])
    y = torch.tensor([1, 0])
    s = ensemble_scores(p, y)
    assert s["members"] == [0.5, 0.5, 0.5]
    # mean p = [[0.45, 0.55], [0.5833, 0.4167]] -> predictions [1, 0] -> accuracy 1
    assert s["ensemble"] == 1.0 and s["gain"] == pytest.approx(0.5)
    # first member alone: 0.5; first two: sums [[0.9,1.1],[1.3,0.7]] -> [1, 0] -> 1.0
    assert growth(p, y) == [0.5, 1.0, 1.0]
