"""SWA = mean of the weights from the start step; EMA recursion; BN recompute = BN stats of the data."""
import pytest
import torch
from torch import nn

from trainwell.data import BatchLoader
from trainwell.train.ema import WeightAverage, recompute_bn_stats
from trainwell.train.swa import SWACallback
from trainwell.errors import UserError
from trainwell.optim import build_optimizer
from trainwell.train import Callback, Trainer, TrainerSettings


class RecordParams(Callback):
    def __init__(self):
        self.after = []

    def on_batch_end(self, state):
        self.after.append([p.detach().clone() for p in state.model.parameters()])


def _fit(callbacks, total=12):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 5, generator=g), torch.randint(0, 3, (48,), generator=g)
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    opt = build_optimizer(model, "sgd", lr=0.2)
    loader = BatchLoader(x, y, 12, generator=torch.Generator().manual_seed(1))
    Trainer(model, loader, opt, TrainerSettings(total_steps=total, eval_every=100), callbacks=callbacks).fit()
    return model


def test_swa_is_the_mean_of_the_weights_from_the_start_fraction():
    swa, rec = SWACallback(start_fraction=0.5), RecordParams()
    _fit([swa, rec], total=12)
    assert swa.start == 6 and swa.averaged_steps == list(range(6, 12))
    for i, p in enumerate(swa.average.model.parameters()):
        expected = torch.stack([rec.after[s][i] for s in range(6, 12)]).mean(0)
        torch.testing.assert_close(p, expected, rtol=1e-6, atol=1e-7)


def test_ema_weights_hand_recursion_exact():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    wa = WeightAverage(model, decay=0.5)
    expected = None
    for t, w in enumerate([1.0, 2.0, 4.0, 8.0]):
        with torch.no_grad():
            model.weight.fill_(w)
        wa.update(model)
        if t == 0:
            expected = w  # the first update copies the weights (torch.optim.swa_utils.AveragedModel)
        else:
            d = min(0.5, (1 + t) / (10 + t))
            expected = d * expected + (1 - d) * w
        assert wa.model.weight.item() == pytest.approx(expected)
    assert wa.updates == 4


def test_uniform_average_is_the_plain_mean():
    model = nn.Linear(1, 1, bias=False)
    wa = WeightAverage(model, decay=None)
    for w in [3.0, 5.0, 10.0]:
        with torch.no_grad():
            model.weight.fill_(w)
        wa.update(model)
    assert wa.model.weight.item() == pytest.approx(6.0)


def test_recompute_bn_stats_gives_the_statistics_of_the_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 5), nn.BatchNorm1d(5))
    x = torch.randn(64, 4) * 3 + 1
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.fill_(7.0)
                m.running_var.fill_(9.0)
        h1 = model[0](x)
        mean1, var1 = h1.mean(0), h1.var(0, unbiased=True)
        z = (h1 - mean1) / torch.sqrt(h1.var(0, unbiased=False) + 1e-5) * model[1].weight + model[1].bias
        h2 = model[3](torch.relu(z))
        mean2, var2 = h2.mean(0), h2.var(0, unbiased=True)
    model.eval()
    recompute_bn_stats(model, x, batch_size=64)
    assert not model.training  # mode restored
    torch.testing.assert_close(model[1].running_mean, mean1, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model[1].running_var, var1, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model[4].running_mean, mean2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model[4].running_var, var2, rtol=1e-5, atol=1e-5)
    assert model[1].momentum == 0.1  # restored


def test_recompute_bn_stats_mean_over_equal_batches():
    torch.manual_seed(1)
    model = nn.Sequential(nn.BatchNorm1d(3))
    x = torch.randn(40, 3) + 2
    recompute_bn_stats(model, x, batch_size=10)
    torch.testing.assert_close(model[0].running_mean, x.mean(0), rtol=1e-5, atol=1e-6)


def test_swa_refuses_bad_settings_and_reports_no_average():
    with pytest.raises(UserError):
        SWACallback(start_fraction=1.0)
    swa = SWACallback(start_fraction=0.9)
    with pytest.raises(UserError, match="averaged no weights"):
        swa.averaged_model(torch.zeros(1, 5))
