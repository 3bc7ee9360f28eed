"""Geometry and photometry of the image transforms on hand-made images (hand-computed values)."""
import math

import pytest
import torch

from trainwell.augment import (
    ColorJitter,
    ElasticDistortion,
    HFlip,
    RandomAffine,
    RandomCrop,
    RandomResizedCrop,
    VFlip,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    affine_theta,
    color_jitter,
    crop_padded,
    elastic_field,
    gaussian_kernel1d,
    gray,
    resized_crop,
    warp_affine,
    warp_displacement,
)
from trainwell.errors import UserError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def dot_image(n, h, w, r, c, dtype=torch.float64):
    x = torch.zeros(n, 1, h, w, dtype=dtype)
    x[:, :, r, c] = 1.0
    return x


def argmax2d(img):
    """(row, col) of the largest value of each N×1×H×W image."""
    flat = img.flatten(1).argmax(1)
    return flat // img.shape[-1], flat % img.shape[-1]


def test_flips_move_a_marked_pixel():
    x = dot_image(2, 5, 7, 1, 2)
    h = HFlip(p=1.0)(x, gen())
    v = VFlip(p=1.0)(x, gen())
    assert h[0, 0, 1, 4] == 1 and h.sum() == 2          # column 2 -> 7-1-2 = 4
    assert v[0, 0, 3, 2] == 1 and v.sum() == 2          # row 1 -> 5-1-1 = 3


def test_crop_padded_hand_table():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    # pad 1 with zeros, offset (top 0, left 2): out[i, j] = x[i - 1, j + 1]
    out = crop_padded(x, torch.tensor([0]), torch.tensor([2]), 1, "zeros")[0, 0]
    assert out.tolist() == [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0]]
    # reflect pad mirrors without repeating the edge: padded row -1 is row 1
    out = crop_padded(x, torch.tensor([0]), torch.tensor([1]), 1, "reflect")[0, 0]
    assert out[0].tolist() == [5, 6, 7, 8] and out[1].tolist() == [1, 2, 3, 4]
    # the centre offset is the identity
    assert torch.equal(crop_padded(x, torch.tensor([1]), torch.tensor([1]), 1, "reflect"), x)


def test_random_crop_keeps_the_right_region():
    n, pad = 600, 3
    x = dot_image(n, 10, 10, 5, 4, dtype=torch.float32)
    out = RandomCrop(padding=pad)(x, gen(1))
    r, c = argmax2d(out)
    dy, dx = r - 5, c - 4                                # content moved by (P - top, P - left)
    assert out.flatten(1).sum(1).eq(1).all()            # the dot stays whole (|shift| <= 3 < 4)
    assert dy.abs().max() == pad and dx.abs().max() == pad
    # offsets uniform on 7 values per axis: each frequency 1/7 ± 0.06 (sd 0.014)
    for d in (dy, dx):
        freq = torch.bincount(d + pad, minlength=7).float() / n
        assert torch.all((freq - 1 / 7).abs() < 0.06)
    assert (dy != dx).float().mean() > 0.7              # the two axes are drawn independently


def test_resized_crop_ramp_exact():
    # x[i, j] = j: bilinear reads column left + (j + 0.5)·w/W - 0.5 exactly
    h = w = 16
    x = torch.arange(w, dtype=torch.float64).expand(1, 1, h, w).clone()
    boxes = torch.tensor([[4.0, 6.0, 8.0, 8.0]], dtype=torch.float64)      # top, left, h, w
    out = resized_crop(x, boxes)[0, 0]
    j = torch.arange(w, dtype=torch.float64)
    # columns read: 5.75 ... 13.25, all inside the image
    torch.testing.assert_close(out, (6 + (j + 0.5) * 0.5 - 0.5).expand(h, w), atol=1e-12, rtol=0)
    full = torch.tensor([[0.0, 0.0, 16.0, 16.0]], dtype=torch.float64)
    torch.testing.assert_close(resized_crop(x, full), x, atol=1e-12, rtol=0)


