"""LRScheduler writes base_lr * factor * lr_scale into each group and resumes exactly."""
import io

import pytest
import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.optim import Cosine, LRScheduler, Step, build_optimizer, build_schedule, with_warmup


def make_optimizer():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    return build_optimizer(model, "momentum", lr=0.5, weight_decay=1e-4, lr_scales={"1": 0.1})


def test_set_writes_scaled_lrs_and_returns_unscaled():
    opt = make_optimizer()
    sched = LRScheduler(opt, Step(milestones=[2, 4], gamma=0.5), base_lr=0.4, total_steps=6)
    expected = [0.4, 0.4, 0.2, 0.2, 0.1, 0.1]  # hand-computed
    for step, lr_expected in enumerate(expected):
        lr = sched.set(step)
        assert lr == pytest.approx(lr_expected)
        for g in opt.param_groups:
            scale = 0.1 if g["name"].startswith("1/") else 1.0
            assert g["lr"] == pytest.approx(lr_expected * scale)
    assert sched.step == 5 and sched.lr == pytest.approx(0.1)


def test_groups_without_lr_scale_use_one_and_specs_are_accepted():
    w = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=1.0)
    sched = LRScheduler(opt, {"name": "linear", "end_factor": 0.5}, base_lr=2.0, total_steps=3)
    assert [sched.set(t) for t in range(3)] == pytest.approx([2.0, 1.5, 1.0])
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)


def test_training_steps_use_the_lr_that_was_set():
    """SGD without momentum: w moves by exactly lr * g at each step, with lr from the schedule."""
    w = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = build_optimizer(nn.ParameterDict({"w": w}), "sgd", lr=1.0)
    sched = LRScheduler(opt, Cosine(), base_lr=1.0, total_steps=3)  # factors 1, 0.5, 0
    positions = []
    for t in range(3):
        sched.set(t)
        opt.zero_grad()
        (-w).sum().backward()  # g = -1
        opt.step()
        positions.append(w.item())
    assert positions == pytest.approx([1.0, 1.5, 1.5])


def test_state_round_trip_restores_position_and_lrs():
    opt = make_optimizer()
    schedule = with_warmup(Cosine(min_factor=0.1), warmup_steps=3)
    sched = LRScheduler(opt, schedule, base_lr=0.3, total_steps=20)
    sched.set(7)
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state == {"step": 7, "base_lr": 0.3, "total_steps": 20, "schedule": repr(schedule)}

    opt2 = make_optimizer()
    resumed = LRScheduler(opt2, build_schedule(schedule.spec()), base_lr=0.3, total_steps=20)
    resumed.load_state_dict(state)
    assert resumed.step == 7 and resumed.lr == sched.lr
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    assert resumed.set(8) == sched.set(8)


def test_fresh_state_round_trip():
    sched = LRScheduler(make_optimizer(), "cosine", base_lr=0.1, total_steps=5)
    state = sched.state_dict()
    assert state["step"] is None
    other = LRScheduler(make_optimizer(), "cosine", base_lr=0.1, total_steps=5)
    other.set(3)
    other.load_state_dict(state)
    assert other.step is None and other.lr is None


@pytest.mark.parametrize(
    "key,value", [("base_lr", 0.2), ("total_steps", 50), ("schedule", "linear(end_factor=0.0, start_factor=1.0)")]
)
def test_checkpoint_of_another_run_is_refused(key, value):
    sched = LRScheduler(make_optimizer(), "cosine", base_lr=0.1, total_steps=5)
    state = {"step": 2, "base_lr": 0.1, "total_steps": 5, "schedule": "cosine(min_factor=0.0)"}
    sched.load_state_dict(state)  # the matching state loads
    state[key] = value
    with pytest.raises(UserError, match=key):
        sched.load_state_dict(state)


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"base_lr": 0.0}, ["base_lr"]),
        ({"total_steps": 0}, ["total_steps"]),
        ({"schedule": {"name": "cosine", "warmup_steps": 10}}, ["warmup", "total_steps=10"]),
        ({"schedule": "cosin"}, ['did you mean "cosine"']),
    ],
)
def test_bad_construction_fails_early(kwargs, words):
    args = {"schedule": "cosine", "base_lr": 0.1, "total_steps": 10, **kwargs}
    with pytest.raises(UserError) as err:
        LRScheduler(make_optimizer(), **args)
    for word in words:
        assert word in str(err.value)


def test_bad_step_and_optimizer():
    sched = LRScheduler(make_optimizer(), "cosine", base_lr=0.1, total_steps=10)
    with pytest.raises(UserError, match="step"):
        sched.set(-1)
    with pytest.raises(UserError, match="Optimizer"):
        LRScheduler([nn.Parameter(torch.zeros(1))], "cosine", 0.1, 10)
