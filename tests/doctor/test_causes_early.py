"""Causal order (pure) and the early verdicts for pruning a search (pure)."""
from __future__ import annotations

import math

import pytest

from trainwell.doctor.causes import EXPLAINS, ORDER, arrange, top
from trainwell.doctor.early import hopeless
from trainwell.doctor.finding import Finding, Prescription


def f(code, severity="warn", direction=None, **evidence):
    p = Prescription("x", direction=direction) if direction else None
    return Finding(code, severity, code, evidence, prescription=p)


def test_cause_first_symptoms_under_it():
    out = arrange([f("lr_too_high", direction={"optim.lr": "down"}), f("dead_units", when="end"),
                   f("inputs_unnormalized"), f("initial_loss", "pass"), f("overfitting", "info")])
    assert (out[0].code, out[0].explained_by) == ("inputs_unnormalized", None)
    assert {(x.code, x.explained_by) for x in out[1:3]} == {("lr_too_high", "inputs_unnormalized"),
                                                             ("dead_units", "inputs_unnormalized")}
    assert [(x.code, x.explained_by) for x in out[3:]] == [("overfitting", None), ("initial_loss", None)]
    assert top(out).code == "inputs_unnormalized"


def test_never_two_opposite_prescriptions():
    # weight decay 10: the regularization explains an LR verdict either way
    out = arrange([f("lr_too_low", direction={"optim.lr": "up"}), f("over_regularization")])
    assert top(out).code == "over_regularization" and out[1].explained_by == "over_regularization"
    # two unrelated causes that pull one key in opposite directions: only the first keeps its prescription
    a = f("clipping_every_step", direction={"optim.lr": "up"})
    b = f("lr_too_high", direction={"optim.lr": "down"})
    out = arrange([b, a])
    roots = [x for x in out if x.problem and x.explained_by is None]
    assert [x.code for x in roots] == ["clipping_every_step"]


def test_end_only_findings_explain_nothing():
    out = arrange([f("dead_units", when="end"), f("lr_too_high")])
    assert top(out).code == "lr_too_high" and out[1].explained_by == "lr_too_high"
    alone = arrange([f("dead_units", when="end")])
    assert top(alone).code == "dead_units"  # nothing else found: it is what there is


def test_mutual_explanations_follow_the_order_and_cycles_break():
    out = arrange([f("activations_saturated"), f("activations_collapsed")])
    assert top(out).code == ORDER[min(ORDER.index("activations_saturated"), ORDER.index("activations_collapsed"))]
    assert all(code in ORDER for code in EXPLAINS)


def test_hopeless_verdicts():
    train = lambda *losses: [{"split": "train", "step": 10 * (i + 1), "loss": l} for i, l in enumerate(losses)]  # noqa: E731
    assert hopeless(train(2.3, 2.0, 1.5), budget_steps=100, majority_rate=0.1) is None
    assert hopeless(train(2.3, math.nan), budget_steps=100, majority_rate=0.1).startswith("diverged")
    assert hopeless(train(2.30, 2.29, 2.28), budget_steps=100, majority_rate=0.1).startswith("not learning")
    assert hopeless(train(2.30, 2.29), budget_steps=100, majority_rate=0.1) is None  # too early (20 % < 25 %)
    val = [{"split": "val", "step": 60, "accuracy": 0.52}]
    recs = train(2.3, 2.0, 1.5) + val
    # chance is the majority rate: 0.5 + 3·√(0.25/400) = 0.575 ≥ 0.52
    assert hopeless(recs, budget_steps=100, majority_rate=0.5, n_val=400).startswith("at chance")
    assert hopeless(recs, budget_steps=100, majority_rate=0.1, n_val=400) is None
    assert hopeless(recs, budget_steps=100, majority_rate=0.51).startswith("at chance")  # no n_val: 2 points
    stats = [{"step": 20, "phase": "train", "layers": [{"name": "act1", "dead_frac": 0.97}]}]
    assert hopeless(train(2.3, 2.0), budget_steps=100, majority_rate=None, stats=stats).startswith("dead units")
    with pytest.raises(ValueError):
        hopeless([], budget_steps=0, majority_rate=None)
