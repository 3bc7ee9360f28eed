"""Gradient check: correct backward passes, a wrong one fails, real layers pass (float64)."""
import torch
from torch import nn

from trainwell.diagnostics.gradcheck import gradcheck, relative_error, verdict_for


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


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * 2 * x**2 * w, g * x**3  # wrong factor on dx: 2 instead of 3


class SlightlyWrong(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.cos(x) * (1 + 1e-4)  # 1e-4 relative error: suspicious, not good


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, generator=g) + 0.5, torch.randn(4, 3, generator=g)


def test_verdict_thresholds_hand_table():
    assert verdict_for(0.0) == "good"
    assert verdict_for(9.9e-8) == "good"
    assert verdict_for(1e-7) == "suspicious"
    assert verdict_for(1e-2) == "suspicious"
    assert verdict_for(1.01e-2) == "wrong"
    assert verdict_for(float("nan")) == "wrong"


def test_relative_error_formula_by_hand():
    a = torch.tensor([1.0, 0.0, 2.0, -1.0], dtype=torch.float64)
    n = torch.tensor([1.1, 0.0, 1.0, 1.0], dtype=torch.float64)
    expected = torch.tensor([0.1 / 1.1, 0.0, 0.5, 2.0], dtype=torch.float64)
    torch.testing.assert_close(relative_error(a, n), expected)


def test_correct_custom_function_passes():
    x, w = _inputs()
    result = gradcheck(Cube.apply, (x, w))
    assert result.verdict == "good" and result.ok and result.good
    assert [c.name for c in result.checks] == ["input 0", "input 1"]
    assert all(c.checked == 12 for c in result.checks)
    assert result.max_rel_error < 1e-7


def test_wrong_backward_fails_and_points_at_the_wrong_input():
    x, w = _inputs()
    result = gradcheck(WrongCube.apply, (x, w))
    assert not result.ok and result.verdict == "wrong"
    # dx is off by 1/3 relative: |2−3|/3 ≈ 0.333 at every coordinate; dw is right.
    assert abs(result["input 0"].max_rel_error - 1 / 3) < 1e-6
    assert result["input 1"].verdict == "good"


def test_small_error_is_suspicious_not_good():
    x, _ = _inputs()
    result = gradcheck(SlightlyWrong.apply, x)
    assert result.verdict == "suspicious" and result.ok and not result.good
    assert 0.9e-4 < result.max_rel_error < 1.1e-4


def test_linear_and_conv_modules_pass_and_are_not_modified():
    torch.manual_seed(0)
    for module, x in [
        (nn.Linear(5, 3), torch.randn(4, 5)),
        (nn.Conv2d(2, 3, 3, padding=1), torch.randn(2, 2, 5, 5)),
        (nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 2)), torch.randn(3, 1, 8)),
    ]:
        before = {k: v.clone() for k, v in module.state_dict().items()}
        result = gradcheck(module, x)
        assert result.verdict == "good", result.to_json()
        names = [c.name for c in result.checks]
        assert names[0] == "input 0" and len(names) == 1 + len(list(module.parameters()))
        for k, v in module.state_dict().items():
            assert v.dtype == torch.float32 and torch.equal(v, before[k])


def test_sparse_check_samples_the_requested_number_of_coordinates():
    layer = nn.Linear(20, 10)
    result = gradcheck(layer, torch.randn(3, 20), max_per_tensor=7)
    assert all(c.checked == 7 for c in result.checks)
    assert result.good
