"""The transfer demo's tasks: digits 0–4 vs 5–9 (relabelled), k examples per class, source-fitted scaling."""
import torch

from trainwell.experiments.transfer_demo import few_shot, split_tasks, top_block
from trainwell.models import MODELS
from trainwell.experiments.transfer_demo import MODEL


def test_tasks_are_disjoint_digits_and_few_shot_counts():
    source, pool, pipeline = split_tasks(0)
    assert source.num_classes == pool.num_classes == 5
    assert set(source.y_train.tolist()) == set(range(5)) and set(pool.y_train.tolist()) == set(range(5))
    assert len(source.x_train) > 1500 and 400 < len(pool.x_test) < 600
    # standardized with SOURCE statistics: the source inputs have mean ~0 per feature
    assert source.x_train.mean(0).abs().max() < 1e-4
    data = few_shot(pool, 20, seed=3)
    assert torch.bincount(data.y_train, minlength=5).tolist() == [20] * 5
    assert len(data.x_val) == 0 and torch.equal(data.x_test, pool.x_test)
    again = few_shot(pool, 20, seed=3)
    assert torch.equal(again.x_train, data.x_train)


def test_top_block_is_last_conv_norm_and_head():
    m = MODELS.build(MODEL, input_shape=(1, 40), num_classes=5)
    assert top_block(m) == 3  # conv3, norm3, head
