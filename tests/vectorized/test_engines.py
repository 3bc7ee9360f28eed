"""The pieces of the fast paths against their definitions: the hand-written MLP backward against
autograd (float64, 1e-10), the per-trial loss and its gradient against F.cross_entropy, the flat
parameter buffer (contiguous blocks, gradients accumulated in place), the one-gather batch."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainwell.errors import UserError
from trainwell.nn import activations as A
from trainwell.vectorized.batched_layers import BatchedSequential, compile_sequential
from trainwell.vectorized.flat import FlatStack
from trainwell.vectorized.loss import cross_entropy_and_grad, per_trial_cross_entropy
from trainwell.vectorized.mlp_engine import compile_mlp
from trainwell.vectorized.group import gather
from trainwell.vectorized.train_many import make_engine, train_many

K, B = 3, 7


def _models(make, k=K, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    models = []
    for _ in range(k):
        m = make().to(dtype)
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=dtype) * 0.5)
        models.append(m)
    return models


def every_activation():
    """Linear (with and without bias) between every kind of op the mlp engine handles."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8, bias=False), nn.Tanh(), nn.Dropout(0.3),
        nn.Linear(8, 8), A.Sigmoid(), nn.Unflatten(1, (2, 4)), nn.Linear(4, 4), nn.GELU(), nn.Flatten(),
        nn.Linear(8, 8), nn.LeakyReLU(0.1, inplace=True), nn.Identity(), nn.Sequential(nn.Linear(8, 8), A.ReLU()),
        nn.Linear(8, 4), nn.SiLU(), nn.Linear(4, 5),
    )


def test_mlp_backward_equals_autograd_in_float64():
    models = _models(every_activation)
    ops = compile_sequential(models[0])
    manual = compile_mlp(ops, K)
    assert manual is not None
    stack = FlatStack.from_models(models, set(), requires_grad=False)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(K, B, 2, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (K, B), generator=g)
    masks = {}

    def draw_mask(site, shape, channelwise):  # the same masks for both engines
        if site not in masks:
            masks[site] = (torch.rand((K,) + shape, generator=g, dtype=torch.float64) >= 0.3).double() / 0.7
        return masks[site]

    loss = manual.loss_and_grad(stack.params, stack.grads, x, y, draw_mask)
    # autograd through the same forward (BatchedSequential) on independent copies of the parameters
    params = {n: p.detach().clone().requires_grad_(True) for n, p in stack.params.items()}
    logits = BatchedSequential(ops, K).forward(params, x, draw_mask)
    ref = torch.stack([F.cross_entropy(logits[i], y[i]) for i in range(K)])
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    for name, p in params.items():
        torch.testing.assert_close(stack.grads[name], p.grad, rtol=1e-10, atol=1e-12, msg=name)
    assert all(stack.grads[n].abs().sum() > 0 for n in params)  # every layer got a gradient


def test_mlp_engine_is_refused_for_convs_and_chosen_for_mlps():
    conv = nn.Sequential(nn.Unflatten(1, (1, 6)), nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    assert compile_mlp(compile_sequential(conv), 2) is None
    assert compile_mlp(compile_sequential(nn.Sequential(nn.ReLU(), nn.Flatten())), 2) is None  # no Linear
    x = torch.randn(16, 6)
    assert make_engine(every_activation(), 2, "auto", x).name == "mlp"
    assert make_engine(conv, 2, "auto", x).name == "batched"
    with pytest.raises(UserError, match="engine='mlp' needs"):
        make_engine(conv, 2, "mlp", x)


@pytest.mark.parametrize("classes", [2, 10])
def test_per_trial_cross_entropy_and_its_gradient(classes):
    g = torch.Generator().manual_seed(2)
    z = torch.randn(K, B, classes, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, classes, (K, B), generator=g)
    ref = torch.stack([F.cross_entropy(z[i], y[i]) for i in range(K)])
    ref.sum().backward()
    torch.testing.assert_close(per_trial_cross_entropy(z, y), ref, rtol=1e-12, atol=1e-12)
    for out in (None, torch.empty(K, classes, B, dtype=torch.float64)):  # allocated, or in a reused buffer
        loss, grad = cross_entropy_and_grad(z.detach(), y, out)
        torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, z.grad, rtol=1e-12, atol=1e-12)
    # the documented formula: (softmax − onehot) / B
    torch.testing.assert_close(grad, (torch.softmax(z.detach(), -1) - F.one_hot(y, classes)) / B, rtol=1e-12, atol=1e-12)


