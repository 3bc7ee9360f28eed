import pytest
import torch

from trainwell.errors import UserError
from trainwell.registry import Registry


def make_registry():
    reg = Registry("activation")
    reg.add("relu", lambda: torch.nn.ReLU(), "max(0, x)")
    reg.add("leaky_relu", lambda slope=0.01: torch.nn.LeakyReLU(slope), "max(slope*x, x)")
    return reg


def test_build_by_name_and_table():
    reg = make_registry()
    assert isinstance(reg.build("relu"), torch.nn.ReLU)
    act = reg.build({"name": "leaky_relu", "slope": 0.2})
    assert act.negative_slope == 0.2


def test_unknown_name_lists_valid_and_suggests():
    reg = make_registry()
    with pytest.raises(UserError) as err:
        reg.build("lealy_relu")
    assert 'did you mean "leaky_relu"' in str(err.value)
    assert "relu" in str(err.value)


def test_unknown_option_is_named():
    reg = make_registry()
    with pytest.raises(UserError) as err:
        reg.build({"name": "leaky_relu", "slop": 0.2})
    assert "'slop'" in str(err.value) and 'did you mean "slope"' in str(err.value)


def test_duplicate_registration_refused():
    reg = make_registry()
    with pytest.raises(KeyError):
        reg.add("relu", lambda: None, "again")
