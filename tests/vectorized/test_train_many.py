"""train_many equals K separate reference runs (the key test), plus dropout, init_scale, BatchNorm,
predict_proba/models and the batched pieces against torch references.

Tolerance: parameters within 1e-4 relative (Frobenius norm of the difference over the norm of
the reference, per tensor, float32) after 50 steps; validation accuracies identical.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from trainwell.vectorized import reference_train_one, train_many
from trainwell.vectorized.batched_layers import BatchedSequential, compile_sequential
from trainwell.vectorized.flat import FlatStack
from trainwell.vectorized.stacked_optim import StackedOptimizer
from trainwell.vectorized.streams import BatchOrder, single_batches
from trainwell.errors import UserError

STEPS, BATCH = 50, 32


def _init_from(model: nn.Module, g: torch.Generator, scale: float = 0.4) -> nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model


def make_mlp(g: torch.Generator, dropout: float = 0.0) -> nn.Module:
    m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    return _init_from(m, g)


def make_cnn(g: torch.Generator) -> nn.Module:
    m = nn.Sequential(
        nn.Unflatten(1, (1, 12)), nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout1d(0.2), nn.MaxPool1d(2),
        nn.Conv1d(4, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(20, 3),
    )
    return _init_from(m, g)


class Residual(nn.Module):
    """Not a Sequential: exercises the vmap path (with dropout and LayerNorm)."""

    def __init__(self, g: torch.Generator):
        super().__init__()
        self.inp, self.norm, self.drop, self.out = nn.Linear(6, 16), nn.LayerNorm(16), nn.Dropout(0.1), nn.Linear(16, 3)
        _init_from(self, g)

    def forward(self, x):
        h = self.inp(x)
        return self.out(h + self.drop(torch.relu(self.norm(h))))


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(123)
    x = torch.randn(300, 6, generator=g)
    y = ((x[:, 0] > 0).long() + (x[:, 1] + x[:, 2] > 0.5).long())
    xv = torch.randn(100, 6, generator=g)
    yv = ((xv[:, 0] > 0).long() + (xv[:, 1] + xv[:, 2] > 0.5).long())
    return x, y, xv, yv


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def assert_matches_reference(make, hps, data, optimizer, engine="auto", schedule=None, expect_engine=None):
    x, y, xv, yv = data
    kw = dict(steps=STEPS, batch_size=BATCH, optimizer=optimizer, schedule=schedule, x_val=xv, y_val=yv, eval_every=25)
    r = train_many(make, hps, x, y, engine=engine, **kw)
    if expect_engine:
        assert r.engine == expect_engine
    for i, hp in enumerate(hps):
        ref = reference_train_one(make, hp, x, y, **kw)
        sd = ref.model.state_dict()
        mine = r.state_dicts()[i]
        assert mine.keys() == sd.keys()
        for name in sd:
            assert rel_err(mine[name], sd[name]) <= 1e-4, (optimizer, i, name, rel_err(mine[name], sd[name]))
        assert r.val_acc[i].tolist() == ref.val_acc
        assert r.val_steps == ref.val_steps == [25, 50]
        torch.testing.assert_close(r.train_loss[i], ref.train_loss, rtol=1e-4, atol=1e-5)
    return r


HPS = {
    "adam": [dict(seed=0, lr=1e-2), dict(seed=1, lr=3e-3, weight_decay=1e-2), dict(seed=7, lr=3e-2, weight_decay=1e-3), dict(seed=3, lr=1e-3)],
    "sgd": [dict(seed=0, lr=0.1, momentum=0.9), dict(seed=1, lr=0.05, weight_decay=1e-2), dict(seed=7, lr=0.2, momentum=0.5, weight_decay=1e-3), dict(seed=3, lr=0.01, momentum=0.99)],
    "adamw": [dict(seed=0, lr=1e-2, weight_decay=0.1), dict(seed=1, lr=3e-3), dict(seed=7, lr=3e-2, weight_decay=1e-2), dict(seed=3, lr=1e-3, weight_decay=0.5)],
}


@pytest.mark.parametrize("engine", ["mlp", "batched"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adamw"])
def test_batched_mlp_equals_one_by_one(data, optimizer, engine):
    r = assert_matches_reference(make_mlp, HPS[optimizer], data, optimizer, engine=engine, expect_engine=engine)
    # trials really differ (different seeds and hyperparameters give different models)
    assert rel_err(r.params["0.weight"][0], r.params["0.weight"][1]) > 0.1


def test_vmap_engine_equals_one_by_one_with_schedule(data):
    cosine = lambda step, total: 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / total)).item())  # noqa: E731
    assert_matches_reference(make_mlp, HPS["adam"], data, "adam", engine="vmap", schedule=cosine, expect_engine="vmap")


def test_dropout_per_trial_rate_and_stream_equals_reference(data):
    hps = [dict(seed=0, lr=1e-2, dropout=0.5), dict(seed=1, lr=1e-2, dropout=0.0), dict(seed=2, lr=1e-2), dict(seed=3, lr=1e-2, dropout=0.2)]
    make = lambda g: make_mlp(g, dropout=0.3)  # noqa: E731  trial 2 keeps the model's rate 0.3
    r = assert_matches_reference(make, hps, data, "adam")
    # the mask stream matters: same trial without dropout ends elsewhere
    plain = train_many(make, [dict(seed=0, lr=1e-2, dropout=0.0)], data[0], data[1], steps=STEPS, batch_size=BATCH)
    assert rel_err(plain.params["0.weight"][0], r.params["0.weight"][0]) > 1e-2
    assert [m[2].p for m in r.models()] == [0.5, 0.0, 0.3, 0.2]


def test_dropout_through_vmap_engine(data):
    assert_matches_reference(Residual, HPS["sgd"], data, "sgd", expect_engine="vmap")


def test_conv1d_grouped_path_equals_reference(data):
    x, y, xv, yv = data
    x12 = torch.cat([x, x], dim=1)
    xv12 = torch.cat([xv, xv], dim=1)
    assert_matches_reference(make_cnn, HPS["adam"][:3], (x12, y, xv12, yv), "adam", expect_engine="batched")


def test_init_scale_scales_weights_not_biases(data):
    x, y, _, _ = data
    hps = [dict(seed=5, lr=0.0, init_scale=0.1), dict(seed=5, lr=0.0)]
    r = train_many(make_mlp, hps, x, y, steps=1, batch_size=BATCH, optimizer="sgd")
    fresh = make_mlp(torch.Generator().manual_seed(5)).state_dict()
    for name, p in r.params.items():
        expected = fresh[name] * (0.1 if fresh[name].ndim > 1 else 1.0)
        torch.testing.assert_close(p[0], expected, rtol=0, atol=0)
        torch.testing.assert_close(p[1], fresh[name], rtol=0, atol=0)
    assert_matches_reference(make_mlp, [dict(seed=1, lr=1e-2, init_scale=2.0), dict(seed=2, lr=1e-2, init_scale=0.5)], data, "adam")


def test_predict_proba_matches_unstacked_models(data):
    x, y, xv, _ = data
    r = train_many(make_cnn, HPS["adamw"][:3], torch.cat([x, x], 1), y, steps=10, batch_size=BATCH, optimizer="adamw")
    proba = r.predict_proba(torch.cat([xv, xv], 1), batch_size=37)  # several chunks
    assert proba.shape == (3, 100, 3)
    for i, model in enumerate(r.models()):
        assert not model.training
        torch.testing.assert_close(proba[i], torch.softmax(model(torch.cat([xv, xv], 1)), -1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(proba.sum(-1), torch.ones(3, 100))


def test_batchnorm_is_refused_with_its_name(data):
    x, y, _, _ = data
    make = lambda g: nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))  # noqa: E731
    with pytest.raises(UserError, match=r"BatchNorm1d at '1'"):
        train_many(make, [dict(seed=0, lr=0.1)], x, y, steps=2, batch_size=BATCH)


@pytest.mark.parametrize(
    "hps, optimizer, message",
    [
        ([dict(seed=0, lr=0.1, momentum=0.9)], "adam", "momentum"),
        ([dict(seed=0)], "sgd", "needs a 'lr'"),
        ([dict(seed=0, lr=0.1, weigth_decay=0.1)], "sgd", 'did you mean "weight_decay"'),
        ([dict(seed=0, lr=0.1, dropout=1.0)], "sgd", "dropout"),
        ([dict(seed=0, lr=0.1)], "adagrad", "optimizer must be one of"),
        ([], "sgd", "non-empty"),
    ],
)
def test_bad_hparams_are_user_errors(data, hps, optimizer, message):
    x, y, _, _ = data
    with pytest.raises(UserError, match=message):
        train_many(make_mlp, hps, x, y, steps=2, batch_size=BATCH, optimizer=optimizer)


def test_bad_batch_size_and_architecture(data):
    x, y, _, _ = data
    with pytest.raises(UserError, match="larger than the 300"):
        train_many(make_mlp, [dict(seed=0, lr=0.1)], x, y, steps=2, batch_size=301)
    widths = {0: 16, 1: 8}
    make = lambda g: nn.Sequential(nn.Linear(6, widths[int(torch.randint(2, (1,), generator=g))]))  # noqa: E731
    seeds = [s for s in range(20) if int(torch.randint(2, (1,), generator=torch.Generator().manual_seed(s))) == 1][:1] + [
        s for s in range(20) if int(torch.randint(2, (1,), generator=torch.Generator().manual_seed(s))) == 0][:1]
    with pytest.raises(UserError, match="same architecture"):
        train_many(make, [dict(seed=s, lr=0.1) for s in seeds], x, y, steps=2, batch_size=BATCH)


def test_batch_order_follows_the_per_trial_permutation_convention():
    seeds, n, b = [4, 9], 10, 3  # 3 batches per epoch, the 10th example dropped each epoch
    order = BatchOrder(seeds, n, b, "cpu")
    got = torch.stack([order.next() for _ in range(7)], dim=1)  # K×steps×B
    for k, s in enumerate(seeds):
        g = torch.Generator().manual_seed(s + 1)
        expected = []
        for _ in range(3):
            perm = torch.randperm(n, generator=g)
            expected += [perm[i * b : (i + 1) * b] for i in range(3)]
        assert torch.equal(got[k], torch.stack(expected[:7]))
        assert torch.equal(got[k], torch.stack(list(single_batches(s, n, b, 7))))
    assert not torch.equal(got[0], got[1])


def test_batched_forward_equals_each_model_with_conv2d_and_pools():
    g = torch.Generator().manual_seed(0)
    make = lambda: _init_from(nn.Sequential(  # noqa: E731
        nn.Conv2d(2, 3, 3, padding=1, stride=1), nn.GELU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, groups=1),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 2, bias=False)), g)
    models = [make() for _ in range(3)]
    ops = compile_sequential(models[0])
    assert ops is not None
    params = {n: torch.stack([dict(m.named_parameters())[n] for m in models]) for n, _ in models[0].named_parameters()}
    x = torch.randn(3, 4, 2, 9, 10, generator=g)
    out = BatchedSequential(ops, 3).forward(params, x, None)
    for i, m in enumerate(models):
        torch.testing.assert_close(out[i], m(x[i]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fused", [True, False])
def test_stacked_adam_equals_torch_adam_in_float64(fused):
    g = torch.Generator().manual_seed(0)
    k, lrs, wds = 3, [1e-3, 1e-2, 1e-1], [0.0, 1e-2, 0.3]
    init = torch.randn(k, 4, 5, generator=g, dtype=torch.float64)
    grads = torch.randn(6, k, 4, 5, generator=g, dtype=torch.float64)
    flat = FlatStack({"w": init})
    stacked = flat.params["w"]
    assert flat.data.dtype == torch.float64
    opt = StackedOptimizer(flat, "adam", weight_decay=torch.tensor(wds, dtype=torch.float64), betas=(0.9, 0.999), fused=fused)
    for t in range(6):
        flat.grads["w"].copy_(grads[t])
        opt.step(torch.tensor(lrs, dtype=torch.float64) * (t + 1) / 6)
    for i in range(k):
        p = init[i].clone().requires_grad_()
        ref = torch.optim.Adam([p], lr=lrs[i], weight_decay=wds[i])
        for t in range(6):
            p.grad = grads[t, i].clone()
            ref.param_groups[0]["lr"] = lrs[i] * (t + 1) / 6
            ref.step()
        torch.testing.assert_close(stacked[i].detach(), p.detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw"])
def test_weight_decay_only_on_the_flagged_parameters(kind):
    """decay=[True, False]: with a zero gradient the decayed tensor moves (L2 or decoupled decay),
    the other stays exactly where it was (a bias under trainwell's rule)."""
    flat = FlatStack({"bias": torch.ones(2, 4), "weight": torch.ones(2, 3, 4)}, decay=[False, True])
    weight, bias = flat.params["weight"], flat.params["bias"]
    assert flat.blocks["weight"] == slice(0, 24) and flat.n_decay == 24  # decayed blocks first
    opt = StackedOptimizer(flat, kind, weight_decay=torch.tensor([0.1, 0.5]), momentum=torch.zeros(2))
    for _ in range(3):
        flat.zero_grad()
        opt.step(torch.tensor([0.1, 0.1]))
    assert torch.equal(bias.detach(), torch.ones(2, 4))
    assert (weight.detach() < 1).all()
    if kind != "adam":  # (Adam normalizes the L2 gradient away: both trials move by about lr a step)
        assert weight[1, 0, 0] < weight[0, 0, 0]  # the larger λ decays more
    with pytest.raises(ValueError, match="one flag per parameter"):
        FlatStack({"bias": torch.ones(2, 4), "weight": torch.ones(2, 3, 4)}, decay=[True])


def test_reference_and_train_many_never_decay_biases(data):
    """The vectorized engine follows the Trainer's rule (trainwell.optim.param_groups): the
    reference's optimizer puts every bias in a group with weight_decay 0."""
    from trainwell.optim.param_groups import param_groups

    model = make_mlp(torch.Generator().manual_seed(0))
    groups = param_groups(model, 0.3)  # what reference_train_one hands its optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in groups[0]["params"])
    assert groups[0]["weight_decay"] == 0.3 and groups[1]["weight_decay"] == 0.0
    assert decayed and all(n.endswith("weight") for n in decayed)
    assert all(names[id(p)].endswith("bias") for p in groups[1]["params"])
    x, y, _, _ = data
    hps = [dict(seed=0, lr=1e-2, weight_decay=0.5)]
    many = train_many(make_mlp, hps, x, y, steps=15, batch_size=BATCH, optimizer="adamw")
    one = reference_train_one(make_mlp, hps[0], x, y, steps=15, batch_size=BATCH, optimizer="adamw")
    for (name, a), b in zip(many.models()[0].named_parameters(), one.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_a_diverging_trial_does_not_touch_the_others(data):
    x, y, _, _ = data
    hps = [dict(seed=0, lr=1e-2), dict(seed=1, lr=1e38)]
    r = train_many(make_mlp, hps, x, y, steps=20, batch_size=BATCH, optimizer="sgd")
    assert not torch.isfinite(r.params["0.weight"][1]).all() and not torch.isfinite(r.train_loss[1, -1])
    alone = train_many(make_mlp, hps[:1], x, y, steps=20, batch_size=BATCH, optimizer="sgd")
    torch.testing.assert_close(r.params["0.weight"][0], alone.params["0.weight"][0], rtol=1e-5, atol=1e-6)


def test_dropout_mask_follows_the_documented_formula():
    from trainwell.vectorized.dropout import generator_dropout

    x = torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(1))
    u = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(generator_dropout(x, 0.3, torch.Generator().manual_seed(9)), x * ((u >= 0.3).float() / 0.7), rtol=0, atol=0)
    uc = torch.rand(5, 3, 1, generator=torch.Generator().manual_seed(9))
    y = generator_dropout(x, 0.3, torch.Generator().manual_seed(9), channelwise=True)
    torch.testing.assert_close(y, x * ((uc >= 0.3).float() / 0.7), rtol=0, atol=0)
    g = torch.Generator().manual_seed(9)
    assert generator_dropout(x, 0.0, g) is x and generator_dropout(x, 0.5, g, training=False) is x
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(9)))  # p=0 / eval draw nothing