def test_flat_stack_blocks_are_contiguous_and_autograd_accumulates_into_them():
    w = torch.arange(24.0).view(2, 3, 4)
    b = torch.arange(6.0).view(2, 3)
    s = FlatStack({"b": b, "w": w}, decay=[False, True], requires_grad=True)
    assert list(s.params) == ["b", "w"]  # named order kept; decayed block first in memory
    assert s.blocks == {"w": slice(0, 24), "b": slice(24, 30)} and s.n_decay == 24
    assert all(p.is_contiguous() and p.is_leaf and p.requires_grad for p in s.params.values())
    torch.testing.assert_close(s.params["w"], w, rtol=0, atol=0)
    torch.testing.assert_close(s.rows(s.data, "b"), b, rtol=0, atol=0)
    s.attach_grads()
    (s.params["w"] * 2).sum().backward()
    assert s.params["w"].grad.data_ptr() == s.grad.data_ptr()  # in place, in the flat buffer
    assert torch.equal(s.grad[:24], torch.full((24,), 2.0)) and torch.equal(s.grad[24:], torch.zeros(6))
    copy = s.detached()
    s.data.zero_()
    assert torch.equal(copy["w"], w)  # detached() does not alias the buffer
    with pytest.raises(ValueError, match="same K"):
        FlatStack({"a": torch.zeros(2, 3), "c": torch.zeros(3, 3)})


def test_gather_is_advanced_indexing():
    x = torch.randn(20, 2, 3)
    idx = torch.randint(0, 20, (4, 5), generator=torch.Generator().manual_seed(3))
    assert torch.equal(gather(x, idx), x[idx])
    assert torch.equal(gather(torch.arange(20), idx), torch.arange(20)[idx])


def test_mlp_and_batched_engines_train_to_the_same_models():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(120, 6, generator=g), torch.randint(0, 3, (120,), generator=g)

    def make(gen):
        m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.4)
        return m

    hps = [dict(seed=0, lr=1e-2, weight_decay=1e-3), dict(seed=1, lr=3e-3, dropout=0.0)]
    kw = dict(steps=30, batch_size=20, optimizer="adamw", x_val=x, y_val=y, eval_every=10)
    a = train_many(make, hps, x, y, engine="mlp", **kw)
    b = train_many(make, hps, x, y, engine="batched", **kw)
    assert (a.engine, b.engine) == ("mlp", "batched")
    for name in a.params:
        torch.testing.assert_close(a.params[name], b.params[name], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.train_loss, b.train_loss, rtol=1e-5, atol=1e-6)
    assert torch.equal(a.val_acc, b.val_acc)


@pytest.mark.parametrize("k, dims, shape", [(2, 1, (4, 6, 11)), (3, 1, (4, 6, 11)), (2, 2, (3, 4, 7, 6)), (3, 2, (2, 3, 9, 10))])
def test_tile_max_equals_max_pool_values_and_gradient_routing(k, dims, shape):
    """Exactly max_pool1d/2d, including ties (ReLU zeros, repeated values): ∂y goes to the first max."""
    from trainwell.vectorized.pooling import tile_max

    g = torch.Generator().manual_seed(5)
    x = torch.randint(-2, 3, shape, generator=g).double().relu_().requires_grad_(True)  # many ties
    pool = F.max_pool1d if dims == 1 else F.max_pool2d
    y, ref = tile_max(x, k, dims), pool(x, k)
    assert torch.equal(y, ref)
    dy = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    (a,) = torch.autograd.grad(y, x, dy)
    (b,) = torch.autograd.grad(ref, x, dy)
    assert torch.equal(a, b)


def test_an_unused_parameter_is_refused_by_name():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = nn.Linear(6, 3), nn.Linear(6, 3)

        def forward(self, x):
            return self.used(x)

    x, y = torch.randn(16, 6), torch.arange(16) % 3
    with pytest.raises(UserError, match=r"\['spare.weight', 'spare.bias'\] get no gradient"):
        train_many(lambda g: Unused(), [{"seed": 0, "lr": 1e-3}], x, y, steps=2, batch_size=8)


