"""Each check on a deliberately broken setup and on a healthy one, through `trainwell.doctor(model, ...)`:
tiny synthetic data (Gaussian clusters, 8 features, 4 classes), plain PyTorch models, budgets of
≤ 60 steps. The broken setup must be diagnosed with its code as the top finding; the healthy one
must not raise it."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import trainwell
from trainwell.doctor import DoctorConfig

# small budgets for the synthetic pairs: every loop ≤ 60 steps (capacity test: 150)
TINY = replace(DoctorConfig().quick(), max_train=400, max_eval=200, loss_batch=128, overfit_steps=60, lr_steps=30,
               short_steps=60, stats_every=20, capacity_steps=150, capacity_examples=100)


def blobs(n: int = 400, d: int = 8, c: int = 4, seed: int = 0, spread: float = 3.0):
    """n examples of d features in c Gaussian clusters (unit std around means ~N(0, spread²)),
    standardized; (x, y) train and (x, y) val halves."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * spread
    y = torch.arange(n) % c
    x = centers[y] + torch.randn(n, d, generator=g)
    x = (x - x.mean(0)) / x.std(0)
    perm = torch.randperm(n, generator=g)
    x, y = x[perm], y[perm]
    h = n // 2
    return (x[:h], y[:h]), (x[h:], y[h:])


def mlp(d: int = 8, c: int = 4, width: int = 32, seed: int = 0, last: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = [nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, c)]
    return nn.Sequential(*layers, *([last] if last is not None else []))


def adam(model, lr=1e-2, **kw):
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, **kw)


def diagnose(model, train, val, loss=None, optimizer=None, **kw):
    return trainwell.doctor(model, train, val, loss=loss or nn.CrossEntropyLoss(),
                            optimizer=optimizer if optimizer is not None else adam(model), budget=TINY, **kw)


def codes(d):
    return {f.code for f in d.problems}


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def healthy(data):
    train, val = data
    return diagnose(mlp(), train, val)


def test_healthy_setup_has_no_problem(healthy):
    assert healthy.problems == [] and healthy.top is None and healthy.exit_code == 0
    assert healthy.scores["val_accuracy"] > 0.9


def test_softmax_before_cross_entropy(data, healthy):
    d = diagnose(mlp(last=nn.Softmax(dim=1)), *data)
    assert d.top.code == "output_probabilities" and d.top.evidence["output_kind"] == "probabilities"
    assert "softmax" in d.top.prescription.code and "output_probabilities" not in codes(healthy)


def test_relu_on_logits(data):
    d = diagnose(mlp(last=nn.ReLU()), *data)
    assert d.top.code == "output_nonnegative" and d.top.evidence["zero_frac"] > 0.05


def test_nll_loss_on_logits(data):
    d = diagnose(mlp(), *data, loss=nn.NLLLoss())
    assert d.top.code == "loss_mismatch" and "log_softmax" in d.top.prescription.code
    ok = diagnose(nn.Sequential(mlp(), nn.LogSoftmax(dim=1)), *data, loss=nn.NLLLoss())
    assert "loss_mismatch" not in codes(ok)


def test_classes_fed_to_a_one_output_regression(data):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    d = diagnose(model, *data, loss=lambda out, y: F.mse_loss(out.squeeze(1), y.float()))
    assert d.top.code == "loss_mismatch" and d.top.evidence == {"classes": 4, "outputs": 1}
    assert d.exit_code == 1 and not d.metrics  # nothing was trained


def test_labels_out_of_range_is_a_finding_not_a_crash(data):
    (x, y), (xv, yv) = data
    d = diagnose(mlp(), (x, y + 1), (xv, yv + 1))  # 1-based labels, 4 outputs: label 4 does not exist
    assert d.top.code == "labels_out_of_range" and "off by one" in d.top.message
    assert d.top.prescription.code == "y = y - 1" and d.exit_code == 1
    d = diagnose(mlp(), (x, y - 1), (xv, yv))
    assert d.top.code == "labels_out_of_range" and d.top.evidence["min_label"] == -1


