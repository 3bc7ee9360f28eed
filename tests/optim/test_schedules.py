"""LR schedules: hand-computed tables, docstring formulas, torch references, boundaries, errors."""
import dataclasses
import inspect
import math
import textwrap

import pytest
import torch

from trainwell.errors import UserError
from trainwell.optim import (
    SCHEDULES,
    Constant,
    Cosine,
    CosineRestarts,
    Cyclic,
    Exponential,
    Linear,
    OneCycle,
    Schedule,
    Step,
    WithWarmup,
    build_schedule,
    with_warmup,
)

# ---------------------------------------------------------------- hand-computed tables

TABLES = [
    (Constant(), 4, [1, 1, 1, 1]),
    (Step(step_size=2, gamma=0.5), 6, [1, 1, 0.5, 0.5, 0.25, 0.25]),
    # step_size 0.25 of 8 steps = 2 steps
    (Step(step_size=0.25), 8, [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]),
    # milestones 0.5 of 8 = step 4, and step 6
    (Step(milestones=[0.5, 6]), 8, [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01]),
    (Exponential(gamma=0.5), 4, [1, 0.5, 0.25, 0.125]),
    (Exponential(final_factor=0.01), 3, [1, 0.1, 0.01]),
    (Cosine(), 3, [1, 0.5, 0]),
    # 0.1 + 0.9 (1 + cos(pi/4)) / 2 = 0.1 + 0.9 * 0.8535534 = 0.8681981
    (Cosine(min_factor=0.1), 5, [1, 0.8681981, 0.55, 0.2318019, 0.1]),
    (Linear(), 5, [1, 0.75, 0.5, 0.25, 0]),
    (Linear(start_factor=0.5, end_factor=1.0), 3, [0.5, 0.75, 1.0]),
    # peak at 0.5 * 5 - 1 = 1.5: up 0.1 -> 1 (slope 0.6/step), down to 0.01 over 2.5 steps
    (OneCycle(pct_start=0.5, div_factor=10, final_div_factor=10, anneal="linear"), 5,
     [0.1, 0.7, 0.802, 0.406, 0.01]),
    # peak at 0.3 * 10 - 1 = 2; cos rise: 0.04, 0.04 + 0.96/2 = 0.52, 1
    (OneCycle(), 10, [0.04, 0.52, 1.0]),
    # three phases: up to 1 at 0.25 * 8 - 1 = 1, back to 0.1 at 2 * 0.25 * 8 - 2 = 2, a line to 0.01 at 7
    (OneCycle(pct_start=0.25, div_factor=10, final_div_factor=10, anneal="linear", three_phase=True), 8,
     [0.1, 1.0, 0.1, 0.082, 0.064, 0.046, 0.028, 0.01]),
    # one step is the last step: the final factor 1 / 25 / 1e4, as torch's OneCycleLR gives it
    (OneCycle(), 1, [4e-6]),
    # pct_start * T = 1: the rise has length 0 and step 0 is the peak (torch divides 0 by 0 here)
    (OneCycle(pct_start=0.5, anneal="linear"), 2, [1.0, 4e-6]),
    (Cyclic(min_factor=0.2, cycle_steps=4), 10, [0.2, 0.6, 1, 0.6, 0.2, 0.6, 1, 0.6, 0.2, 0.6]),
    (Cyclic(min_factor=0.2, cycle_steps=4, mode="triangular2"), 10,
     [0.2, 0.6, 1, 0.6, 0.2, 0.4, 0.6, 0.4, 0.2, 0.3]),
    # 2 cycles of 8 steps -> L = 4
    (Cyclic(min_factor=0.1, cycles=2), 8, [0.1, 0.55, 1, 0.55, 0.1, 0.55, 1, 0.55]),
    (CosineRestarts(cycles=2), 6, [1, 0.5, 0, 1, 0.5, 0]),
    # 3 cycles of 7 steps start at ceil(0), ceil(7/3) = 3, ceil(14/3) = 5: lengths 3, 2, 2
    (CosineRestarts(cycles=3), 7, [1, 0.5, 0, 1, 0, 1, 0]),
    # cycles of 3 steps, last partial cycle of 1 step
    (CosineRestarts(cycle_steps=3, min_factor=0.2), 7, [1, 0.6, 0.2, 1, 0.6, 0.2, 1]),
    # linear warmup of 4 steps from 1/5 in steps of 1/5
    (with_warmup(Constant(), warmup_steps=4), 7, [0.2, 0.4, 0.6, 0.8, 1, 1, 1]),
    (with_warmup(Constant(), warmup_steps=2, mode="constant"), 4, [0.1, 0.1, 1, 1]),
    (with_warmup(Step(milestones=[3]), warmup_steps=2, mode="constant", start_factor=0.5), 5,
     [0.5, 0.5, 1, 0.1, 0.1]),
    # warmup ramp 1/4, 2/4, 3/4 times cosine over 9 steps (1, 0.9619398, 0.8535534, ...)
    (with_warmup(Cosine(), warmup_steps=3), 9, [0.25, 0.4809699, 0.6401650, 0.6913417, 0.5]),
    # warmup_fraction 0.25 of 8 -> floor(2.5) = 2 steps from 1/3
    (with_warmup(Linear(end_factor=0.3), warmup_fraction=0.25), 8, [1 / 3, 2 / 3 * 0.9, 0.8]),
]


