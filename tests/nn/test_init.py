"""Init schemes: KS tests against the target distributions, std vs formula, symmetry, LSUV."""
import math

import pytest
import torch
from scipy import stats
from torch import nn

from trainwell.errors import UserError
from trainwell.nn.init import fans, gain, orthogonal_, zero_init_residual_
from trainwell.nn.registry import initialize
from trainwell.nn.lsuv import lsuv_
from trainwell.nn.drop_path import ResidualBlock
from trainwell.nn.registry import INITS


def G(seed=0):
    return torch.Generator().manual_seed(seed)


def test_fans_table():
    assert fans(nn.Linear(30, 20).weight) == (30, 20)
    assert fans(nn.Conv2d(16, 32, 3).weight) == (16 * 9, 32 * 9)
    assert fans(nn.Conv1d(8, 4, 5).weight) == (40, 20)
    assert fans(nn.Conv2d(16, 32, 3, groups=4).weight) == (4 * 9, 32 * 9)


def test_gain_table():
    assert gain("relu") == pytest.approx(math.sqrt(2))
    assert gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert gain("tanh") == pytest.approx(5 / 3)
    assert gain("linear") == 1.0
    for nl in ("relu", "tanh", "linear", "sigmoid"):
        assert gain(nl) == pytest.approx(nn.init.calculate_gain(nl))
    assert gain("leaky_relu", 0.3) == pytest.approx(nn.init.calculate_gain("leaky_relu", 0.3))
    with pytest.raises(UserError, match="did you mean"):
        gain("rellu")
    from trainwell.nn.registry import ACTIVATIONS
    for name in ACTIVATIONS.names():  # initialize(..., nonlinearity=<any activation name>) works
        assert gain(name) > 0


# (spec, layer, expected std of the weights, distribution: "norm" or "uniform")
LIN = lambda: nn.Linear(400, 300)  # noqa: E731
CONV = lambda: nn.Conv2d(32, 64, 3)  # fan_in 288, fan_out 576  # noqa: E731
CASES = [
    ({"name": "normal", "std": 0.01}, LIN, 0.01, "norm"),
    ({"name": "normal", "std": 0.05}, CONV, 0.05, "norm"),
    ({"name": "uniform", "a": 0.1}, LIN, 0.1 / math.sqrt(3), "uniform"),
    ("xavier", LIN, math.sqrt(2 / 700), "norm"),
    ("xavier_uniform", CONV, math.sqrt(2 / (288 + 576)), "uniform"),
    ({"name": "xavier", "mode": "fan_in"}, LIN, math.sqrt(1 / 400), "norm"),
    ({"name": "xavier", "mode": "fan_out"}, CONV, math.sqrt(1 / 576), "norm"),
    ("kaiming", LIN, math.sqrt(2 / 400), "norm"),
    ("kaiming", CONV, math.sqrt(2 / 288), "norm"),
    ({"name": "kaiming", "mode": "fan_out"}, CONV, math.sqrt(2 / 576), "norm"),
    ("kaiming_uniform", CONV, math.sqrt(2 / 288), "uniform"),
    ({"name": "kaiming", "nonlinearity": "leaky_relu", "slope": 0.2}, LIN, math.sqrt(2 / (1.04 * 400)), "norm"),
    ({"name": "kaiming", "nonlinearity": "prelu", "slope": 0.25}, CONV, math.sqrt(2 / (1.0625 * 288)), "norm"),
    ("lecun", LIN, math.sqrt(1 / 400), "norm"),
]


@pytest.mark.parametrize("spec,make,std,dist", CASES, ids=[str(c[0]) for c in CASES])
def test_distribution_ks_and_std(spec, make, std, dist):
    layer = make()
    INITS.build(spec)(layer, generator=G(1))
    w = layer.weight.detach().flatten().double().numpy()
    if dist == "norm":
        ref = stats.norm(loc=0.0, scale=std)
    else:
        b = std * math.sqrt(3)
        ref = stats.uniform(loc=-b, scale=2 * b)
    # KS test at the 1% level: a wrong std by even 3% is rejected with >100k samples
    assert stats.kstest(w, ref.cdf).pvalue > 0.01
    # std equals the formula within 2% (n ≥ 18k draws: sampling error of the std ≈ 0.5%)
    assert w.std() == pytest.approx(std, rel=0.02)
    assert (layer.bias == 0).all()


def test_ks_rejects_wrong_std():
    # the KS test above has power: kaiming weights are not xavier-distributed
    layer = nn.Linear(400, 300)
    INITS.build("kaiming")(layer, generator=G(1))
    w = layer.weight.detach().flatten().double().numpy()
    assert stats.kstest(w, stats.norm(scale=math.sqrt(2 / 700)).cdf).pvalue < 1e-6


def test_bias_option_relu_trick_and_constant():
    layer = nn.Linear(5, 7)
    INITS.build({"name": "kaiming", "bias": 0.01})(layer, generator=G())
    assert torch.equal(layer.bias, torch.full((7,), 0.01))
    INITS.build({"name": "constant", "value": 0.3, "bias": -1.0})(layer)
    assert torch.equal(layer.weight, torch.full((7, 5), 0.3)) and torch.equal(layer.bias, torch.full((7,), -1.0))


