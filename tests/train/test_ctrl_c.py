"""Ctrl-C (a real SIGINT) while the Trainer trains into a run directory: the step under way finishes
and last.pt is written for it; a second Ctrl-C stops at once; without a run directory (nothing to
write) and outside the main thread's default handler nothing is installed."""
import os
import signal

import pytest
import torch
from torch import nn

from trainwell.data import BatchLoader
from trainwell.train import Callback, Trainer, TrainerSettings, load_checkpoint


def make(run_dir, callbacks):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g), torch.randint(0, 2, (64,), generator=g)
    model = nn.Linear(4, 2)
    loader = BatchLoader(x, y, 16, generator=torch.Generator().manual_seed(1))
    settings = TrainerSettings(total_steps=40, eval_every=10, run_dir=run_dir, checkpoint_seconds=3600)
    return Trainer(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), settings, callbacks=callbacks)


class Interrupt(Callback):
    def __init__(self, at, times):
        self.at, self.times = at, times

    def on_batch_start(self, state):
        if state.step == self.at:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(autouse=True)
def python_sigint():
    """Python's own SIGINT handler while the test runs (a pytest-xdist worker may ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the Trainer put it back
    signal.signal(signal.SIGINT, previous)


def test_one_ctrl_c_finishes_the_step_and_checkpoints_it(tmp_path):
    with pytest.raises(KeyboardInterrupt, match="after step 13"):
        make(tmp_path, [Interrupt(12, 1)]).fit()
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 13


def test_a_second_ctrl_c_stops_at_once_without_a_checkpoint(tmp_path):
    with pytest.raises(KeyboardInterrupt) as info:
        make(tmp_path, [Interrupt(12, 2)]).fit()
    assert "after step" not in str(info.value)
    assert not (tmp_path / "last.pt").exists()  # checkpoints go by the clock (1 h): none was due


def test_without_a_run_directory_ctrl_c_is_plain(tmp_path):
    with pytest.raises(KeyboardInterrupt) as info:
        make(None, [Interrupt(12, 1)]).fit()
    assert "after step" not in str(info.value)
