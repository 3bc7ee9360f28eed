"""Batch sources sharded across processes: DistributedSampler semantics, global batch, resume with any N.

For N processes and a global batch B, the N shards of step i must together be exactly batch i of
one process with batch B (so a data-parallel run sees the single-process run's batches), every
example must be served once an epoch, every process must take the same number of steps, and the
saved position must restore the same next batches whatever N the run resumes with.
"""
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from trainwell.data import BatchLoader
from trainwell.data.adapt import as_source
from trainwell.errors import UserError

N_EXAMPLES, GLOBAL = 53, 12  # 4 steps an epoch, 5 examples dropped


def sources(world: int, kind: str = "tensors", seed: int = 5):
    x = torch.arange(N_EXAMPLES, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(N_EXAMPLES)
    data = (x, y) if kind == "tensors" else TensorDataset(x, y)
    return [as_source(data, batch_size=GLOBAL, device=torch.device("cpu"), seed=seed,
                      shard=None if world == 1 else (r, world)) for r in range(world)]


def step(shards) -> list[int]:
    return sorted(int(v) for s in shards for v in s.next_batch()[1])


@pytest.mark.parametrize("kind", ["tensors", "dataset"])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_shards_of_a_step_are_the_single_process_batch(kind, world):
    (single,), shards = sources(1, kind), sources(world, kind)
    assert all(len(s) == len(single) == N_EXAMPLES // GLOBAL for s in shards)
    for epoch in range(2):
        seen = []
        for _ in range(len(single)):
            batches = [s.next_batch()[1].tolist() for s in shards]
            assert all(len(b) == GLOBAL // world for b in batches)
            assert sorted(v for b in batches for v in b) == sorted(single.next_batch()[1].tolist())
            seen += [v for b in batches for v in b]
        assert len(seen) == len(set(seen)) == len(single) * GLOBAL  # each example at most once an epoch


def test_rank_r_takes_what_torchs_distributed_sampler_gives_it():
    """Over an epoch, rank r serves the examples torch's DistributedSampler (drop_last) gives rank r
    of the same permutation, in its order (up to the last incomplete per-process batch)."""
    for r, shard in enumerate(sources(3)):
        served = [int(v) for _ in range(len(shard)) for v in shard.next_batch()[1]]
        perm = shard.state_dict()["order"]
        sampler = DistributedSampler(range(N_EXAMPLES), num_replicas=3, rank=r, shuffle=False, drop_last=True)
        assert served == perm[list(sampler)].tolist()[:len(served)]
        assert len(served) == len(shard) * GLOBAL // 3


@pytest.mark.parametrize("kind", ["tensors", "dataset"])
@pytest.mark.parametrize("saved_world, resumed_world", [(2, 1), (1, 3), (2, 4), (3, 3)])
def test_a_saved_position_resumes_with_any_number_of_processes(kind, saved_world, resumed_world):
    (reference,) = sources(1, kind)
    expected = [step([reference]) for _ in range(7)]  # 7 global steps: into the second epoch
    saved = sources(saved_world, kind)
    for i in range(5):
        assert step(saved) == expected[i]
    state = saved[0].state_dict()
    assert state["position"] == 1 * GLOBAL  # 5 steps = one epoch of 4 + 1 batch of the second
    resumed = sources(resumed_world, kind, seed=999)  # another seed: everything comes from the state
    for s in resumed:
        s.load_state_dict(state)
    assert [step(resumed) for _ in range(2)] == expected[5:7]


def test_a_batch_not_divisible_by_the_processes_is_a_clear_error():
    with pytest.raises(UserError, match=r"batch_size = 12 is the global batch of all 5 processes.*divisible by 5"):
        as_source((torch.zeros(40, 1), torch.zeros(40)), batch_size=12, device=torch.device("cpu"), seed=0,
                  shard=(0, 5))
    with pytest.raises(UserError, match="whole batches"):
        BatchLoader(torch.zeros(40, 1), torch.zeros(40), 12, drop_last=False, shuffle=False, rank=0, world_size=2)


def test_a_dataloader_must_bring_its_own_distributed_sampler():
    data = TensorDataset(torch.zeros(40, 1), torch.zeros(40))
    with pytest.raises(UserError, match="DistributedSampler"):
        as_source(DataLoader(data, batch_size=4), batch_size=8, device=torch.device("cpu"), seed=0, shard=(1, 2))
    sampler = DistributedSampler(data, num_replicas=2, rank=1, shuffle=False)
    source = as_source(DataLoader(data, batch_size=4, sampler=sampler), batch_size=8, device=torch.device("cpu"),
                       seed=0, shard=(1, 2))
    assert source.shard == (1, 2) and len(source) == 5


def test_one_process_state_is_the_same_as_before_sharding_existed():
    """A checkpoint from before (order + cursor, no position) still resumes one process exactly."""
    (a,) = sources(1)
    for _ in range(2):
        a.next_batch()
    state = a.state_dict()
    old = {"generator": state["generator"], "order": state["order"], "cursor": state["cursor"]}
    (b,) = sources(1, seed=1)
    b.load_state_dict(old)
    assert step([a]) == step([b])


@pytest.mark.parametrize("kind", ["tensors", "arrays", "dataset"])
def test_validation_shards_cover_every_example_once(kind):
    from trainwell.train.distributed import Processes, shard_val, sum_

    x, y = torch.arange(10, dtype=torch.float32).unsqueeze(1), torch.arange(10)
    val = {"tensors": (x, y), "arrays": (x.numpy(), y.numpy()), "dataset": TensorDataset(x, y)}[kind]
    seen = []
    for r in range(3):
        shard, reduce = shard_val(val, Processes(r, 3, r, "gloo"), torch.device("cpu"))
        assert reduce is sum_
        seen += [int(item[1]) for item in shard] if kind == "dataset" else shard[1].tolist()
    assert seen == list(range(10))


def test_a_validation_dataloader_is_scored_whole_by_every_process():
    from trainwell.train.distributed import Processes, shard_val

    loader = DataLoader(TensorDataset(torch.zeros(10, 1), torch.zeros(10)), batch_size=4)
    assert shard_val(loader, Processes(1, 2, 1, "gloo"), torch.device("cpu")) == (loader, None)
