"""Registries and builders: names, options, error messages."""
import pytest
import torch

from trainwell.augment import AUGMENTATIONS, MIXERS, Compose, CutMix, HFlip, Mixup, build_augmentation, build_mixer
from trainwell.errors import UserError


def test_build_augmentation_from_names_and_tables():
    aug = build_augmentation(["hflip", {"name": "gaussian_noise", "std": 0.5, "p": 0.25}])
    assert isinstance(aug, Compose) and len(aug) == 2
    assert isinstance(aug.transforms[0], HFlip)
    assert aug.transforms[1].std == 0.5 and aug.transforms[1].p == 0.25
    assert "GaussianNoise(std=0.5, p=0.25)" in repr(aug)


def test_empty_compose_is_identity():
    x = torch.randn(3, 1, 5)
    g = torch.Generator().manual_seed(0)
    assert build_augmentation([])(x, g) is x
    assert build_augmentation(None)(x, g) is x


def test_compose_applies_in_order():
    x = torch.arange(4.0).view(1, 1, 4)
    g = torch.Generator().manual_seed(0)
    aug = build_augmentation([{"name": "reverse", "p": 1.0}, {"name": "shift", "max_shift": 0}])
    assert aug(x, g)[0, 0].tolist() == [3, 2, 1, 0]
    # plain callables are accepted too
    aug = Compose([lambda x, g: x + 1, lambda x, g: x * 2])
    assert aug(x, g)[0, 0].tolist() == [2, 4, 6, 8]


def test_unknown_name_and_option_are_user_errors():
    with pytest.raises(UserError, match='did you mean "hflip"'):
        build_augmentation(["hflipp"])
    with pytest.raises(UserError, match="has no option 'stdd'"):
        build_augmentation([{"name": "gaussian_noise", "stdd": 1.0}])
    with pytest.raises(UserError, match='did you mean "mixup"'):
        build_mixer("mixpu")


def test_build_mixer():
    assert build_mixer(None) is None and build_mixer("none") is None
    assert isinstance(build_mixer("mixup"), Mixup)
    m = build_mixer({"name": "cutmix", "alpha": 0.5})
    assert isinstance(m, CutMix) and m.alpha == 0.5
    assert set(MIXERS.names()) == {"mixup", "cutmix"}


def test_every_entry_has_help_and_builds_with_defaults():
    for entry in AUGMENTATIONS.entries():
        assert entry.help
        aug = AUGMENTATIONS.build(entry.name)
        assert type(aug).name == entry.name        # the name used in error messages is the registry name
