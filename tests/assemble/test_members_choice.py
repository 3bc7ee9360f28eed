"""`train_members(engine="auto")` follows `choose_engine`'s rule and says why, both ways."""
import torch

from trainwell.assemble import prepare, train_members
from trainwell.config import recipe_from_dict
from trainwell.vectorized import choose_engine

MLP = {"name": "tiny", "data": {"name": "mnist1d", "preprocess": ["standardize"], "train_subset": 200},
       "model": {"name": "mlp", "widths": [16]}, "optim": {"name": "adam", "lr": 3e-3},
       "train": {"steps": 4, "batch_size": 32, "checkpoint": False}}
CONV = {**MLP, "model": {"name": "convnet", "channels": [4], "kernel": 3, "pool": ["max"], "norm": "none"}}


def _members(raw, k):
    base = recipe_from_dict(raw, "t")
    return [base.model_copy(update={"seed": s}) for s in range(k)], base


def test_auto_vectorizes_an_mlp_on_a_cpu_and_gives_the_rule():
    recipes, base = _members(MLP, 3)
    data, device = prepare(base)
    r = train_members(recipes, data, torch.device("cpu"))
    assert r.engine == "vectorized (mlp)" and r.reasons == []
    assert "without convolutions" in r.decision and "K = 3" in r.decision and r.decision.startswith("3 member(s)")


def test_auto_trains_a_convnet_on_a_cpu_one_by_one_and_vectorized_still_can():
    recipes, base = _members(CONV, 2)
    data, _ = prepare(base)
    cpu = torch.device("cpu")
    auto = train_members(recipes, data, cpu)
    assert auto.engine == "one by one (Trainer)" and "ConvNet on a CPU" in auto.decision
    assert auto.reasons == [choose_engine(auto.models[0], 2, cpu, 32).reason]  # the rule's own sentence
    forced = train_members(recipes, data, cpu, engine="vectorized")  # asked for: no speed veto
    assert forced.engine == "vectorized (batched)" and "asked for" in forced.decision
    one = train_members(recipes, data, cpu, engine="one_by_one")
    assert one.reasons == [] and "asked for" in one.decision


def test_a_single_member_is_not_batched():
    recipes, base = _members(MLP, 1)
    data, _ = prepare(base)
    r = train_members(recipes, data, torch.device("cpu"))
    assert r.engine == "one by one (Trainer)" and "nothing to batch" in r.decision
