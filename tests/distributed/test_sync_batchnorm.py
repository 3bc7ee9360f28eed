"""trainwell's CPU SyncBatchNorm in 2 gloo processes == BatchNorm of one process over the whole batch.

Reference: torch's BatchNorm1d in float64 on the 8×3×5 batch of both processes together (channel
1 has mean 50 and std 3: the one-pass combination of the per-process moments must keep it exact).
Each process holds 4 examples; its outputs and input gradients must equal the reference rows, its
weight/bias gradients are its share, the two summing to the reference (the objective here is a sum
over all examples; in a DDP run, with each process's mean loss, DDP's average of the shares is the
gradient of the global mean), and the running statistics after two steps must be the reference's
(unbiased variance over all 40 values a channel). Tolerance 1e-10 (float64).
"""
import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from trainwell.nn.kinds import is_batchnorm
from trainwell.train.sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm


def _batch():
    spec = importlib.util.spec_from_file_location("dp_worker", Path(__file__).parent / "worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.batch()


def reference():
    x, g = _batch()
    layer = nn.BatchNorm1d(3, momentum=0.3).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    out = {}
    for step in range(2):
        xi = (x + step).requires_grad_(True)
        layer.weight.grad = layer.bias.grad = None
        y = layer(xi)
        (y * g).sum().backward()
        out[step] = {"y": y.detach(), "dx": xi.grad, "dw": layer.weight.grad.clone(), "db": layer.bias.grad.clone()}
    return out, layer.running_mean, layer.running_var


@pytest.mark.slow
def test_two_gloo_processes_match_batchnorm_on_the_whole_batch(tmp_path, ddp):
    ddp.run_group("syncbn", tmp_path / "out")
    ranks = [torch.load(tmp_path / f"out.{r}") for r in range(2)]
    ref, running_mean, running_var = reference()
    close = dict(rtol=1e-10, atol=1e-10)
    for step in range(2):
        for key in ("y", "dx"):
            torch.testing.assert_close(torch.cat([r[step][key] for r in ranks]), ref[step][key], **close)
        for key in ("dw", "db"):  # each process's share; DDP's average ×N is their sum
            torch.testing.assert_close(ranks[0][step][key] + ranks[1][step][key], ref[step][key], **close)
            assert not torch.allclose(ranks[0][step][key], ref[step][key])  # a share, not the whole
    for r in ranks:
        torch.testing.assert_close(r["running_mean"], running_mean, **close)
        torch.testing.assert_close(r["running_var"], running_var, **close)
    assert ranks[0]["gathered"] == [{"rank": 0}, {"rank": 1}] and ranks[1]["gathered"] is None  # gather_to_main


def test_outside_a_process_group_it_is_batchnorm():
    x, _ = _batch()
    plain = nn.BatchNorm1d(3).double()
    sync = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm1d(3).double()))[0]
    assert isinstance(sync, SyncBatchNorm) and is_batchnorm(sync)
    torch.testing.assert_close(sync(x), plain(x))
    torch.testing.assert_close(sync.running_var, plain.running_var)
    sync.eval(), plain.eval()
    torch.testing.assert_close(sync(x), plain(x))


def test_conversion_keeps_the_parameters_buffers_and_keys():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Sequential(nn.BatchNorm1d(4)))
    params = [id(p) for p in model.parameters()]
    keys = list(model.state_dict())
    buffer = model[1].running_mean
    converted = convert_sync_batchnorm(model)
    assert converted is model and isinstance(model[1], SyncBatchNorm) and isinstance(model[3][0], SyncBatchNorm)
    assert [id(p) for p in model.parameters()] == params  # an optimizer built before stays valid
    assert list(model.state_dict()) == keys and model[1].running_mean is buffer
    root = convert_sync_batchnorm(nn.BatchNorm2d(2))
    assert isinstance(root, SyncBatchNorm)