@pytest.mark.parametrize("schedule,total,expected", TABLES, ids=[repr(s) for s, _, _ in TABLES])
def test_hand_computed_table(schedule, total, expected):
    got = [schedule(t, total) for t in range(len(expected))]
    assert got == pytest.approx(expected, abs=1e-7)


def test_warmup_fraction_rounds_half_up():
    s = with_warmup(Constant(), warmup_fraction=0.1)
    assert s.warmup_length(25) == 3  # floor(2.5 + 0.5)
    assert s.warmup_length(24) == 2  # floor(2.4 + 0.5)
    assert [s(t, 25) for t in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])


# ---------------------------------------------------------------- docstring formulas

def docstring_formula(schedule: Schedule) -> str:
    """The indented Python block after the 'Formula ...::' line of the class docstring."""
    lines = inspect.getdoc(type(schedule)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Formula") and line.endswith("::"))
    block = []
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip()


def eval_formula(schedule: Schedule, t: int, total: int) -> float:
    namespace = {f.name: getattr(schedule, f.name) for f in dataclasses.fields(schedule)}
    namespace.update(t=t, T=total, floor=math.floor, ceil=math.ceil, cos=math.cos, pi=math.pi)
    exec(docstring_formula(schedule), namespace)
    return namespace["factor"]


FORMULA_CASES = [
    Constant(),
    Step(step_size=3),
    Step(step_size=0.3, gamma=0.5),
    Step(milestones=[7, 0.5, 2], gamma=0.3),
    Exponential(gamma=0.9),
    Exponential(final_factor=0.02),
    Cosine(),
    Cosine(min_factor=0.2),
    Linear(),
    Linear(start_factor=0.8, end_factor=0.3),
    OneCycle(),
    OneCycle(pct_start=0.25, anneal="linear", div_factor=5, final_div_factor=100),
    OneCycle(pct_start=0.05),  # peak at or below step 0: starts near the top
    OneCycle(three_phase=True),
    OneCycle(pct_start=0.5, anneal="linear", div_factor=4, final_div_factor=3, three_phase=True),
    OneCycle(pct_start=0.05, three_phase=True),
    Cyclic(),
    Cyclic(min_factor=0.3, cycle_steps=6, mode="triangular2"),
    Cyclic(cycles=3),
    CosineRestarts(),
    CosineRestarts(cycles=3, min_factor=0.1),
    CosineRestarts(cycle_steps=5),
    with_warmup(Cosine(), warmup_steps=5),
    with_warmup(Step(milestones=[0.5]), warmup_fraction=0.2, mode="constant"),
    with_warmup(Linear(), warmup_steps=3, start_factor=0.5),
    with_warmup(CosineRestarts(cycles=2), warmup_steps=2, mode="constant", start_factor=0.3),
]


@pytest.mark.parametrize("schedule", FORMULA_CASES, ids=repr)
@pytest.mark.parametrize("total", [8, 20, 23])
def test_docstring_formula_matches_code(schedule, total):
    for t in range(total):
        assert schedule(t, total) == pytest.approx(eval_formula(schedule, t, total), abs=1e-12), t


@pytest.mark.parametrize("schedule", [s for s in FORMULA_CASES if isinstance(s, OneCycle)], ids=repr)
def test_onecycle_docstring_formula_on_short_runs(schedule):
    for total in range(1, 12):
        for t in range(total):
            assert schedule(t, total) == pytest.approx(eval_formula(schedule, t, total), abs=1e-12), (t, total)


def test_every_registered_schedule_documents_a_formula():
    for entry in SCHEDULES.entries():
        assert "Formula (Python, executed by the tests)::" in entry.constructor.__doc__, entry.name
    assert "Formula (Python, executed by the tests)::" in WithWarmup.__doc__


# ---------------------------------------------------------------- torch references

def torch_lrs(make_scheduler, total):
    """The lr torch's scheduler uses for each optimizer step 0..total-1, base lr 1 (float64 math)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


S = torch.optim.lr_scheduler
REFERENCES = [
    (Step(step_size=3, gamma=0.5), lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    (Step(milestones=[3, 7]), lambda o: S.MultiStepLR(o, milestones=[3, 7], gamma=0.1)),
    (Exponential(gamma=0.9), lambda o: S.ExponentialLR(o, gamma=0.9)),
    (Cosine(min_factor=0.1), lambda o: S.CosineAnnealingLR(o, T_max=19, eta_min=0.1)),
    (Linear(end_factor=0.2), lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=19)),
    (OneCycle(), lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20, cycle_momentum=False)),
    (OneCycle(pct_start=0.4, div_factor=10, final_div_factor=50, anneal="linear"),
     lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20, pct_start=0.4, div_factor=10,
                            final_div_factor=50, anneal_strategy="linear", cycle_momentum=False)),
    (Cyclic(min_factor=0.1, cycle_steps=6),
     lambda o: S.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=3, cycle_momentum=False)),
    (Cyclic(min_factor=0.2, cycles=4, mode="triangular2"),  # L = 5, half = 2.5 steps
     lambda o: S.CyclicLR(o, base_lr=0.2, max_lr=1.0, step_size_up=2.5, mode="triangular2",
                          cycle_momentum=False)),
]


@pytest.mark.parametrize("schedule,make", REFERENCES, ids=[repr(s) for s, _ in REFERENCES])
def test_matches_torch_scheduler(schedule, make):
    total = 20
    assert schedule.values(total) == pytest.approx(torch_lrs(make, total), abs=1e-9)


ONECYCLE_OPTIONS = [
    {},
    {"anneal": "linear"},
    {"div_factor": 10.0, "final_div_factor": 50.0},
    {"div_factor": 3.0, "final_div_factor": 7.0, "anneal": "linear"},
]


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("options", ONECYCLE_OPTIONS, ids=repr)
def test_onecycle_matches_torch_for_every_length(options, three_phase):
    """Every length 1..50 and several pct_start (incl. pct_start * T < 1 and == 1), within 1e-12 relative.

    Where torch divides 0 by 0 (a rise of length 0: pct_start * T == 1) its scheduler raises at
    construction; there the value at step 0 is the peak (documented), the rest is checked against
    the formula test above."""
    pcts = [0.02, 0.05, 0.1, 0.25, 0.3, 0.37, 0.45, 0.5] + ([] if three_phase else [0.7, 0.95])
    compared = undefined = 0
    for pct in pcts:
        schedule = OneCycle(pct_start=pct, three_phase=three_phase, **options)
        torch_options = {("anneal_strategy" if k == "anneal" else k): v for k, v in options.items()}
        for total in range(1, 51):
            try:
                ref = torch_lrs(lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=total, pct_start=pct,
                                                       three_phase=three_phase, cycle_momentum=False,
                                                       **torch_options), total)
            except ZeroDivisionError:
                assert pct * total == 1.0
                assert schedule(0, total) == 1.0
                undefined += 1
                continue
            ours = schedule.values(total)
            for t, (a, b) in enumerate(zip(ours, ref)):
                assert abs(a - b) <= 1e-12 * abs(b), (pct, total, t, a, b)
            compared += 1
    assert compared >= 50 * len(pcts) - 10 and undefined >= 3  # pct_start * T == 1 for 0.02/50, 0.05/20, ...


# ---------------------------------------------------------------- boundaries and invariants

@pytest.mark.parametrize("total", [10, 20, 37])
def test_onecycle_boundaries(total):
    s = OneCycle(pct_start=0.3, div_factor=25, final_div_factor=1e4)
    values = s.values(total)
    peak = 0.3 * total - 1
    assert values[0] == pytest.approx(1 / 25)
    assert values[-1] == pytest.approx(1 / 25 / 1e4)
    assert max(values) <= 1.0
    top = max(range(total), key=values.__getitem__)
    assert abs(top - peak) < 1  # the largest factor is at the step nearest the peak
    if float(peak).is_integer():
        assert values[int(peak)] == pytest.approx(1.0)
    rising, falling = values[: top + 1], values[top:]
    assert all(a < b for a, b in zip(rising, rising[1:]))
    assert all(a > b for a, b in zip(falling, falling[1:]))


def test_cyclic_boundaries():
    s = Cyclic(min_factor=0.25, cycle_steps=8)
    for k in range(4):
        assert s(8 * k, 40) == pytest.approx(0.25)  # each cycle starts at the bottom
        assert s(8 * k + 4, 40) == pytest.approx(1.0)  # and peaks at its middle
    s2 = Cyclic(min_factor=0.25, cycle_steps=8, mode="triangular2")
    for k in range(4):
        assert s2(8 * k + 4, 40) == pytest.approx(0.25 + 0.75 * 0.5**k)
        assert s2(8 * k, 40) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "schedule,total,ends",
    [
        (CosineRestarts(cycles=4), 20, [4, 9, 14, 19]),
        (CosineRestarts(cycles=3), 7, [2, 4, 6]),
        (CosineRestarts(cycle_steps=6), 20, [5, 11, 17]),  # the partial cycle 18-19 is left out
        (with_warmup(CosineRestarts(cycles=2), warmup_steps=2), 10, [4, 9]),
    ],
)
def test_cosine_restarts_cycle_ends(schedule, total, ends):
    assert schedule.cycle_ends(total) == ends
    inner = schedule.schedule if isinstance(schedule, WithWarmup) else schedule
    for e in ends:
        assert schedule(e, total) == pytest.approx(inner.min_factor)
        if e + 1 < total:
            assert schedule(e + 1, total) == pytest.approx(1.0)  # warm restart


def test_cycle_ends_refused_without_cycles():
    with pytest.raises(UserError, match="no cycles"):
        with_warmup(Cosine(), warmup_steps=2).cycle_ends(10)


def test_warmup_multiplies_the_schedule_and_is_continuous():
    inner = Cosine(min_factor=0.05)
    s = with_warmup(inner, warmup_steps=10)
    total = 50
    for t in range(total):
        ramp = (t + 1) / 11 if t < 10 else 1.0
        assert s(t, total) == pytest.approx(ramp * inner(t, total))
    ramps = [s.ramp(t, total) for t in range(12)]
    steps = [b - a for a, b in zip(ramps, ramps[1:11])]
    assert steps == pytest.approx([1 / 11] * 10)  # equal increments, reaching 1 at step W


@pytest.mark.parametrize("schedule", FORMULA_CASES, ids=repr)
def test_past_the_end_holds_last_value_and_factors_are_positive(schedule):
    total = 20
    values = schedule.values(total)
    assert schedule(total + 7, total) == values[-1]
    assert all(v >= 0 for v in values) and max(values) <= 1.0 + 1e-12


@pytest.mark.parametrize("schedule", FORMULA_CASES, ids=repr)
def test_spec_round_trip(schedule):
    rebuilt = build_schedule(schedule.spec())
    assert rebuilt == schedule
    assert repr(rebuilt) == repr(schedule)
    assert rebuilt.values(20) == schedule.values(20)


def test_single_step_run():
    for s in (Constant(), Cosine(), Linear(), Exponential(final_factor=0.1), Step(step_size=0.5)):
        assert s(0, 1) == 1.0


# ---------------------------------------------------------------- build_schedule and errors

def test_build_schedule_reads_warmup_keys():
    s = build_schedule({"name": "cosine", "min_factor": 0.01, "warmup_fraction": 0.05})
    assert s == with_warmup(Cosine(min_factor=0.01), warmup_fraction=0.05)
    s = build_schedule({"name": "step", "milestones": [0.5], "warmup_steps": 3, "warmup": "constant",
                        "warmup_start_factor": 0.2})
    assert s.values(10)[:4] == pytest.approx([0.2, 0.2, 0.2, 1.0])
    assert build_schedule({"name": "linear", "warmup": "none"}) == Linear()
    assert build_schedule("onecycle") == OneCycle()
    assert build_schedule(Cosine()) == Cosine()


@pytest.mark.parametrize(
    "spec,words",
    [
        ("cosin", ['did you mean "cosine"']),
        ({"name": "cosine", "min_facter": 0.1}, ["min_facter", 'did you mean "min_factor"']),
        ({"name": "cosine", "min_factor": 1.5}, ["min_factor", "1.5"]),
        ("step", ["step_size", "milestones"]),
        ({"name": "step", "step_size": 10, "milestones": [3]}, ["exactly one"]),
        ({"name": "step", "step_size": 1.5}, ["step_size", "fraction"]),
        ({"name": "step", "milestones": [3, "x"]}, ["milestones[1]"]),
        ("exponential", ["gamma", "final_factor"]),
        ({"name": "exponential", "gamma": 1.5}, ["gamma"]),
        ({"name": "onecycle", "pct_start": 1.0}, ["pct_start"]),
        ({"name": "onecycle", "anneal": "cosine"}, ["anneal", '"cos"']),
        ({"name": "onecycle", "three_phase": True, "pct_start": 0.6}, ["three_phase", "pct_start <= 0.5", "0.6"]),
        ({"name": "onecycle", "three_phase": "yes"}, ["three_phase", "true or false"]),
        ({"name": "cyclic", "mode": "triangle"}, ["mode"]),
        ({"name": "cyclic", "cycles": 2, "cycle_steps": 10}, ["not both"]),
        ({"name": "cosine_restarts", "cycles": 0}, ["cycles", ">= 1"]),
        ({"name": "cosine", "warmup": "constant"}, ["warmup_steps", "warmup_fraction"]),
        ({"name": "cosine", "warmup": "gradual", "warmup_steps": 3}, ["warmup mode"]),
        ({"name": "cosine", "warmup_steps": 2.5}, ["warmup_steps"]),
        ({"name": "cosine", "warmup_fraction": 1.0}, ["warmup_fraction"]),
    ],
)
def test_bad_specs_raise_user_error_naming_the_key(spec, words):
    with pytest.raises(UserError) as err:
        build_schedule(spec)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    "schedule,step,total,words",
    [
        (Cosine(), -1, 10, ["step", ">= 0"]),
        (Cosine(), 0, 0, ["total_steps", ">= 1"]),
        (Cosine(), 1.5, 10, ["step", "integer"]),
        (with_warmup(Cosine(), warmup_steps=10), 0, 10, ["warmup", "10"]),
        (Cyclic(cycles=4), 0, 6, ["cycles=4", "8"]),
        (CosineRestarts(cycles=5), 0, 4, ["cycles=5"]),
    ],
)
def test_bad_positions_raise_user_error(schedule, step, total, words):
    with pytest.raises(UserError) as err:
        schedule(step, total)
    for word in words:
        assert word in str(err.value)


def test_numpy_and_tensor_integer_steps_accepted():
    import numpy as np

    s = Linear()
    assert s(np.int64(2), 5) == 0.5
    assert s(torch.tensor(2), torch.tensor(5)) == 0.5
