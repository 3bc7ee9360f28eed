"""Gradient check: the lecture's thresholds, correct backward passes pass, 1 %-wrong ones fail,
float32 vs float64, kinks (detected, crossings left out), real layers, determinism (float64)."""
import pytest
import torch
from torch import nn

from trainwell.diagnostics.gradcheck import gradcheck, relative_error, verdict_for
from trainwell.errors import UserError


class Cube(torch.autograd.Function):
    """y = x³ · w, a custom Function with a hand-written (correct) backward."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x**3 * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * 3 * x**2 * w, g * x**3


class CubeOnePercentOff(Cube):
    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * 3 * x**2 * w * 1.01, g * x**3  # dx 1 % too large


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * 2 * x**2 * w, g * x**3  # wrong factor on dx: 2 instead of 3


class ScaledBackward(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by k (k = 1 is correct)."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


class Off(nn.Module):
    """`inner` followed by ScaledBackward(k): its gradients are k times the true ones."""

    def __init__(self, inner: nn.Module, k: float):
        super().__init__()
        self.inner, self.k = inner, k

    def forward(self, x):
        return ScaledBackward.apply(self.inner(x), self.k)


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, generator=g) + 0.5, torch.randn(4, 3, generator=g)


def _tanh_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 10)), torch.randn(32, 20)


def test_verdict_thresholds_hand_table():
    assert verdict_for(0.0) == "good"
    assert verdict_for(1e-7) == "good"  # "1e-7 and less: you should be happy"
    assert verdict_for(1.01e-7) == "high" and verdict_for(1.01e-7, kinks=True) == "ok"
    assert verdict_for(1e-4) == "high" and verdict_for(1e-4, kinks=True) == "ok"
    assert verdict_for(1.01e-4) == "suspicious" and verdict_for(1.01e-4, kinks=True) == "suspicious"
    assert verdict_for(1e-2) == "suspicious"
    assert verdict_for(0.01 / 1.01) == "suspicious"  # a 1 % error
    assert verdict_for(1.01e-2) == "wrong"
    assert verdict_for(float("nan")) == "wrong"


def test_relative_error_formula_by_hand():
    a = torch.tensor([1.0, 0.0, 2.0, -1.0], dtype=torch.float64)
    n = torch.tensor([1.1, 0.0, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(relative_error(a, n), torch.tensor([0.1 / 1.1, 0.0, 0.5, 2.0], dtype=torch.float64))
    torch.testing.assert_close(relative_error(a, n, scale=2.0), torch.tensor([0.05, 0.0, 0.5, 1.0], dtype=torch.float64))


def test_correct_custom_function_passes():
    x, w = _inputs()
    result = gradcheck(Cube.apply, (x, w))
    assert result.verdict == "good" and result.ok and result.good
    assert [c.name for c in result.checks] == ["input 0", "input 1"]
    assert all(c.checked == 12 for c in result.checks)
    assert result.max_rel_error < 1e-7
    assert result.kinks == [] and not result.has_kinks


def test_one_percent_wrong_backward_fails():
    x, w = _inputs()
    result = gradcheck(CubeOnePercentOff.apply, (x, w))
    assert not result.ok and result.verdict == "suspicious"
    assert result["input 0"].max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-6)
    assert result["input 1"].verdict == "good"


def test_wrong_backward_is_wrong_and_points_at_the_wrong_input():
    x, w = _inputs()
    result = gradcheck(WrongCube.apply, (x, w))
    assert not result.ok and result.verdict == "wrong"
    # dx is off by 1/3 relative: |2−3|/3 at every coordinate; dw is right.
    assert result["input 0"].max_rel_error == pytest.approx(1 / 3, rel=1e-6)
    assert result["input 1"].verdict == "good"


def test_1e4_error_is_too_high_without_kinks_and_ok_with_them():
    model, x = _tanh_mlp()
    smooth = gradcheck(Off(model, 1.0001), x)
    assert smooth.verdict == "high" and smooth.ok and not smooth.good
    assert smooth.max_rel_error == pytest.approx(1e-4 / 1.0001, rel=1e-3)
    assert gradcheck(Off(model, 1.0001), x, kinks=True).verdict == "ok"


def test_float32_cannot_tell_correct_from_wrong_float64_can():
    """The table of the module docstring: the same correct MLP is 'suspicious' in float32."""
    model, x = _tanh_mlp()
    errors = {}
    for dtype, eps in ((torch.float32, 1e-2), (torch.float64, 1e-5)):
        errors[dtype] = [gradcheck(Off(model, k), x, eps=eps, dtype=dtype).max_rel_error for k in (1.0, 1.001)]
    correct32, wrong32 = errors[torch.float32]
    correct64, wrong64 = errors[torch.float64]
    assert correct32 > 1e-4 and wrong32 < 1e-2  # both 'suspicious' in float32
    assert correct64 < 1e-8 and wrong64 == pytest.approx(1e-3 / 1.001, rel=1e-3)
    assert gradcheck(model, x, dtype=torch.float32, eps=1e-2).dtype == "float32"


def test_correct_modules_pass_and_are_not_modified():
    torch.manual_seed(0)
    for module, x in [
        (nn.Linear(5, 3), torch.randn(4, 5)),
        (nn.Conv2d(2, 3, 3, padding=1), torch.randn(2, 2, 5, 5)),
        (nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 2)), torch.randn(3, 1, 8)),
        (nn.Sequential(*[m for _ in range(10) for m in (nn.Linear(32, 32), nn.Tanh())]), torch.randn(8, 32)),
    ]:
        before = {k: v.clone() for k, v in module.state_dict().items()}
        result = gradcheck(module, x)
        assert result.verdict == "good", result.to_json()
        names = [c.name for c in result.checks]
        assert names[0] == "input 0" and len(names) == 1 + len(list(module.parameters()))
        for k, v in module.state_dict().items():
            assert v.dtype == torch.float32 and torch.equal(v, before[k])


def test_bias_before_batchnorm_has_zero_gradient_not_a_wrong_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.Tanh(), nn.Linear(64, 10))
    result = gradcheck(model, torch.randn(32, 20))
    assert result["param 0.bias"].verdict == "zero"
    assert result["param 0.bias"].scale < 10 * result.noise
    assert result.verdict == "good" and result.ok and result.good


def test_kinked_layers_are_named_and_a_kink_crossing_is_left_out():
    lin = nn.Linear(2, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.3]]))
        lin.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x = torch.tensor([[0.2, 0.3 + 3e-6], [1.0, 0.5], [-0.4, 0.8]])  # unit 0 of example 0 sits 3e-6 below 0
    model = nn.Sequential(lin, nn.ReLU())
    tracked = gradcheck(model, x, max_per_tensor=None)
    assert tracked.kinks == ["1 (ReLU)"] and tracked.has_kinks
    assert tracked["param 0.bias"].kink_crossings == 1  # bias[0] ± 1e-5 moves z from −3e-6 across 0
    assert tracked["param 0.bias"].checked == 2
    assert tracked.ok and tracked.verdict in ("good", "ok")
    # The same function written with torch.relu: the hooks cannot see the kink, and the crossing
    # coordinate's finite difference averages the slopes 0 and 1.
    blind = gradcheck(lambda x, w, b: torch.relu(x @ w.T + b), (x, lin.weight, lin.bias), kinks=True)
    assert blind.kinks == [] and blind.has_kinks and blind.kink_crossings == 0
    assert blind["input 2"].verdict == "wrong"


def test_max_pool_and_maxout_kinks_are_detected():
    from trainwell.nn.maxout import MaxoutLinear

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.MaxPool1d(2), nn.Flatten(), MaxoutLinear(12, 3, k=2), nn.Hardtanh())
    result = gradcheck(model, torch.randn(4, 1, 8))
    assert result.kinks == ["1 (MaxPool1d)", "3 (MaxoutLinear)", "4 (Hardtanh)"]
    assert result.ok


def test_sparse_check_uses_the_generator():
    layer = nn.Linear(20, 10)
    x = torch.randn(3, 20)
    runs = [gradcheck(layer, x, max_per_tensor=7, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert all(c.checked == 7 for c in runs[0].checks)
    assert runs[0].to_json() == runs[1].to_json()
    other = gradcheck(layer, x, max_per_tensor=7, generator=torch.Generator().manual_seed(6))
    assert [c.worst_index for c in other.checks] != [c.worst_index for c in runs[0].checks]
    assert runs[0].good


def test_reduce_checks_a_loss():
    model, x = _tanh_mlp()
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(0))
    result = gradcheck(model, x, reduce=lambda out: nn.functional.cross_entropy(out, y, label_smoothing=0.1))
    assert result.good, result.to_json()


def test_random_function_is_refused_with_a_hint():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    with pytest.raises(UserError, match="not deterministic.*eval"):
        gradcheck(model, torch.randn(5, 4))
    assert gradcheck(model.eval(), torch.randn(5, 4)).good


def test_bad_arguments():
    with pytest.raises(UserError, match="eps"):
        gradcheck(nn.Linear(2, 2), torch.randn(1, 2), eps=0.0)
    with pytest.raises(UserError, match="nothing to check"):
        gradcheck(lambda i: i.float(), torch.arange(3))


def test_a_kinked_layer_whose_pattern_fails_is_reported_untracked():
    class Hardtanh(nn.Module):  # same name as torch's, but without min_val/max_val
        def forward(self, x):
            return x.clamp(-1, 1)

    torch.manual_seed(0)
    result = gradcheck(nn.Sequential(nn.Linear(3, 4), Hardtanh()), torch.randn(5, 3))
    assert result.kinks == ["1 (Hardtanh)"] and result.kinks_untracked == ["1 (Hardtanh)"]
    assert result.ok
