"""SnapshotCallback saves exactly after the cycle-end steps of CosineRestarts, the weights of then."""
import copy

import torch
from torch import nn

from trainwell.data import BatchLoader
from trainwell.ensemble.snapshot import SnapshotCallback, snapshot_steps
from trainwell.optim import CosineRestarts, LRScheduler, build_optimizer
from trainwell.train import Callback, Trainer, TrainerSettings


class RecordAll(Callback):
    def __init__(self):
        self.after = {}

    def on_batch_end(self, state):
        self.after[state.step - 1] = copy.deepcopy(state.model.state_dict())


def test_snapshots_at_cycle_ends_with_the_weights_of_those_steps():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 6, generator=g), torch.randint(0, 3, (64,), generator=g)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = build_optimizer(model, "momentum", lr=0.1)
    sched = CosineRestarts(cycles=3)
    total = 14
    ends = snapshot_steps(sched, total)
    assert ends == [4, 9, 13]  # ceil((k+1)·14/3) − 1
    snap, rec = SnapshotCallback(ends), RecordAll()
    loader = BatchLoader(x, y, 16, generator=torch.Generator().manual_seed(1))
    lr = LRScheduler(opt, sched, 0.1, total)
    Trainer(model, loader, opt, TrainerSettings(total_steps=total, eval_every=100), scheduler=lr, callbacks=[snap, rec]).fit()
    assert snap.taken_at == ends
    for step, saved in zip(ends, snap.snapshots):
        for k in saved:
            assert torch.equal(saved[k], rec.after[step][k])
    # the LR of a cycle-end step is the cycle's minimum (0 here)
    assert all(sched(e, total) == 0.0 for e in ends)
    assert len(snap.models(model)) == 3
    assert snapshot_steps(sched, total, keep_last=2) == [9, 13]