def test_nonfinite_inputs(data):
    (x, y), val = data
    x = x.clone()
    x[3, 2] = float("nan")
    d = diagnose(mlp(), (x, y), val)
    assert d.top.code == "nonfinite_inputs" and d.top.evidence["nonfinite"] == {"train": 1}


def test_symmetric_init(data, healthy):
    model = mlp()
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.05)
            nn.init.zeros_(m.bias)
    d = diagnose(model, *data)
    assert d.top.code == "symmetric_init" and d.top.where == "0" and "symmetric_init" not in codes(healthy)


def test_optimizer_missing_parameters(data):
    model = mlp()
    d = diagnose(model, *data, optimizer=adam(model[4]))
    assert d.top.code == "frozen_parameters" and d.top.severity == "fail"
    assert set(d.top.evidence["not_in_optimizer"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_parameters_frozen_by_mistake(data):
    model = mlp()
    model[0].weight.requires_grad_(False)
    d = diagnose(model, *data)
    assert d.top.code == "frozen_parameters" and d.top.evidence["requires_grad_false"] == ["0.weight"]


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 32), nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)).detach())


def test_graph_cut_by_detach(data):
    torch.manual_seed(0)
    d = diagnose(Detached(), *data)
    assert d.top.code == "frozen_parameters" and d.top.evidence["no_gradient"] == ["fc1.weight", "fc1.bias"]


def test_no_nonlinearity(data, healthy):
    torch.manual_seed(0)
    d = diagnose(nn.Sequential(nn.Linear(8, 32), nn.Linear(32, 32), nn.Linear(32, 4)), *data)
    assert d.top.code == "no_nonlinearity" and d.top.evidence["residual"] < 1e-10
    assert "no_nonlinearity" not in codes(healthy)


class Functional(nn.Module):
    """Activations called as functions: no activation module for the statistics recorder to see."""

    def __init__(self, act=F.relu, bias: float | None = None, std: float | None = None, depth: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.act = act
        self.hidden = nn.ModuleList([nn.Linear(8 if i == 0 else 64, 64) for i in range(depth)])
        self.out = nn.Linear(64, 4)
        for layer in self.hidden:
            if bias is not None:
                nn.init.constant_(layer.bias, bias)
            if std is not None:
                nn.init.normal_(layer.weight, std=std)

    def forward(self, x):
        for layer in self.hidden:
            x = self.act(layer(x))
        return self.out(x)


def test_dead_relus_called_as_functions(data):
    d = diagnose(Functional(bias=-6.0), *data)
    # judged from what the next layer receives: the statistics records' "<layer>:input" entries (or the
    # doctor's own probe of the weight layers' inputs when the records have none)
    assert d.top.code == "dead_units" and (d.top.where.endswith(":input") or
                                           d.top.evidence["source"].startswith("inputs of the weight layers"))
    assert d.top.evidence["when"] == "init" and d.top.evidence["dead_frac_init"] >= 0.3
    assert "dead_units" not in codes(diagnose(Functional(), *data))


def test_saturated_tanh_called_as_a_function(data):
    d = diagnose(Functional(act=torch.tanh, std=2.0, depth=4), *data)
    assert d.top.code == "activations_saturated" and d.top.evidence["saturated_frac_init"] > 0.2
    assert d.top.prescription.code.startswith("for m in model.modules()")


def test_batchnorm_with_tiny_batches(data):
    (x, y), val = data

    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))

    g = torch.Generator().manual_seed(0)
    d = diagnose(net(), DataLoader(TensorDataset(x, y), batch_size=2, shuffle=True, generator=g), val)
    assert d.top.code == "batchnorm_small_batch" and d.top.evidence["batch_size"] == 2
    ok = diagnose(net(), DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g), val)
    assert "batchnorm_small_batch" not in codes(ok)


