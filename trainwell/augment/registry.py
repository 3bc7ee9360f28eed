"""Registries of augmentations and batch mixers, and the builders the Trainer calls.

    AUGMENTATIONS  name -> augmentation class, `aug(x, generator) -> x'`
    MIXERS         name -> batch mixer class, `mixer(x, y, num_classes, generator) -> (x', targets)`

Recipes name parts as strings or tables with options, e.g. in TOML:

    augment = ["hflip", {name = "random_crop", padding = 4}]
    mixer = {name = "mixup", alpha = 0.2}

Example:
    >>> aug = build_augmentation(["hflip", {"name": "random_crop", "padding": 4}])
    >>> mixer = build_mixer({"name": "cutmix", "alpha": 1.0})
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainwell.augment.affine import RandomAffine
from trainwell.augment.amplitude import AmplitudeScale
from trainwell.augment.base import Compose
from trainwell.augment.color import ColorJitter
from trainwell.augment.crop import RandomCrop
from trainwell.augment.cutout import Cutout, Cutout1d
from trainwell.augment.elastic import ElasticDistortion
from trainwell.augment.flip import HFlip, TimeReverse, VFlip
from trainwell.augment.mix import CutMix, Mixup
from trainwell.augment.noise import GaussianNoise
from trainwell.augment.resized_crop import RandomResizedCrop
from trainwell.augment.shift import RandomShift
from trainwell.augment.stretch import TimeStretch
from trainwell.errors import UserError
from trainwell.registry import Registry

AUGMENTATIONS = Registry("augmentation")
AUGMENTATIONS.add("hflip", HFlip, "mirror images left-right (p)")
AUGMENTATIONS.add("vflip", VFlip, "mirror images top-bottom (p)")
AUGMENTATIONS.add("random_crop", RandomCrop, "pad and crop back at a random offset (padding, pad_mode, p)")
AUGMENTATIONS.add("random_resized_crop", RandomResizedCrop, "crop a box of random area/aspect, resize back (scale, ratio, p)")
AUGMENTATIONS.add("color_jitter", ColorJitter, "random brightness/contrast/saturation/hue (brightness, contrast, saturation, hue, p)")
AUGMENTATIONS.add("affine", RandomAffine, "random rotation/translation/scale/shear (degrees, translate, scale, shear, padding_mode, p)")
AUGMENTATIONS.add("elastic", ElasticDistortion, "smoothed random displacement field, Simard et al. 2003 (alpha, sigma, padding_mode, p)")
AUGMENTATIONS.add("gaussian_noise", GaussianNoise, "add N(0, std²) noise (std, p); signals and images")
AUGMENTATIONS.add("amplitude_scale", AmplitudeScale, "multiply by s ~ U(scale) (scale, p); signals and images")
AUGMENTATIONS.add("cutout", Cutout, "zero a random square/segment, DeVries & Taylor 2017 (size, value, p)")
AUGMENTATIONS.add("shift", RandomShift, "shift signals by k ~ U{-max_shift..max_shift} (max_shift, mode, p)")
AUGMENTATIONS.add("time_stretch", TimeStretch, "resample signals by r ~ logU(factor), same length (factor, padding_mode, p)")
AUGMENTATIONS.add("reverse", TimeReverse, "reverse signals in time (p)")
AUGMENTATIONS.add("cutout1d", Cutout1d, "zero a random segment of signals (size, value, p)")

MIXERS = Registry("mixer")
MIXERS.add("mixup", Mixup, "λx + (1-λ)x', λ ~ Beta(α, α), Zhang et al. 2018 (alpha, p, per_example)")
MIXERS.add("cutmix", CutMix, "paste a partner's box, λ = real area share, Yun et al. 2019 (alpha, p, per_example)")


def build_augmentation(specs: Sequence[str | Mapping[str, Any]] | str | Mapping[str, Any] | None) -> Compose:
    """A Compose of the named augmentations, in order ([] or None -> the identity)."""
    if specs is None:
        return Compose([])
    if isinstance(specs, (str, Mapping)):
        specs = [specs]
    if not isinstance(specs, Sequence):
        raise UserError(f"augmentations must be a list of names or tables, got {specs!r}")
    return Compose([AUGMENTATIONS.build(spec) for spec in specs])


def build_mixer(spec: str | Mapping[str, Any] | None):
    """The named batch mixer, or None for no spec / "none"."""
    if spec is None or spec == "none":
        return None
    return MIXERS.build(spec)
