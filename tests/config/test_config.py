import pytest

from trainwell.config import apply_override, load_recipe, parse_value, recipe_from_dict
from trainwell.errors import UserError


def test_typo_in_key_suggests_closest():
    with pytest.raises(UserError) as err:
        recipe_from_dict({"optim": {"learning_rate": 0.1, "weight_decy": 0.1}})
    assert "optim.weight_decy" in str(err.value) and 'did you mean "weight_decay"' in str(err.value)


def test_bad_value_names_key_and_value():
    with pytest.raises(UserError) as err:
        recipe_from_dict({"train": {"batch_size": 0}})
    assert "train.batch_size" in str(err.value) and "0" in str(err.value)


def test_override_types_and_nesting():
    assert parse_value("0.01") == 0.01 and parse_value("true") is True and parse_value("[1, 2]") == [1, 2]
    assert parse_value("adam") == "adam"
    r = recipe_from_dict({}, overrides=["optim.name=sgd", "optim.lr=0.5", "model.widths=[10, 10]", "optim.options.momentum=0.9"])
    assert r.optim.name == "sgd" and r.optim.lr == 0.5 and r.model["widths"] == [10, 10]
    assert r.optim.options == {"momentum": 0.9}


def test_override_errors():
    with pytest.raises(UserError, match='did you mean "train"'):
        recipe_from_dict({}, overrides=["trian.steps=3"])
    with pytest.raises(UserError, match="KEY=VALUE"):
        apply_override({}, "optim.lr")


def test_epochs_and_steps_exclusive():
    with pytest.raises(UserError, match="not both"):
        recipe_from_dict({"train": {"epochs": 2, "steps": 10}})


def test_recipe_file_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_recipe(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_recipe(bad)


def test_data_path_replaces_default_name():
    r = recipe_from_dict({"data": {"path": "x.npz"}})
    assert r.data.name is None and r.data.path == "x.npz"


def test_overriding_steps_replaces_epochs():
    r = recipe_from_dict({"train": {"epochs": 3}}, overrides=["train.steps=50"])
    assert r.train.steps == 50 and r.train.epochs is None
    r = recipe_from_dict({"train": {"steps": 3}}, overrides=["train.epochs=2"])
    assert r.train.epochs == 2 and r.train.steps is None