@pytest.mark.parametrize("engine, conv", [("mlp", False), ("batched", False), ("vmap", False), ("batched", True)])
def test_the_grouping_does_not_change_the_result(engine, conv):
    """Trials never interact: 5 trials as groups of 2+2+1 train to the models of one group of 5."""
    from trainwell.vectorized.group import default_group_size

    g = torch.Generator().manual_seed(6)
    x, y = torch.randn(90, 6, generator=g), torch.randint(0, 3, (90,), generator=g)

    def make(gen):
        if conv:
            m = nn.Sequential(nn.Unflatten(1, (1, 6)), nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                              nn.Dropout1d(0.2), nn.Flatten(), nn.Linear(12, 3))
        else:
            m = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Dropout(0.2), nn.Linear(12, 3))
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.4)
        return m

    hps = [dict(seed=s, lr=3e-3 * (s + 1), weight_decay=1e-3 * s, dropout=0.1 * s) for s in range(5)]
    kw = dict(steps=12, batch_size=15, optimizer="adam", x_val=x, y_val=y, eval_every=4, engine=engine)
    one = train_many(make, hps, x, y, group_size=5, **kw)
    split = train_many(make, hps, x, y, group_size=2, **kw)
    for name in one.params:
        torch.testing.assert_close(split.params[name], one.params[name], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(split.train_loss, one.train_loss, rtol=1e-6, atol=1e-7)
    assert torch.equal(split.val_acc, one.val_acc) and split.engine == one.engine == engine
    torch.testing.assert_close(split.predict_proba(x), one.predict_proba(x), rtol=1e-6, atol=1e-7)
    conv = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten())
    assert default_group_size(32, torch.device("cpu"), conv) == 8 and default_group_size(32, torch.device("cuda"), conv) == 32
    assert default_group_size(32, torch.device("cpu"), nn.Sequential(nn.Linear(6, 3))) == 32
    assert default_group_size(5, torch.device("cpu"), conv) == 5
    with pytest.raises(UserError, match="group_size"):
        train_many(make, hps, x, y, group_size=0, **kw)


@pytest.mark.parametrize("act", ["relu", "gelu", "tanh", "elu", "leaky_relu", "silu", "selu", "sigmoid", "swish"])
def test_mlp_engine_handles_every_trainwell_activation(act):
    """trainwell's MLP (with its dropout) under each parameter-free activation: the mlp engine's
    gradients equal autograd's through the batched engine (float64)."""
    from trainwell.models import MODELS

    spec = {"name": "mlp", "widths": [8, 8], "activation": act, "dropout": 0.2}
    models = [MODELS.build(spec, input_shape=(6,), num_classes=3, generator=torch.Generator().manual_seed(s)).double()
              for s in range(K)]
    ops = compile_sequential(models[0])
    manual = compile_mlp(ops, K)
    assert manual is not None, act
    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(K, B, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (K, B), generator=g)
    mask = (torch.rand(K, B, 8, generator=g, dtype=torch.float64) >= 0.2).double() / 0.8
    stack = FlatStack.from_models(models, set(), requires_grad=False)
    loss = manual.loss_and_grad(stack.params, stack.grads, x, y, lambda site, shape, cw: mask)
    params = {n: p.detach().clone().requires_grad_(True) for n, p in stack.params.items()}
    ref = per_trial_cross_entropy(BatchedSequential(ops, K).forward(params, x, lambda site, shape, cw: mask), y)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    for name, p in params.items():
        torch.testing.assert_close(stack.grads[name], p.grad, rtol=1e-10, atol=1e-12, msg=f"{act} {name}")


@pytest.mark.parametrize("engine", ["mlp", "batched"])
def test_group_evaluation_in_chunks_equals_the_models_accuracy(engine):
    """The mlp engine evaluates in reused buffers, chunk by chunk: each chunk must be read before the next."""
    from trainwell.vectorized.group import Group
    from trainwell.vectorized.hparams import parse_trials

    models = _models(every_activation, dtype=torch.float32)
    for m in models:
        m.eval()
    trials = parse_trials([{"seed": i, "lr": 1e-3} for i in range(K)], "adam")
    eng = make_engine(models[0], K, engine, torch.randn(4, 6))
    group = Group(trials, models, models[0], eng, "adam", set(), 50, 10, torch.device("cpu"), torch.float32)
    g = torch.Generator().manual_seed(8)
    x, y = torch.randn(23, 2, 3, generator=g), torch.randint(0, 5, (23,), generator=g)
    expected = torch.stack([(m(x).argmax(-1) == y).float().mean() for m in models])
    torch.testing.assert_close(group.evaluate(x, y, chunk=7), expected)
    torch.testing.assert_close(group.evaluate(x, y), expected)


def test_flushing_denormals_is_scoped_and_restores_the_mode():
    from trainwell.vectorized.denormal import flush_denormal_enabled, flushing_denormals

    tiny = torch.tensor([1e-39])
    assert not flush_denormal_enabled() and tiny.mul(1.0).item() > 0  # torch's default: subnormals kept
    with flushing_denormals():
        assert flush_denormal_enabled() and tiny.mul(1.0).item() == 0.0
        with flushing_denormals():  # nested: the inner block leaves the outer mode on
            pass
        assert flush_denormal_enabled()
    assert not flush_denormal_enabled()
    with flushing_denormals(enabled=False):
        assert not flush_denormal_enabled()
    x, y = torch.randn(20, 6), torch.arange(20) % 3
    train_many(lambda g: nn.Sequential(nn.Linear(6, 3)), [{"seed": 0, "lr": 1e-3}], x, y, steps=2, batch_size=5)
    assert not flush_denormal_enabled()  # train_many put the mode back
