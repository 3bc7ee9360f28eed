"""build_optimizer: each optimizer reproduces its update rule, written out by hand, in float64."""
import math

import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.optim import OPTIMIZERS, build_optimizer

F64 = torch.float64
A = {"weight": torch.tensor([[1.0, 2.0], [3.0, 0.5]], dtype=F64), "bias": torch.tensor([0.8, 4.0], dtype=F64)}
C = {"weight": torch.tensor([[-1.0, 0.5], [0.2, 1.5]], dtype=F64), "bias": torch.tensor([0.3, -2.0], dtype=F64)}


class Quadratic(nn.Module):
    """loss = Σ_p ½ Σ A_p w² + C_p w, so the gradient is A_p w + C_p (a diagonal quadratic)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=F64))
        self.bias = nn.Parameter(torch.tensor([0.3, -0.7], dtype=F64))

    def loss(self):
        return sum((0.5 * A[n] * p**2 + C[n] * p).sum() for n, p in self.named_parameters())


def gradient(name, w):
    return A[name] * w + C[name]


# reference update rules: (w, g, state, t, lr, wd) -> new w; t counts from 1
def ref_sgd(momentum=0.0, nesterov=False):
    def update(w, g, state, t, lr, wd):
        g = g + wd * w
        if momentum == 0.0:
            return w - lr * g
        state["v"] = momentum * state.get("v", torch.zeros_like(w)) + g  # v = ρv + g
        step = g + momentum * state["v"] if nesterov else state["v"]
        return w - lr * step

    return update


def ref_rmsprop(alpha=0.99, eps=1e-8):
    def update(w, g, state, t, lr, wd):
        g = g + wd * w
        state["s"] = alpha * state.get("s", torch.zeros_like(w)) + (1 - alpha) * g**2
        return w - lr * g / (state["s"].sqrt() + eps)

    return update


def ref_adam(b1=0.9, b2=0.999, eps=1e-8, decoupled=False):
    def update(w, g, state, t, lr, wd):
        if decoupled:
            w = w - lr * wd * w  # AdamW: decay the weights directly, not through the moments
        else:
            g = g + wd * w  # Adam: L2 added to the gradient
        state["m"] = b1 * state.get("m", torch.zeros_like(w)) + (1 - b1) * g
        state["s"] = b2 * state.get("s", torch.zeros_like(w)) + (1 - b2) * g**2
        m_hat = state["m"] / (1 - b1**t)  # bias correction
        s_hat = state["s"] / (1 - b2**t)
        return w - lr * m_hat / (s_hat.sqrt() + eps)

    return update


CASES = [
    ("sgd", ref_sgd()),
    ({"name": "sgd", "momentum": 0.5}, ref_sgd(0.5)),
    ("momentum", ref_sgd(0.9)),
    ("nesterov", ref_sgd(0.9, nesterov=True)),
    ({"name": "nesterov", "momentum": 0.7}, ref_sgd(0.7, nesterov=True)),
    ("rmsprop", ref_rmsprop()),
    ({"name": "rmsprop", "alpha": 0.9, "eps": 1e-6}, ref_rmsprop(0.9, 1e-6)),
    ("adam", ref_adam()),
    ({"name": "adam", "betas": [0.8, 0.99], "eps": 1e-6}, ref_adam(0.8, 0.99, 1e-6)),
    ("adamw", ref_adam(decoupled=True)),
    ({"name": "adamw", "betas": (0.5, 0.9)}, ref_adam(0.5, 0.9, decoupled=True)),
]


@pytest.mark.parametrize("spec,reference", CASES, ids=[str(s) for s, _ in CASES])
def test_update_rule_matches_hand_written_reference(spec, reference):
    lr, wd = 0.05, 0.1
    model = Quadratic()
    # bias gets twice the LR (lr_scales) and, being 1-D, no weight decay
    opt = build_optimizer(model, spec, lr=lr, weight_decay=wd, lr_scales={"bias": 2.0})
    ref = {n: p.detach().clone() for n, p in model.named_parameters()}
    settings = {"weight": (lr, wd), "bias": (2 * lr, 0.0)}
    states = {n: {} for n in ref}
    for t in range(1, 7):
        opt.zero_grad()
        model.loss().backward()
        opt.step()
        for n in ref:
            ref[n] = reference(ref[n], gradient(n, ref[n]), states[n], t, *settings[n])
            torch.testing.assert_close(getattr(model, n).detach(), ref[n], rtol=1e-12, atol=1e-14)
    # the parameters moved well away from the start: the comparison is not vacuous
    assert (model.weight.detach() - Quadratic().weight.detach()).abs().max() > 0.05


def test_adam_bias_correction_makes_the_first_step_lr_sized():
    """With m, s started at 0 and corrected by 1/(1-β^t), step 1 is lr·g/(|g| + ε) ≈ lr·sign(g),
    whatever the scale of the gradient; without correction it would be lr·0.1/√0.001 ≈ 3.16 lr."""
    for scale in (1e-3, 1.0, 1e3):
        w = nn.Parameter(torch.tensor([1.0, -1.0, 2.0], dtype=F64))
        model = nn.ParameterDict({"w": w})
        opt = build_optimizer(model, "adam", lr=0.01)
        g = scale * torch.tensor([1.0, -3.0, 0.5], dtype=F64)
        (w * g).sum().backward()
        before = w.detach().clone()
        opt.step()
        step = w.detach() - before
        torch.testing.assert_close(step, -0.01 * g / (g.abs() + 1e-8), rtol=1e-12, atol=0)
        # |step| = lr within eps/|g| <= 2e-5 (relative), for gradients spanning 6 orders of magnitude
        torch.testing.assert_close(step.abs(), torch.full((3,), 0.01, dtype=F64), rtol=3e-5, atol=0)


def test_groups_get_initial_lr_and_scaled_lr():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    opt = build_optimizer(model, "momentum", lr=0.2, weight_decay=1e-4, lr_scales={"1": 0.1})
    by_name = {g["name"]: g for g in opt.param_groups}
    assert set(by_name) == {"decay", "no_decay", "1/decay", "1/no_decay"}
    assert by_name["decay"]["lr"] == by_name["decay"]["initial_lr"] == 0.2
    assert by_name["1/decay"]["lr"] == by_name["1/decay"]["initial_lr"] == pytest.approx(0.02)
    assert by_name["decay"]["weight_decay"] == 1e-4 and by_name["1/no_decay"]["weight_decay"] == 0.0
    assert all(g["momentum"] == 0.9 and not g["nesterov"] for g in opt.param_groups)


def test_registry_names_and_torch_classes():
    assert OPTIMIZERS.names() == ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
    model = nn.Linear(2, 2)
    kinds = {name: type(build_optimizer(model, name, lr=0.1)) for name in OPTIMIZERS.names()}
    assert kinds["nesterov"] is torch.optim.SGD and kinds["rmsprop"] is torch.optim.RMSprop
    assert kinds["adam"] is torch.optim.Adam and kinds["adamw"] is torch.optim.AdamW
    opt = build_optimizer(model, "nesterov", lr=0.1)
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.9
    opt = build_optimizer(model, "rmsprop", lr=0.1)
    assert opt.param_groups[0]["alpha"] == 0.99 and opt.param_groups[0]["eps"] == 1e-8


@pytest.mark.parametrize(
    "spec,lr,words",
    [
        ("sgd", 0.0, ["lr", "0.0"]),
        ("sgd", -1.0, ["lr"]),
        ("adam", math.inf, ["lr"]),
        ({"name": "sgd", "momentum": 1.0}, 0.1, ["momentum", "1.0"]),
        ({"name": "momentum", "momentum": -0.1}, 0.1, ["momentum"]),
        ({"name": "sgd", "nesterov": True}, 0.1, ["nesterov", "momentum"]),
        ({"name": "sgd", "mometum": 0.9}, 0.1, ["'mometum'", 'did you mean "momentum"']),
        ({"name": "adam", "betas": [0.9]}, 0.1, ["betas"]),
        ({"name": "adam", "betas": [0.9, 1.0]}, 0.1, ["beta2"]),
        ({"name": "adamw", "eps": 0.0}, 0.1, ["eps"]),
        ({"name": "rmsprop", "alpha": 1.5}, 0.1, ["alpha"]),
        ({"name": "adam", "lr": 0.1}, 0.1, ["'lr'", "own setting"]),
        ({"name": "adamw", "weight_decay": 0.1}, 0.1, ["'weight_decay'"]),
        ("adagrad", 0.1, ["unknown optimizer", "adam"]),
    ],
)
def test_bad_options_raise_user_error_naming_the_key(spec, lr, words):
    with pytest.raises(UserError) as err:
        build_optimizer(nn.Linear(2, 2), spec, lr=lr)
    for word in words:
        assert word in str(err.value)
