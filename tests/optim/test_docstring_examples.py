"""The >>> examples in the module docstrings run and print what they claim.

(The cyclic schedules' examples are prose; their numbers are in test_schedules.TABLES.)"""
import doctest
import importlib

import pytest

from trainwell.optim import Cosine

NAMES = ("param_groups", "schedules", "warmup", "registry")
MODULES = [importlib.import_module(f"trainwell.optim.{name}") for name in NAMES]


@pytest.mark.parametrize("module", MODULES, ids=NAMES)
def test_module_examples(module):
    result = doctest.testmod(module, extraglobs={"Cosine": Cosine}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