def test_random_resized_crop_boxes():
    x = torch.zeros(3000, 1, 20, 30)
    aug = RandomResizedCrop(scale=(0.2, 0.6), ratio=(0.5, 2.0))
    top, left, h, w = aug.sample_boxes(x, gen(2)).unbind(1)
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 20 + 1e-4).all() and (left + w <= 30 + 1e-4).all()
    inside = (w < 30) & (h < 20)                         # not capped
    share = (h * w / 600)[inside]
    assert share.min() >= 0.2 - 1e-5 and share.max() <= 0.6 + 1e-5
    logr = (w / h)[inside].log()
    assert logr.min() >= math.log(0.5) - 1e-5 and logr.max() <= math.log(2.0) + 1e-5
    assert inside.float().mean() > 0.8
    # square boxes are never capped here (side <= sqrt(0.6·600) = 19 < 20):
    # area share ~ U(0.2, 0.6): mean 0.4 ± 0.01 (sd of mean 0.002), all sides equal
    top, left, h, w = RandomResizedCrop(scale=(0.2, 0.6), ratio=(1.0, 1.0)).sample_boxes(x, gen(2)).unbind(1)
    torch.testing.assert_close(h, w)
    assert abs((h * w / 600).mean().item() - 0.4) < 0.01


def test_brightness_contrast_saturation_formulas():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 5, 6, generator=g, dtype=torch.float64)
    f = torch.tensor([0.5, 1.0, 1.5, 0.0], dtype=torch.float64)
    torch.testing.assert_close(adjust_brightness(x, f), x * f.view(-1, 1, 1, 1))
    # contrast keeps each image's mean gray level, and factor 0 gives a flat gray image
    y = adjust_contrast(x, f)
    torch.testing.assert_close(gray(y).mean((1, 2, 3)), gray(x).mean((1, 2, 3)))
    assert torch.allclose(y[3], gray(x[3:4]).mean().expand(3, 5, 6))
    # saturation 0 -> every channel equals the luma; the luma is kept for any factor
    s = adjust_saturation(x, f)
    torch.testing.assert_close(s[3], gray(x[3:4])[0].expand(3, 5, 6))
    torch.testing.assert_close(gray(s), gray(x))
    # BT.601 weights, by hand on one pixel
    px = torch.tensor([0.2, 0.4, 0.6], dtype=torch.float64).view(1, 3, 1, 1)
    assert gray(px).item() == pytest.approx(0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6, abs=1e-15)


def test_hue_rotation_invariants():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 3, 4, 4, generator=g, dtype=torch.float64)
    a = torch.tensor([0.7, -1.2, 2.0], dtype=torch.float64)
    b = torch.tensor([0.4, 0.3, -2.5], dtype=torch.float64)
    torch.testing.assert_close(adjust_hue(x, torch.zeros(3, dtype=torch.float64)), x)
    torch.testing.assert_close(adjust_hue(x, torch.full((3,), 2 * math.pi, dtype=torch.float64)), x)
    torch.testing.assert_close(adjust_hue(adjust_hue(x, a), b), adjust_hue(x, a + b))   # a group
    torch.testing.assert_close(gray(adjust_hue(x, a)), gray(x), atol=1e-4, rtol=0)       # luma kept (4-digit YIQ)
    grey = x[:, :1].expand(3, 3, 4, 4)
    torch.testing.assert_close(adjust_hue(grey, a), grey, atol=1e-4, rtol=0)            # no chroma to turn
    assert not torch.allclose(adjust_hue(x, a), x, atol=1e-2)


def test_fused_color_jitter_equals_the_four_steps():
    x = torch.randn(6, 3, 5, 7, generator=gen(13), dtype=torch.float64)
    u = torch.rand(4, 6, generator=gen(14), dtype=torch.float64)
    b, c, s, a = 0.5 + u[0], 0.5 + u[1], 2 * u[2], (u[3] - 0.5) * 3
    steps = adjust_hue(adjust_saturation(adjust_contrast(adjust_brightness(x, b), c), s), a)
    torch.testing.assert_close(color_jitter(x, b, c, s, a), steps, atol=1e-12, rtol=0)
    # grayscale (and any C != 3): brightness then contrast about the channel-mean level
    g1 = x[:, :2]
    torch.testing.assert_close(color_jitter(g1, b, c, s, None), adjust_contrast(adjust_brightness(g1, b), c),
                               atol=1e-12, rtol=0)
    # keep=False rows come back bit for bit
    keep = torch.tensor([True, False, True, False, False, True])
    out = color_jitter(x, b, c, s, a, keep)
    assert torch.equal(out[~keep], x[~keep])
    torch.testing.assert_close(out[keep], steps[keep], atol=1e-12, rtol=0)


