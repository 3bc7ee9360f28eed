"""The runnable examples in the docstrings of the after-training modules."""
import doctest

import pytest
import torch

import trainwell.ensemble.metrics
import trainwell.ensemble.native
import trainwell.models.transfer
from trainwell.models import mlp


@pytest.mark.parametrize("module", [trainwell.ensemble.metrics, trainwell.ensemble.native, trainwell.models.transfer])
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"mlp": mlp, "torch": torch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_native_twins_compute_the_same_function():
    from trainwell.ensemble.native import to_torch_activations
    from trainwell.models import MODELS

    for act in ("relu", "gelu", "tanh", "elu", "leaky_relu", "silu", "selu", "sigmoid"):
        a = MODELS.build({"name": "mlp", "widths": [8], "activation": act}, input_shape=(6,), num_classes=3,
                         generator=torch.Generator().manual_seed(0))
        x = torch.randn(5, 6)
        expected = a(x)
        b = to_torch_activations(a)
        assert type(b.act1).__module__.startswith("torch.nn"), act
        torch.testing.assert_close(b(x), expected)
