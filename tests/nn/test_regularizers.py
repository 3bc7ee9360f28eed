"""Regularizers: statistical tests with fixed seeds and stated tolerances, references, invariants."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.regularizers import (
    REGULARIZERS,
    DropBlock,
    DropConnectConv,
    DropConnectLinear,
    DropPath,
    FractionalMaxPool2d,
    InvertedDropout,
    ResidualBlock,
    SpatialDropout,
    VanillaDropout,
    block_gamma,
    drop_block,
    drop_path_rates,
    expand_seeds,
    label_smoothing_cross_entropy,
    paper_gamma,
)


def G(seed=0):
    return torch.Generator().manual_seed(seed)


# ---- dropout ---------------------------------------------------------------------------------

def test_vanilla_and_inverted_dropout_same_expected_activation():
    # x of 200k units, p = 0.3: the train-mode mean of each variant, relative to its own eval output,
    # is 1 within 0.5% (std of the mean ≈ √(p/(1-p)/2e5) ≈ 0.15%, so 0.5% is > 3σ)
    x = torch.rand(400, 500, generator=G(0)) + 0.5
    for cls in (VanillaDropout, InvertedDropout):
        m = cls(0.3, generator=G(1))
        train_mean = m.train()(x).mean()
        eval_mean = m.eval()(x).mean()
        assert abs(train_mean / eval_mean - 1) < 0.005, cls.__name__
    # realised drop fraction ≈ p within 0.005
    y = InvertedDropout(0.3, generator=G(2)).train()(x)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.005
    # kept units are scaled by 1/(1-p) (inverted) or left as is (vanilla)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    yv = VanillaDropout(0.3, generator=G(2)).train()(x)
    torch.testing.assert_close(yv[kept], x[kept])  # same generator seed -> same mask


def test_inverted_dropout_leaves_eval_untouched_and_vanilla_scales():
    x = torch.randn(10, 20, generator=G(3))
    assert InvertedDropout(0.5).eval()(x) is x
    torch.testing.assert_close(VanillaDropout(0.25).eval()(x), 0.75 * x)


def test_dropout_reproducible_and_rate_checked():
    x = torch.ones(1000)
    a = InvertedDropout(0.5, generator=G(4))(x)
    b = InvertedDropout(0.5, generator=G(4))(x)
    assert torch.equal(a, b)
    with pytest.raises(UserError, match="drop probability"):
        InvertedDropout(1.0)


def test_spatial_dropout_drops_whole_channels():
    x = torch.rand(64, 32, 5, 5, generator=G(5)) + 1.0
    y = SpatialDropout(0.25, generator=G(6))(x)
    zero = (y == 0)
    per_channel = zero.flatten(2).float().mean(-1)
    assert set(per_channel.unique().tolist()) <= {0.0, 1.0}  # a channel is all dropped or all kept
    assert abs(per_channel.mean().item() - 0.25) < 0.03  # 2048 channels: std ≈ 0.01, tol 3σ
    with pytest.raises(UserError, match="N×C×L"):
        SpatialDropout(0.2)(torch.ones(3, 4))


# ---- DropConnect -----------------------------------------------------------------------------

def test_dropconnect_linear_unbiased_and_eval_plain():
    m = DropConnectLinear(50, 10, p=0.4, generator=G(7)).double()
    x = torch.randn(8, 50, generator=G(8), dtype=torch.float64)
    plain = F.linear(x, m.weight, m.bias)
    torch.testing.assert_close(m.eval()(x), plain)
    m.train()
    # mean over 4000 masks -> plain output; the mask is inverted-scaled so E[y] = Wx + b.
    # tolerance 0.05·max|Wx| (the Monte Carlo std here is ≈ 0.01·max|Wx|)
    mean = torch.stack([m(x) for _ in range(4000)]).mean(0)
    assert (mean - plain).abs().max() < 0.05 * (plain - m.bias).abs().max()
    # zeroed weights: realised fraction of a 1000×50 mask is p within 0.005
    w = torch.ones(1000, 50)
    from trainwell.nn.dropconnect import drop_connect
    masked = drop_connect(w, 0.4, True, G(9))
    assert abs((masked == 0).float().mean().item() - 0.4) < 0.005  # 50k weights, std 0.0022
    torch.testing.assert_close(masked[masked != 0], torch.full_like(masked[masked != 0], 1 / 0.6))


@pytest.mark.parametrize("dims", [1, 2])
def test_dropconnect_conv_equals_conv_with_masked_kernel(dims):
    m = DropConnectConv(dims, 3, 4, 3, p=0.5, padding=1, generator=G(10)).double()
    x = torch.randn(2, 3, *([6] * dims), generator=G(11), dtype=torch.float64)
    torch.testing.assert_close(m.eval()(x), m.conv(x))
    y = m.train()(x)
    # recover the mask the generator produced and compare with a plain conv of the masked kernel
    from trainwell.nn.dropconnect import drop_connect
    w = drop_connect(m.conv.weight, 0.5, True, G(10))
    conv = F.conv1d if dims == 1 else F.conv2d
    torch.testing.assert_close(y, conv(x, w, m.conv.bias, padding=1))
    assert not torch.allclose(y, m.conv(x))


# ---- DropBlock -------------------------------------------------------------------------------

@pytest.mark.parametrize("dims,block,shape", [
    (2, 1, (32, 16, 20, 20)), (2, 3, (32, 16, 20, 20)), (2, 4, (32, 16, 20, 20)), (2, 7, (32, 16, 20, 20)),
    (1, 3, (128, 16, 50)), (1, 6, (128, 16, 50)),
])
def test_dropblock_realised_fraction_matches_target(dims, block, shape):
    # target 0.1, ≥ 200k units; the count of seeds is ≥ 400 so the relative std of the fraction is ≤ 5%:
    # stated tolerance ±0.012 absolute (≈ 2.5σ for the largest blocks)
    x = torch.ones(shape)
    y = DropBlock(dims, block, 0.1, generator=G(12))(x)
    assert abs((y == 0).float().mean().item() - 0.1) < 0.012
    # renormalized so the mean activation is preserved exactly
    assert abs(y.mean().item() - 1.0) < 1e-5


def test_dropblock_drops_contiguous_blocks_table():
    # a single seed in the middle of a 1×1×6×6 map with b = 2 (even) and b = 3 (odd)
    for b in (2, 3):
        # one seed, expanded by the rule drop_block uses (seed at the block's first corner)
        seeds = torch.zeros(1, 1, 6 - b + 1, 6 - b + 1)
        seeds[0, 0, 1, 2] = 1.0
        dropped = expand_seeds(seeds, (b, b))
        expected = torch.zeros(6, 6)
        expected[1:1 + b, 2:2 + b] = 1
        assert torch.equal(dropped[0, 0], expected)
    # and the module's zeros come in whole b×b blocks: every zero lies in a fully-zero b×b window
    y = DropBlock(2, 3, 0.05, generator=G(13))(torch.ones(4, 2, 16, 16))
    z = (y == 0).float()
    full = F.max_pool2d(F.pad(F.avg_pool2d(z, 3, stride=1).eq(1).float(), [2] * 4), 3, stride=1)
    assert torch.equal(z * full, z) and z.sum() > 0


def test_dropblock_gamma_exact_vs_paper():
    # the paper's γ under-drops because blocks overlap; ours meets the rate in expectation
    gp, ge = paper_gamma(0.1, 7, (20, 20)), block_gamma(0.1, (7, 7), (20, 20))
    assert ge > gp
    assert block_gamma(0.1, (1, 1), (20, 20)) == pytest.approx(0.1)  # b = 1 is dropout
    x = torch.ones(64, 16, 20, 20)
    g = G(14)
    paper_frac = []
    for _ in range(3):
        seeds = (torch.rand(64, 16, 14, 14, generator=g) < gp).float()
        paper_frac.append(expand_seeds(seeds, (7, 7)).mean().item())
    assert sum(paper_frac) / 3 < 0.095  # measured ≈ 0.092 with the paper's γ
    assert abs((drop_block(x, 0.1, 7, True, G(15)) == 0).float().mean().item() - 0.1) < 0.01


def test_dropblock_schedule_eval_and_errors():
    m = DropBlock(2, 3, 0.2, scheduled=True, generator=G(16))
    x = torch.ones(16, 8, 12, 12)
    assert m(x) is x  # progress 0: nothing dropped
    m.set_progress(0.5)
    assert m.current_rate == pytest.approx(0.1)
    assert abs((m(x) == 0).float().mean().item() - 0.1) < 0.02
    assert m.eval()(x) is x
    with pytest.raises(UserError, match="fraction"):
        m.set_progress(1.5)
    with pytest.raises(UserError, match="4-D"):
        DropBlock(2, 3, 0.1).train()(torch.ones(2, 3, 4))
    # block larger than the map is clipped to it
    y = DropBlock(1, 9, 0.3, generator=G(17))(torch.ones(2000, 1, 5))
    assert set(y.view(2000, 5).eq(0).sum(1).unique().tolist()) <= {0, 5}
    # 1-D table: seeds at 0 and 4 of a length-7 axis with b = 2 -> units 0,1 and 4,5 dropped
    seeds = torch.tensor([[[1.0, 0, 0, 0, 1, 0]]])
    assert expand_seeds(seeds, (2,)).flatten().tolist() == [1, 1, 0, 0, 1, 1, 0]


# ---- DropPath / stochastic depth ---------------------------------------------------------------

def test_drop_path_rates_linear_rule():
    assert drop_path_rates(4, 0.2) == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert drop_path_rates(1, 0.5) == [0.5]


def test_drop_path_per_sample():
    x = torch.ones(20000, 3, 4)
    y = DropPath(0.25, generator=G(18))(x)
    per_sample = y.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1)).all()
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.01  # std 0.003
    assert DropPath(0.25).eval()(x) is x


def test_residual_block_skips_branch_when_all_dropped():
    calls = []

    class Branch(nn.Module):
        def forward(self, x):
            calls.append(1)
            return 2 * x

    block = ResidualBlock(Branch(), drop_rate=0.5, generator=G(19))
    x = torch.ones(1, 3)
    outs = [block(x) for _ in range(200)]
    dropped = sum(torch.equal(o, x) for o in outs)
    assert len(calls) == 200 - dropped  # branch computed only when the sample survives
    assert all(torch.equal(o, x) or torch.equal(o, x + 2 * x / 0.5) for o in outs)
    assert 70 < dropped < 130  # Binomial(200, 0.5): ±4σ
    block.eval()
    torch.testing.assert_close(block(x), 3 * x)
    assert block.branch.is_residual_branch


# ---- fractional max pooling ----------------------------------------------------------------------

def test_fractional_max_matches_torch_with_same_samples_and_is_seeded():
    x = torch.randn(2, 3, 25, 25, generator=G(20))
    m = FractionalMaxPool2d(2, output_ratio=0.7, generator=G(21))
    y = m(x)
    samples = torch.rand(2, 3, 2, generator=G(21))
    ref = F.fractional_max_pool2d(x, 2, output_ratio=(0.7, 0.7), _random_samples=samples)
    torch.testing.assert_close(y, ref)
    assert y.shape == (2, 3, 17, 17)
    assert torch.equal(FractionalMaxPool2d(2, output_ratio=0.7, generator=G(21))(x), y)
    # each output is one of the inputs of its channel and ≥ the channel's median
    assert torch.isin(y[0, 0], x[0, 0]).all()
    e = FractionalMaxPool2d(2, output_size=10, fixed_at_eval=True).eval()
    assert torch.equal(e(x), e(x)) and e(x).shape == (2, 3, 10, 10)


# ---- label smoothing ---------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_torch(eps):
    logits = torch.randn(16, 7, generator=G(22), dtype=torch.float64)
    target = torch.randint(0, 7, (16,), generator=G(23))
    ref = F.cross_entropy(logits, target, label_smoothing=eps)
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, target, eps), ref)
    # soft one-hot targets give the same value
    soft = F.one_hot(target, 7).double()
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, soft, eps), ref)
    # N×C×L segmentation-style targets and reduction='none'
    lg = torch.randn(4, 5, 6, generator=G(24), dtype=torch.float64)
    t = torch.randint(0, 5, (4, 6), generator=G(25))
    torch.testing.assert_close(
        label_smoothing_cross_entropy(lg, t, eps, reduction="none"),
        F.cross_entropy(lg, t, label_smoothing=eps, reduction="none"),
    )


def test_label_smoothing_soft_targets_formula_and_gradient():
    logits = torch.randn(5, 4, generator=G(26), dtype=torch.float64, requires_grad=True)
    q = torch.softmax(torch.randn(5, 4, generator=G(27), dtype=torch.float64), 1)
    loss = label_smoothing_cross_entropy(logits, q, 0.2)
    q2 = 0.8 * q + 0.2 / 4
    torch.testing.assert_close(loss, F.cross_entropy(logits, q2))
    (grad,) = torch.autograd.grad(loss, logits)
    torch.testing.assert_close(grad, (torch.softmax(logits, 1) - q2).detach() / 5)


def test_label_smoothing_errors():
    with pytest.raises(UserError, match=r"class indices in \[0, 3\]"):
        label_smoothing_cross_entropy(torch.zeros(2, 4), torch.tensor([0, 4]))
    with pytest.raises(UserError, match="soft targets"):
        label_smoothing_cross_entropy(torch.zeros(2, 4), torch.zeros(2, 3))
    with pytest.raises(UserError, match="smoothing"):
        label_smoothing_cross_entropy(torch.zeros(2, 4), torch.tensor([0, 1]), 1.5)


def test_regularizer_registry_lists_every_part_with_help():
    names = REGULARIZERS.names()
    for n in ["vanilla_dropout", "inverted_dropout", "dropconnect", "dropblock", "drop_path",
              "spatial_dropout", "fractional_max", "label_smoothing"]:
        assert n in names
    assert all(e.help for e in REGULARIZERS.entries())
    db = REGULARIZERS.build({"name": "dropblock", "block_size": 3, "rate": 0.2}, dims=1)
    assert isinstance(db, DropBlock) and db.block_size == 3 and db.dims == 1
