"""Batched tensor augmentations for 1-D signals (N×C×L) and 2-D images (N×C×H×W), batch
mixers (mixup, cutmix) and test-time augmentation.

Every augmentation is `aug(x, generator) -> x'` (same shape): per-example parameters are drawn
as tensors from an explicit `torch.Generator` on the batch's device and applied with
whole-batch ops; each example is transformed with probability `p`.
"""
from trainwell.augment.affine import RandomAffine, affine_theta, warp_affine
from trainwell.augment.amplitude import AmplitudeScale, amplitude_scale
from trainwell.augment.base import Augmentation, Compose
from trainwell.augment.beta import sample_beta, sample_gamma, sample_log_gamma
from trainwell.augment.boxes import box_mask, sample_boxes
from trainwell.augment.color import (
    ColorJitter,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    color_jitter,
    gray,
    jitter_affine,
)
from trainwell.augment.crop import RandomCrop, crop_padded
from trainwell.augment.cutout import Cutout, Cutout1d, cutout
from trainwell.augment.elastic import ElasticDistortion, elastic_field, gaussian_kernel1d, warp_displacement
from trainwell.augment.flip import HFlip, TimeReverse, VFlip, hflip, vflip
from trainwell.augment.mix import CutMix, Mixup, cutmix, mixup
from trainwell.augment.noise import GaussianNoise, add_noise
from trainwell.augment.resized_crop import RandomResizedCrop, resized_crop
from trainwell.augment.registry import AUGMENTATIONS, MIXERS, build_augmentation, build_mixer
from trainwell.augment.shift import RandomShift, shift1d
from trainwell.augment.stretch import TimeStretch, stretch1d
from trainwell.augment.tta import TTA, TTA_VIEWS, Flip, Identity, Shift, build_tta, flip_views, shift_views, tta_predict

__all__ = [
    "AUGMENTATIONS",
    "MIXERS",
    "TTA",
    "TTA_VIEWS",
    "AmplitudeScale",
    "Augmentation",
    "ColorJitter",
    "Compose",
    "CutMix",
    "Cutout",
    "Cutout1d",
    "ElasticDistortion",
    "Flip",
    "GaussianNoise",
    "HFlip",
    "Identity",
    "Mixup",
    "RandomAffine",
    "RandomCrop",
    "RandomResizedCrop",
    "RandomShift",
    "Shift",
    "TimeReverse",
    "TimeStretch",
    "VFlip",
    "add_noise",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "affine_theta",
    "amplitude_scale",
    "box_mask",
    "build_augmentation",
    "build_mixer",
    "build_tta",
    "color_jitter",
    "crop_padded",
    "cutmix",
    "cutout",
    "elastic_field",
    "flip_views",
    "gaussian_kernel1d",
    "gray",
    "hflip",
    "jitter_affine",
    "mixup",
    "resized_crop",
    "sample_beta",
    "sample_boxes",
    "sample_gamma",
    "sample_log_gamma",
    "shift1d",
    "shift_views",
    "stretch1d",
    "tta_predict",
    "vflip",
    "warp_affine",
    "warp_displacement",
]
