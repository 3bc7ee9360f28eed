"""Properties every registered augmentation must have, checked on all of them:
identity when inactive, seeded reproducibility, per-example independence, p respected
statistically, the wrong rank rejected with a message naming the part and the shape."""
import re

import pytest
import torch

from trainwell.augment import AUGMENTATIONS
from trainwell.errors import UserError

SIG = (3, 24)          # C, L
IMG = (3, 12, 12)      # C, H, W

# name -> (example shape, strong options, options of zero strength or None,
#          probability that an applied transform changes a random example)
CASES = {
    "hflip": (IMG, {}, None, 1.0),
    "vflip": (IMG, {}, None, 1.0),
    "random_crop": (IMG, {"padding": 2}, {"padding": 0}, 24 / 25),   # offset (2, 2) is the identity
    "random_resized_crop": (IMG, {"scale": (0.3, 0.9)}, {"scale": (1.0, 1.0), "ratio": (1.0, 1.0)}, 1.0),
    "color_jitter": (IMG, {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.2},
                     {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0}, 1.0),
    "affine": (IMG, {"degrees": 20.0, "translate": 0.1, "scale": (0.8, 1.2), "shear": 5.0},
               {"degrees": 0.0, "translate": 0.0, "scale": (1.0, 1.0), "shear": 0.0}, 1.0),
    "elastic": (IMG, {"alpha": 8.0, "sigma": 2.0}, {"alpha": 0.0}, 1.0),
    "gaussian_noise": (IMG, {"std": 0.5}, {"std": 0.0}, 1.0),
    "amplitude_scale": (SIG, {"scale": (0.5, 1.5)}, {"scale": (1.0, 1.0)}, 1.0),
    "cutout": (IMG, {"size": 4}, {"size": 0}, 1.0),
    "shift": (SIG, {"max_shift": 3}, {"max_shift": 0}, 6 / 7),      # k = 0 with probability 1/7
    "time_stretch": (SIG, {"factor": (0.7, 1.4)}, {"factor": (1.0, 1.0)}, 1.0),
    "reverse": (SIG, {}, None, 1.0),
    "cutout1d": (SIG, {"size": 5}, {"size": 0}, 1.0),
}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def build(name, p, zero=False):
    shape, strong, zero_opts, _ = CASES[name]
    opts = dict(zero_opts if zero else strong)
    return AUGMENTATIONS.build({"name": name, **opts, "p": p})


def test_every_registered_augmentation_is_covered():
    assert set(CASES) == set(AUGMENTATIONS.names())


@pytest.mark.parametrize("name", sorted(CASES))
def test_p_zero_and_zero_strength_return_x(name):
    shape = CASES[name][0]
    x = torch.randn(6, *shape)
    assert build(name, 0.0)(x, gen(0)) is x
    if CASES[name][2] is not None:
        assert build(name, 1.0, zero=True)(x, gen(0)) is x


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_seed_same_output_other_seed_differs(name):
    shape = CASES[name][0]
    x = torch.randn(16, *shape, generator=gen(100))
    aug = build(name, 0.5)
    a, b, c = aug(x, gen(1)), aug(x, gen(1)), aug(x, gen(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", sorted(CASES))
def test_examples_get_independent_draws(name):
    # 64 copies of the same example: a shared draw would give 1 distinct output (p = 1) or
    # 2 (p = 0.5, for the parameter-free flips); independent draws give many.
    shape, _, zero_opts, _ = CASES[name]
    x = torch.randn(1, *shape, generator=gen(3)).expand(64, *shape).contiguous()
    p = 0.5 if zero_opts is None else 1.0
    out = build(name, p)(x, gen(4))
    distinct = out.flatten(1).unique(dim=0).shape[0]
    if zero_opts is None:           # parameter-free: the per-example coin alone decides
        assert distinct == 2
        changed = (out != x).flatten(1).any(1).float().mean().item()
        assert 0.25 < changed < 0.75
    else:
        assert distinct >= 5


@pytest.mark.parametrize("name", sorted(CASES))
def test_fraction_changed_matches_p(name):
    shape, _, _, q = CASES[name]
    n, p = 3000, 0.3
    x = torch.randn(n, *shape, generator=gen(5))
    out = build(name, p)(x, gen(6))
    changed = (out != x).flatten(1).any(1).float().mean().item()
    # Binomial(3000, p·q)/3000 has sd <= 0.0084; tolerance 0.035 (> 4 sd)
    assert abs(changed - p * q) < 0.035


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_rank_is_a_user_error(name):
    aug = build(name, 1.0)
    if aug.ranks == (3, 4):
        bad = torch.randn(4, 8)
    elif aug.ranks == (3,):
        bad = torch.randn(4, 1, 8, 8)
    else:
        bad = torch.randn(4, 1, 8)
    with pytest.raises(UserError, match=rf"{name} needs .* got a tensor of shape {re.escape(str(tuple(bad.shape)))}"):
        aug(bad, gen(0))


def test_hflip_message_is_readable():
    with pytest.raises(UserError) as info:
        AUGMENTATIONS.build("hflip")(torch.randn(32, 1, 40), gen(0))
    assert str(info.value) == "hflip needs images N×C×H×W, got a tensor of shape (32, 1, 40)"


def test_generator_checks():
    aug = AUGMENTATIONS.build("gaussian_noise")
    with pytest.raises(UserError, match="torch.Generator"):
        aug(torch.randn(2, 1, 4), None)
    with pytest.raises(UserError, match="floating-point"):
        aug(torch.ones(2, 1, 4, dtype=torch.long), gen(0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_generator_on_other_device_is_a_user_error():
    aug = AUGMENTATIONS.build("gaussian_noise")
    with pytest.raises(UserError, match="generator is on cpu"):
        aug(torch.randn(2, 1, 4, device="cuda"), gen(0))


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_batches_keep_their_dtype(name):
    shape = CASES[name][0]
    x = torch.randn(4, *shape, dtype=torch.float64)
    assert build(name, 1.0)(x, gen(0)).dtype == torch.float64