def test_color_jitter_grayscale_is_affine_per_image():
    x = torch.rand(50, 1, 6, 6, generator=gen(5), dtype=torch.float64)
    out = ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.3)(x, gen(6))
    # C = 1: only brightness and contrast -> out = α·x + β per image, α > 0
    xc = x - x.mean((2, 3), keepdim=True)
    oc = out - out.mean((2, 3), keepdim=True)
    alpha = (oc * xc).sum((1, 2, 3)) / (xc * xc).sum((1, 2, 3))
    torch.testing.assert_close(oc, alpha.view(-1, 1, 1, 1) * xc)
    assert (alpha > 0).all() and alpha.unique().numel() == 50
    with pytest.raises(UserError, match="C=4"):
        ColorJitter(hue=0.1)(torch.rand(2, 4, 3, 3), gen())
    with pytest.raises(UserError, match="hue"):
        ColorJitter(hue=0.7)


def test_affine_translate_moves_a_dot():
    x = dot_image(1, 11, 13, 5, 6)
    theta = affine_theta(
        torch.zeros(1, dtype=torch.float64), torch.tensor([[3.0, -2.0]], dtype=torch.float64),
        torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64), 11, 13,
    )
    out = warp_affine(x, theta)
    expect = dot_image(1, 11, 13, 3, 9)                  # 3 right, 2 up
    torch.testing.assert_close(out, expect, atol=1e-9, rtol=0)


@pytest.mark.parametrize(
    "angle,scale,shear,moved_to",
    [
        (90.0, 1.0, 0.0, (2, 5)),      # right of centre -> above it (counter-clockwise)
        (-90.0, 1.0, 0.0, (8, 5)),     # clockwise -> below
        (180.0, 1.0, 0.0, (5, 2)),
        (0.0, 2.0, 0.0, None),         # handled below
    ],
)
def test_affine_rotation_directions(angle, scale, shear, moved_to):
    x = dot_image(1, 11, 11, 5, 8)                      # 3 pixels right of the centre (5, 5)
    if moved_to is None:
        x = dot_image(1, 11, 11, 5, 7)                  # 2 right; scale 2 -> 4 right, spread out
        moved_to = (5, 9)
    theta = affine_theta(
        torch.tensor([angle], dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64),
        torch.tensor([scale], dtype=torch.float64), torch.tensor([shear], dtype=torch.float64), 11, 11,
    )
    out = warp_affine(x, theta)
    r, c = argmax2d(out)
    assert (r.item(), c.item()) == moved_to
    if scale == 1.0:
        assert out[0, 0, moved_to[0], moved_to[1]].item() == pytest.approx(1.0, abs=1e-9)


def test_affine_shear_hand():
    # Sh(45°) = [[1, 1], [0, 1]]: the point 2 below the centre moves 2 to the right
    x = dot_image(1, 11, 11, 7, 5)
    theta = affine_theta(torch.zeros(1, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64),
                         torch.ones(1, dtype=torch.float64), torch.tensor([45.0], dtype=torch.float64), 11, 11)
    torch.testing.assert_close(warp_affine(x, theta), dot_image(1, 11, 11, 7, 7), atol=1e-9, rtol=0)


def test_affine_identity_theta_reproduces_x():
    x = torch.rand(2, 3, 7, 9, dtype=torch.float64)
    z = torch.zeros(2, dtype=torch.float64)
    theta = affine_theta(z, torch.zeros(2, 2, dtype=torch.float64), z + 1, z, 7, 9)
    torch.testing.assert_close(warp_affine(x, theta), x, atol=1e-12, rtol=0)


