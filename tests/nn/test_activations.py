"""Activations vs their float64 formulas: values and derivatives (torch.autograd.grad)."""
import math

import pytest
import torch

from trainwell.errors import UserError
from trainwell.nn import activations as A
from trainwell.nn.registry import ACTIVATIONS

X = torch.tensor([-30.0, -5.0, -1.0, -0.3, 0.0, 0.3, 1.0, 5.0, 30.0], dtype=torch.float64)


def sig(x):
    return 1.0 / (1.0 + torch.exp(-x))


def phi(x):  # standard normal pdf
    return torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


def Phi(x):
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


al, lam = 1.6732632423543772, 1.0507009873554805
# name, options, f(x), f'(x) written from the definitions (derivative at 0 taken from the x <= 0 side)
CASES = [
    ("sigmoid", {}, sig, lambda x: sig(x) * (1 - sig(x))),
    ("tanh", {}, torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
    ("relu", {}, lambda x: torch.where(x > 0, x, 0 * x), lambda x: (x > 0).double()),
    ("leaky_relu", {"slope": 0.1}, lambda x: torch.where(x > 0, x, 0.1 * x), lambda x: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, 0.1))),
    ("elu", {"alpha": 0.7}, lambda x: torch.where(x > 0, x, 0.7 * (torch.exp(x) - 1)),
     lambda x: torch.where(x > 0, torch.ones_like(x), 0.7 * torch.exp(x))),
    ("selu", {}, lambda x: torch.where(x > 0, lam * x, lam * al * (torch.exp(x) - 1)),
     lambda x: torch.where(x > 0, lam * torch.ones_like(x), lam * al * torch.exp(x))),
    ("gelu", {}, lambda x: x * Phi(x), lambda x: Phi(x) + x * phi(x)),
    ("swish", {"beta": 1.0}, lambda x: x * sig(x), lambda x: sig(x) + x * sig(x) * (1 - sig(x))),
    ("swish", {"beta": 2.5}, lambda x: x * sig(2.5 * x),
     lambda x: sig(2.5 * x) + 2.5 * x * sig(2.5 * x) * (1 - sig(2.5 * x))),
    ("prelu", {}, lambda x: torch.where(x > 0, x, 0.25 * x), lambda x: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, 0.25))),
]


@pytest.mark.parametrize("name,opts,f,df", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_value_and_derivative_match_formula(name, opts, f, df):
    module = ACTIVATIONS.build({"name": name, **opts}).double()
    x = X.clone().requires_grad_(True)
    y = module(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(y.detach(), f(X), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dy, df(X), rtol=1e-10, atol=1e-12)
    assert torch.isfinite(dy).all()


def test_gelu_tanh_approximation_formula_and_closeness():
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    approx = A.GELU(approximate="tanh")(x)
    torch.testing.assert_close(approx, A.gelu_tanh_formula(x), rtol=1e-12, atol=1e-12)
    # known: the tanh form is within 1e-3 of the exact GELU everywhere (max error ≈ 4.7e-4)
    assert (approx - A.GELU()(x)).abs().max() < 1e-3


def test_selu_published_constants():
    assert A.SELU_ALPHA == pytest.approx(1.6732632423543772, rel=1e-15)
    assert A.SELU_SCALE == pytest.approx(1.0507009873554805, rel=1e-15)
    # torch's own selu uses the same constants
    x = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(A.SELU()(x), torch.nn.functional.selu(x))


def test_selu_self_normalizes_fixed_point():
    # mean 0 / var 1 input -> SELU output keeps mean ≈ 0, var ≈ 1 (the fixed point); 1e6 draws, tol 0.01
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1_000_000, generator=g, dtype=torch.float64)
    y = A.SELU()(z)
    assert abs(y.mean().item()) < 0.01 and abs(y.var().item() - 1) < 0.01


@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 7), (5, 4, 3, 3)])
def test_prelu_per_channel_and_gradient(shape):
    m = ACTIVATIONS.build("prelu", num_features=4).double()
    assert m.weight.shape == (4,)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    y = m(x)
    a = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64).view(1, 4, *([1] * (len(shape) - 2)))
    torch.testing.assert_close(y, torch.where(x > 0, x, a * x))
    y.sum().backward()
    # dL/da_c = sum of x over negative entries of channel c
    dims = [d for d in range(len(shape)) if d != 1]
    expected = torch.where(x > 0, 0 * x, x).sum(dim=dims)
    torch.testing.assert_close(m.weight.grad, expected)


def test_prelu_shared_matches_torch():
    m = A.PReLU(num_features=None)
    ref = torch.nn.PReLU()
    x = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(m(x), ref(x))


def test_swish_learnable_beta_gradient():
    m = ACTIVATIONS.build({"name": "swish", "learnable": True, "beta": 1.5}, num_features=3).double()
    x = torch.randn(8, 3, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    m(x).sum().backward()
    s = sig(1.5 * x)
    expected = (x**2 * s * (1 - s)).sum(dim=(0, 2))
    torch.testing.assert_close(m.beta.grad, expected)
    assert (m.beta.grad.abs() > 0).all()


def test_swish_beta_one_is_silu_and_large_beta_tends_to_relu():
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    torch.testing.assert_close(A.Swish(1.0)(x), torch.nn.functional.silu(x))
    assert (A.Swish(200.0)(x) - torch.relu(x)).abs().max() < 1e-3


@pytest.mark.parametrize("name", ACTIVATIONS.names())
@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 5), (4, 6, 3, 3)])
def test_every_activation_accepts_num_features_and_all_layouts(name, shape):
    m = ACTIVATIONS.build(name, num_features=6)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(4))
    y = m(x)
    assert y.shape == x.shape
    # elementwise for every one: permuting the batch permutes the output
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(m(x[perm]), y[perm])


def test_bad_input_messages():
    with pytest.raises(UserError, match="channels on axis 1"):
        A.PReLU(num_features=4)(torch.zeros(2, 5))
    with pytest.raises(UserError, match="approximate"):
        A.GELU(approximate="fast")
    with pytest.raises(UserError, match="slope"):
        ACTIVATIONS.build({"name": "leaky_relu", "slop": 0.1})
