"""L1 / L2 / elastic-net penalties: hand-computed values, gradients, selection, SGD equivalence."""
import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.optim import Penalty, build_optimizer, elastic_net, l1_penalty, l2_penalty

F64 = torch.float64


def tensors():
    return [
        torch.tensor([[1.0, -2.0], [0.0, 3.0]], dtype=F64, requires_grad=True),
        torch.tensor([-0.5], dtype=F64, requires_grad=True),
    ]


@pytest.mark.parametrize("foreach", [False, True])
def test_values_by_hand(foreach):
    ps = tensors()
    assert l1_penalty(ps, foreach=foreach).item() == pytest.approx(6.5)  # 1 + 2 + 0 + 3 + 0.5
    assert l2_penalty(ps, foreach=foreach).item() == pytest.approx(7.125)  # ½ (1 + 4 + 0 + 9 + 0.25)
    # 0.1 * 6.5 + 0.2 * 7.125 = 0.65 + 1.425
    assert elastic_net(ps, 0.1, 0.2, foreach=foreach).item() == pytest.approx(2.075)
    assert elastic_net(ps, 0.0, 0.2, foreach=foreach).item() == pytest.approx(1.425)


@pytest.mark.parametrize("foreach", [False, True])
def test_gradients_are_sign_and_w(foreach):
    ps = tensors()
    l1_penalty(ps, foreach=foreach).backward()
    assert ps[0].grad.tolist() == [[1.0, -1.0], [0.0, 1.0]]  # sign(w), 0 at w = 0
    assert ps[1].grad.tolist() == [-1.0]
    ps = tensors()
    l2_penalty(ps, foreach=foreach).backward()
    for p in ps:
        torch.testing.assert_close(p.grad, p.detach(), rtol=0, atol=1e-15)  # ½ Σ w² -> w
    ps = tensors()
    elastic_net(ps, 0.3, 2.0, foreach=foreach).backward()
    for p in ps:
        torch.testing.assert_close(p.grad, 0.3 * p.detach().sign() + 2.0 * p.detach(), rtol=0, atol=1e-15)


def test_against_reference_on_random_tensors():
    gen = torch.Generator().manual_seed(0)
    ps = [torch.randn(5, 7, generator=gen, dtype=F64), torch.randn(3, generator=gen, dtype=F64)]
    flat = torch.cat([p.flatten() for p in ps])
    torch.testing.assert_close(l1_penalty(ps), torch.linalg.vector_norm(flat, 1), rtol=1e-14, atol=0)
    torch.testing.assert_close(l2_penalty(ps), 0.5 * torch.linalg.vector_norm(flat, 2) ** 2, rtol=1e-14, atol=0)
    torch.testing.assert_close(l2_penalty(ps, foreach=True), l2_penalty(ps, foreach=False), rtol=1e-14, atol=0)


def test_empty_and_single_tensor():
    assert l1_penalty([]).item() == 0.0 and l2_penalty([]).item() == 0.0
    assert l2_penalty(torch.tensor([3.0, 4.0])).item() == pytest.approx(12.5)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(2, 2, dtype=F64)
        self.norm = nn.LayerNorm(2, dtype=F64)
        self.head = nn.Linear(2, 1, dtype=F64)
        with torch.no_grad():
            self.body.weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.0]]))
            self.body.bias.copy_(torch.tensor([5.0, -5.0]))
            self.head.weight.copy_(torch.tensor([[-3.0, 1.0]]))
            self.head.bias.fill_(7.0)
            self.norm.weight.fill_(2.0)


def test_penalty_selects_weights_all_or_prefixes():
    model = Net()
    # weights: body.weight (|.| 4, ½w² 3) + head.weight (|.| 4, ½w² 5)
    assert Penalty(l1=1.0)(model).item() == pytest.approx(8.0)
    assert Penalty(l2=1.0)(model).item() == pytest.approx(8.0)
    assert Penalty(l1=0.5, l2=2.0)(model).item() == pytest.approx(0.5 * 8 + 2.0 * 8)
    # all: + body.bias 10 + head.bias 7 + norm.weight 4 + norm.bias 0
    assert Penalty(l1=1.0, include="all")(model).item() == pytest.approx(29.0)
    # prefix: head.weight + head.bias
    assert Penalty(l1=1.0, include=["head"])(model).item() == pytest.approx(11.0)
    model.head.requires_grad_(False)  # frozen parameters are not penalized
    assert Penalty(l1=1.0)(model).item() == pytest.approx(4.0)


def test_inactive_penalty_is_zero_and_active_flag():
    model = Net()
    pen = Penalty()
    assert not pen.active and Penalty(l2=1e-4).active and Penalty(l1=1e-4).active
    out = pen(model)
    assert out.item() == 0.0 and out.dtype == F64 and not out.requires_grad


def test_penalty_raises_the_loss_and_regularizes_like_weight_decay_with_sgd():
    """SGD on loss + λ·l2_penalty(weights) == SGD with weight_decay=λ (biases and norms excluded)."""
    lam, lr = 0.3, 0.1
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2]], dtype=F64)

    def data_loss(model):
        return model.head(model.norm(model.body(x))).square().mean()

    a, b = Net(), Net()
    opt_a = build_optimizer(a, "sgd", lr=lr)
    opt_b = build_optimizer(b, "sgd", lr=lr, weight_decay=lam)
    pen = Penalty(l2=lam)
    assert (data_loss(a) + pen(a)).item() > data_loss(a).item()
    for _ in range(3):
        for model, opt, extra in ((a, opt_a, pen), (b, opt_b, None)):
            opt.zero_grad()
            loss = data_loss(model) + (extra(model) if extra else 0.0)
            loss.backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"l1": -1.0}, ["l1"]),
        ({"l2": float("nan")}, ["l2"]),
        ({"include": "head"}, ["include", "['head']"]),
        ({"include": []}, ["include"]),
    ],
)
def test_bad_penalty_options(kwargs, words):
    with pytest.raises(UserError) as err:
        Penalty(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_prefix_matching_nothing_and_non_tensor_params():
    with pytest.raises(UserError, match="'haed'"):
        Penalty(l1=1.0, include=["haed"])(Net())
    with pytest.raises(UserError, match=r"params\[1\]"):
        l1_penalty([torch.zeros(2), 3.0])
    assert repr(Penalty(l2=1e-4)) == "Penalty(l1=0, l2=0.0001, include='weights')"
