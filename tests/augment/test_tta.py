"""Test-time augmentation: averages of softmax probabilities over deterministic views."""
import pytest
import torch
from torch import nn

from trainwell.augment.tta import TTA, Flip, Identity, Shift, build_tta, flip_views, shift_views, tta_predict
from trainwell.errors import UserError


def seeded(model, seed):
    """Overwrite every parameter with N(0, 0.3²) draws from a seeded generator (no global RNG)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def small_cnn(seed=0):
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).double()
    return seeded(model, seed)


class Symmetrized(nn.Module):
    """f(x) + f(flip_w(x)): invariant to horizontal flips by construction."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x) + self.f(x.flip(-1))


def test_identity_views_equal_plain_softmax():
    model = small_cnn()
    x = torch.randn(7, 2, 6, 6, dtype=torch.float64)
    plain = torch.softmax(model(x), dim=1)
    torch.testing.assert_close(tta_predict(model, x, [Identity(), Identity(), lambda t: t]), plain)


def test_flip_views_on_flip_invariant_model_equal_plain():
    model = Symmetrized(small_cnn(1))
    x = torch.randn(5, 2, 6, 6, dtype=torch.float64)
    plain = torch.softmax(model(x), dim=1)
    probs = tta_predict(model, x, flip_views((-1,)))
    torch.testing.assert_close(probs, plain, atol=1e-12, rtol=0)
    # ...but not for a model that sees direction: TTA then differs from plain
    f = small_cnn(1)
    assert not torch.allclose(tta_predict(f, x, flip_views((-1,))), torch.softmax(f(x), dim=1))


def test_averages_probabilities_not_logits_hand():
    # logits (0, 0) under the identity and (log 3, 0) under the flip: probs (1/2, 1/2) and (3/4, 1/4)
    def model(x):
        first = x[:, 0, 0]                               # 0 for x, log 3 for the flipped x
        return torch.stack([first, torch.zeros_like(first)], dim=1)

    x = torch.tensor([[[0.0, torch.log(torch.tensor(3.0)).item()]]])
    probs = tta_predict(model, x, flip_views((-1,)))
    torch.testing.assert_close(probs, torch.tensor([[0.625, 0.375]]))


def test_flip_and_shift_views_hand():
    x = torch.arange(6.0).view(1, 1, 2, 3)
    views = flip_views((-1, -2))
    assert [repr(v) for v in views] == ["Identity()", "Flip(dims=(-1,))", "Flip(dims=(-2,))", "Flip(dims=(-1, -2))"]
    assert views[3](x)[0, 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    s = torch.arange(1.0, 6.0).view(1, 1, 5)
    assert Shift(2)(s)[0, 0].tolist() == [4, 5, 1, 2, 3]
    assert Shift(2, mode="zeros")(s)[0, 0].tolist() == [0, 0, 1, 2, 3]
    assert Shift(-1, mode="zeros")(s)[0, 0].tolist() == [2, 3, 4, 5, 0]
    assert torch.equal(s, torch.arange(1.0, 6.0).view(1, 1, 5))        # views do not touch their input
    assert [repr(v) for v in shift_views((-1, 0, 1))][1] == "Identity()"


def test_shift_views_on_shift_invariant_model_equal_plain():
    # global average pooling over a circular conv is invariant to circular shifts
    model = seeded(nn.Sequential(nn.Conv1d(1, 3, 3, padding=1, padding_mode="circular"), nn.ReLU(),
                                 nn.AdaptiveAvgPool1d(1), nn.Flatten()).double(), 2)
    x = torch.randn(4, 1, 12, dtype=torch.float64)
    torch.testing.assert_close(tta_predict(model, x, shift_views((-3, 0, 2))),
                               torch.softmax(model(x), dim=1), atol=1e-12, rtol=0)


def test_rows_sum_to_one_batching_and_no_grad():
    model = small_cnn(3)
    x = torch.randn(9, 2, 6, 6, dtype=torch.float64)
    tta = build_tta([{"name": "flip", "dims": [-1, -2]}, {"name": "shift", "shifts": [1], "dim": -1}])
    assert len(tta) == 5
    probs = tta(model, x)
    assert not probs.requires_grad
    torch.testing.assert_close(probs.sum(1), torch.ones(9, dtype=probs.dtype))
    torch.testing.assert_close(tta(model, x, batch_size=4), probs)


def test_build_tta_specs_and_errors():
    assert repr(build_tta(None)) == "TTA([Identity()])"
    assert len(build_tta("flip")) == 2
    with pytest.raises(UserError, match='did you mean "flip"'):
        build_tta("flp")
    with pytest.raises(UserError, match="has no option"):
        build_tta({"name": "flip", "axis": -1})
    with pytest.raises(UserError, match="at least one view"):
        TTA([])
    with pytest.raises(UserError, match="not a data axis"):
        Flip((0,))(torch.randn(2, 3))