def test_sorted_data_without_shuffling(data):
    (x, y), val = data
    order = torch.argsort(y, stable=True)
    d = diagnose(mlp(), DataLoader(TensorDataset(x[order], y[order]), batch_size=16, shuffle=False), val)
    assert d.top.code == "unshuffled_batches" and d.top.evidence["batch_purity"] > 0.9
    g = torch.Generator().manual_seed(0)
    ok = diagnose(mlp(), DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g), val)
    assert "unshuffled_batches" not in codes(ok)


def test_unnormalized_inputs_and_feature_scale(data):
    (x, y), (xv, yv) = data
    d = diagnose(mlp(), (x * 100 + 300, y), (xv * 100 + 300, yv))
    assert d.top.code == "inputs_unnormalized"
    big = x.clone()
    big[:, 5] *= 1000
    bigv = xv.clone()
    bigv[:, 5] *= 1000
    d = diagnose(mlp(), (big / big.std(), y), (bigv / big.std(), yv))  # globally scaled, one feature dominates
    assert d.top.code == "feature_scale" and d.top.where == "feature 5"


def test_validation_copied_from_training(data, healthy):
    (x, y), _ = data
    d = diagnose(mlp(), (x, y), (x[:50].clone(), y[:50].clone()))
    assert d.top.code == "duplicates_across_splits" and d.top.evidence["validation_fraction"] == 1.0
    assert "duplicates_across_splits" not in codes(healthy)


def test_class_imbalance_hides_behind_accuracy():
    g = torch.Generator().manual_seed(1)
    n = 600
    y = (torch.rand(n, generator=g) < 0.1).long() * torch.randint(1, 4, (n,), generator=g)  # 90 % class 0
    x = torch.randn(n, 8, generator=g) + 0.4 * F.one_hot(y, 8).float()  # the classes barely differ
    d = diagnose(mlp(), (x[:400], y[:400]), (x[400:], y[400:]))
    assert d.top.code == "class_imbalance" and d.top.prescription.edits == {"train.class_weights": "balanced"}
    assert d.scores["majority_rate"] > 0.8  # chance is the majority rate, not 1/4


def test_too_much_weight_decay(data, healthy):
    model = mlp()
    d = diagnose(model, *data, optimizer=torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=50.0))
    assert d.top.code == "over_regularization" and d.top.where == "weight_decay"
    assert d.top.prescription.direction == {"optim.weight_decay": "down"}
    assert not codes(d) & {"lr_too_low", "lr_too_high"} - {f.code for f in d.findings if f.explained_by}
    assert "over_regularization" not in codes(healthy)


def test_too_little_capacity(data, healthy):
    d = diagnose(mlp(width=2), *data)  # 2 units for 4 classes
    assert d.top.code in ("capacity_bottleneck", "underfitting_capacity")
    assert {"capacity_bottleneck"} <= codes(d)


def test_sgd_learning_rate_too_high(data, healthy):
    model = mlp()
    d = diagnose(model, *data, optimizer=torch.optim.SGD(model.parameters(), lr=20.0, momentum=0.9))
    assert d.top.code == "lr_too_high" and d.top.prescription.edits["optim.lr"] < 20
    assert "lr_too_high" not in codes(healthy)


class Bag(nn.Module):
    """Token ids → mean of embeddings → Linear: integer inputs the doctor must not treat as features."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.out = nn.Embedding(50, 16), nn.Linear(16, 4)

    def forward(self, x):
        return self.out(self.emb(x).mean(1))


def test_token_inputs_are_not_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 4
    x = (torch.randint(0, 10, (400, 6), generator=g) + 10 * y[:, None]).long()  # class-specific tokens
    loader = DataLoader(TensorDataset(x[:300], y[:300]), batch_size=32, shuffle=True, generator=g)
    val = DataLoader(TensorDataset(x[300:], y[300:]), batch_size=100)  # loaders keep the ids' dtype
    d = diagnose(Bag(), loader, val)
    assert "inputs_unnormalized" not in codes(d) and "feature_scale" not in codes(d)
    assert d.scores["val_accuracy"] > 0.9
