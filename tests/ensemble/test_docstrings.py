"""The runnable examples in the docstrings of the after-training modules."""
import doctest

import pytest
import torch

import trainwell.ensemble.metrics
import trainwell.models.transfer
from trainwell.models import mlp


@pytest.mark.parametrize("module", [trainwell.ensemble.metrics, trainwell.models.transfer])
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"mlp": mlp, "torch": torch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_batched_engine_compiles_trainwell_activations_and_dropout():
    """Every parameter-free trainwell activation, and trainwell's dropout, compile in the fast
    batched engine (its numerical equality with one-by-one runs is tested in tests/vectorized)."""
    from trainwell.vectorized.batched_layers import compile_sequential
    from trainwell.models import MODELS

    for act in ("relu", "gelu", "tanh", "elu", "leaky_relu", "silu", "selu", "sigmoid"):
        a = MODELS.build({"name": "mlp", "widths": [8], "activation": act, "dropout": 0.2}, input_shape=(6,),
                         num_classes=3, generator=torch.Generator().manual_seed(0))
        assert compile_sequential(a) is not None, act
    prelu = MODELS.build({"name": "mlp", "widths": [8], "activation": "prelu"}, input_shape=(6,), num_classes=3)
    assert compile_sequential(prelu) is None  # a parameterised activation is not elementwise-stateless
