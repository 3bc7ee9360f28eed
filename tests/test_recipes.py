"""Every shipped recipe validates, builds and takes ten training steps with a finite loss."""
import math
from pathlib import Path

import pytest

from trainwell.config import load_recipe
from trainwell.assemble import from_recipe

RECIPES = sorted((Path(__file__).resolve().parent.parent / "trainwell" / "recipes").glob("*.toml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_builds_and_trains_ten_steps(path):
    recipe = load_recipe(path, ["train.steps=10", "data.train_subset=64"])  # 10 ≥ any schedule's cycles
    state = from_recipe(recipe).fit()
    assert state.step == 10 and math.isfinite(state.metrics["loss"])


def test_default_and_digits_recipes_exist():
    names = {p.stem for p in RECIPES}
    assert {"default", "digits"} <= names