def test_random_affine_translation_per_example():
    n = 400
    x = dot_image(n, 21, 21, 10, 10)
    out = RandomAffine(degrees=0.0, translate=0.2, scale=(1.0, 1.0))(x, gen(7))
    # centroid shift of the (bilinearly split) dot = the drawn translation, |t| <= 0.2·21 = 4.2
    ii = torch.arange(21, dtype=torch.float64)
    mass = out.sum((1, 2, 3))
    cy = (out.sum(3)[:, 0] * ii).sum(1) / mass - 10
    cx = (out.sum(2)[:, 0] * ii).sum(1) / mass - 10
    torch.testing.assert_close(mass, torch.ones(n, dtype=torch.float64))
    assert cx.abs().max() <= 4.2 + 1e-9 and cy.abs().max() <= 4.2 + 1e-9
    # U(-4.2, 4.2): sd 2.42; sample sd within 10 %
    assert abs(cx.std().item() / (8.4 / math.sqrt(12)) - 1) < 0.1
    assert abs(torch.corrcoef(torch.stack([cx, cy]))[0, 1].item()) < 0.15


def test_random_affine_rotation_keeps_distance_to_centre():
    n = 300
    x = dot_image(n, 41, 41, 20, 30)                       # 10 px right of the centre
    out = RandomAffine(degrees=180.0, translate=0.0, scale=(1.0, 1.0))(x, gen(8))
    ii = torch.arange(41, dtype=torch.float64)
    mass = out.sum((1, 2, 3))
    cy = (out.sum(3)[:, 0] * ii).sum(1) / mass - 20
    cx = (out.sum(2)[:, 0] * ii).sum(1) / mass - 20
    radius = (cx**2 + cy**2).sqrt()
    assert ((radius - 10).abs() < 0.35).all()             # bilinear splat error < 0.35 px
    angle = torch.atan2(-cy, cx)                           # counter-clockwise as displayed
    assert angle.std().item() == pytest.approx(math.pi / math.sqrt(3), rel=0.12)


def test_gaussian_kernel():
    k = gaussian_kernel1d(2.0, torch.float64)
    assert k.numel() == 13 and k.sum().item() == pytest.approx(1.0, abs=1e-14)
    torch.testing.assert_close(k, k.flip(0))
    assert k[7].item() / k[6].item() == pytest.approx(math.exp(-1 / 8), rel=1e-12)


def test_warp_by_constant_displacement_is_a_shift():
    x = torch.arange(1.0, 26.0, dtype=torch.float64).view(1, 1, 5, 5)
    disp = torch.zeros(1, 2, 5, 5, dtype=torch.float64)
    disp[:, 0] = 2.0                                        # read 2 columns to the right
    disp[:, 1] = -1.0                                       # and 1 row up
    out = warp_displacement(x, disp)[0, 0]
    expect = torch.zeros(5, 5, dtype=torch.float64)
    expect[1:, :3] = x[0, 0, :4, 2:]
    torch.testing.assert_close(out, expect, atol=1e-12, rtol=0)


def test_elastic_field_variance_and_smoothness():
    alpha, sigma = 5.0, 2.0
    like = torch.empty(0, dtype=torch.float64)
    d = elastic_field(200, 40, 40, alpha, sigma, gen(9), like)
    inner = d[:, :, 8:-8, 8:-8]                             # farther than ⌈3σ⌉ = 6 from the border
    k = gaussian_kernel1d(sigma, torch.float64)
    var = alpha**2 / 3 * (k * k).sum().item() ** 2
    assert abs(inner.var().item() / var - 1) < 0.1          # correlated samples: 10 %
    # smoothed: neighbours correlate strongly (Gaussian ACF exp(-1/(4σ²)) = 0.94 for lag 1)
    a, b = inner[..., :-1].flatten(), inner[..., 1:].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1].item() > 0.85


def test_elastic_keeps_constant_images_and_warps_others():
    x = torch.full((4, 2, 16, 16), 3.0, dtype=torch.float64)
    out = ElasticDistortion(alpha=6.0, sigma=3.0, padding_mode="border")(x, gen(10))
    torch.testing.assert_close(out, x, atol=1e-12, rtol=0)
    y = torch.rand(4, 2, 16, 16, generator=gen(11), dtype=torch.float64)
    out = ElasticDistortion(alpha=6.0, sigma=3.0)(y, gen(10))
    assert (out - y).abs().mean() > 0.05
    # both channels warped by the same field: a two-channel copy stays a copy
    z = y[:, :1].expand(4, 2, 16, 16).contiguous()
    outz = ElasticDistortion(alpha=6.0, sigma=3.0)(z, gen(12))
    torch.testing.assert_close(outz[:, 0], outz[:, 1])
