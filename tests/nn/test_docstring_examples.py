"""The examples in the nn modules' docstrings run and print what they say."""
import doctest
import importlib

import pytest
import torch
from torch import nn

MODULES = ["activations", "dropblock", "dropconnect", "drop_path", "dropout", "fold_bn", "fractional_pool",
           "init", "label_smoothing", "lsuv", "maxout", "norms"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"trainwell.nn.{name}")
    result = doctest.testmod(module, extraglobs={"torch": torch, "nn": nn}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