@pytest.mark.parametrize("spec", ["zeros", {"name": "constant", "value": 0.1}])
def test_constant_init_breaks_no_symmetry(spec):
    # every hidden unit gets the same gradient (so they stay identical after any number of steps)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(5 - 1, 3))
    initialize(model, spec)
    x = torch.randn(16, 6, generator=G(2))
    y = torch.randint(0, 3, (16,), generator=G(3))
    nn.functional.cross_entropy(model(x), y).backward()
    for layer in (model[0], model[2]):
        grad = layer.weight.grad
        assert torch.allclose(grad, grad[:1].expand_as(grad), atol=1e-7), "rows (hidden units) differ"
        assert torch.allclose(layer.bias.grad, layer.bias.grad[:1].expand_as(layer.bias.grad), atol=1e-7)
    # a random init does break the symmetry
    initialize(model, "kaiming", generator=G(4))
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    assert not torch.allclose(model[0].weight.grad, model[0].weight.grad[:1].expand(5, 6), atol=1e-4)


def test_initialize_same_seed_same_weights_and_order():
    def make():
        return nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 3))

    a, b = make(), make()
    initialize(a, "kaiming", generator=G(7))
    initialize(b, "kaiming", generator=G(7))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    # module order: the conv is drawn first from the stream
    g = G(7)
    conv = nn.Conv1d(2, 4, 3)
    INITS.build("kaiming")(conv, generator=g)
    assert torch.equal(conv.weight, a[0].weight)


def test_initialize_nonlinearity_fills_gain_unless_spec_sets_it():
    m = nn.Linear(1000, 50)
    initialize(m, "kaiming", generator=G(), nonlinearity="tanh")
    assert m.weight.std().item() == pytest.approx((5 / 3) / math.sqrt(1000), rel=0.03)
    initialize(m, {"name": "kaiming", "nonlinearity": "relu"}, generator=G(), nonlinearity="tanh")
    assert m.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.03)
    initialize(m, {"name": "normal", "std": 0.05}, generator=G(), nonlinearity="tanh")  # no such option: ignored
    assert m.weight.std().item() == pytest.approx(0.05, rel=0.03)


def test_orthogonal_is_orthogonal_and_haar():
    w = torch.empty(64, 3, 4, 4)  # rows 64 > cols 48 -> orthonormal columns
    orthogonal_(w, gain=2.0, generator=G(5))
    m = w.reshape(64, 48).double()
    torch.testing.assert_close(m.T @ m, 4.0 * torch.eye(48, dtype=torch.float64), atol=1e-5, rtol=0)
    w2 = torch.empty(20, 50)
    INITS.build("orthogonal")(nn.Linear(50, 20), generator=G(6))
    orthogonal_(w2, generator=G(6))
    torch.testing.assert_close(w2 @ w2.T, torch.eye(20), atol=1e-5, rtol=0)
    # Haar: entries of a random orthogonal n×n matrix have variance 1/n; KS vs N(0, 1/n) for n=200
    q = torch.empty(200, 200)
    orthogonal_(q, generator=G(8))
    assert stats.kstest(q.flatten().double().numpy(), stats.norm(scale=1 / math.sqrt(200)).cdf).pvalue > 0.01


def test_unknown_init_and_bad_module():
    with pytest.raises(UserError, match="kaiming"):
        INITS.build("kaimng")
    with pytest.raises(UserError, match="nn.Linear"):
        INITS.build("xavier")(nn.BatchNorm1d(3))
    with pytest.raises(UserError, match="mode"):
        INITS.build({"name": "kaiming", "mode": "fan_sum"})


def test_lsuv_unit_variance_on_10_layer_net():
    layers = []
    for i in range(10):
        layers += [nn.Linear(64 if i else 20, 64), nn.Tanh() if i % 2 else nn.ReLU()]
    model = nn.Sequential(*layers)
    x = torch.randn(256, 20, generator=G(9)) * 3.0 + 1.0
    out = lsuv_(model, x, tol=0.05, max_iter=10, generator=G(10))
    assert list(out) == [str(2 * i) for i in range(10)]
    # measured independently: every Linear's output variance on the batch is 1 within tol
    acts = x
    with torch.no_grad():
        for i, m in enumerate(model):
            acts = m(acts)
            if isinstance(m, nn.Linear):
                assert abs(acts.var().item() - 1.0) < 0.05, f"layer {i}: var {acts.var().item()}"
    assert model.training  # mode restored


def test_lsuv_conv_and_errors():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
    out = lsuv_(model, torch.randn(16, 3, 8, 8, generator=G(11)) * 0.1, tol=0.01, generator=G(12))
    assert all(abs(v - 1) < 0.01 for v in out.values())
    with pytest.raises(UserError, match="no nn.Linear"):
        lsuv_(nn.Sequential(nn.ReLU()), torch.zeros(2, 2))


def test_zero_init_residual_makes_blocks_identity():
    def branch(norm):
        mods = [nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)]
        return nn.Sequential(*(mods + [nn.BatchNorm1d(8)] if norm else mods))

    model = nn.Sequential(ResidualBlock(branch(True)), nn.ReLU(), ResidualBlock(branch(False)))
    names = zero_init_residual_(model)
    assert names == ["0.branch.3", "2.branch.2"]
    assert (model[0].branch[3].weight == 0).all() and (model[0].branch[0].weight != 0).any()
    assert (model[2].branch[2].weight == 0).all() and (model[2].branch[2].bias == 0).all()
    x = torch.randn(5, 8, generator=G(13))
    model.eval()
    torch.testing.assert_close(model(x), torch.relu(x))
    # explicit end marker
    tail = nn.Linear(8, 8)
    tail.is_residual_branch_end = True
    assert zero_init_residual_(nn.Sequential(tail)) == ["0"]
