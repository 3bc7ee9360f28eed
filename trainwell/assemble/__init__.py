"""The assembly: a recipe (or your model and data) becomes a run in exactly one place.

* `build_run` / `Run`: recipe → optimizer, schedule, task and loss, augmentation, penalty, callbacks,
  trainer settings, around a given model and data (`trainwell.assemble.run`).
* `from_recipe`: the recipe's own data and model. `from_model`: a model and data you built
  (`trainwell.fit` is this). `phase`: frozen parameters and per-layer LRs (fine-tuning).
  `train_members`: N members, vectorized when possible and faster (ensembles, search trials).
* `train_recipe`: a recipe into a run directory (`trainwell train`).
* `support`: which keys each variant honours, and why not.
"""
from trainwell.assemble.data import load_recipe_data, pick_device, prepare_data
from trainwell.assemble.members import MemberResult, MembersResult, train_members
from trainwell.assemble.parts import total_steps_for
from trainwell.assemble.phase import phase
from trainwell.assemble.run import Run, RunData, build_run, from_recipe, model_for, prepare
from trainwell.assemble.rundir import new_run_dir, recipe_of_run, train_recipe
from trainwell.assemble.user import from_model

__all__ = ["MemberResult", "MembersResult", "Run", "RunData", "build_run", "from_model", "from_recipe",
           "load_recipe_data", "model_for", "new_run_dir", "phase", "pick_device", "prepare", "prepare_data",
           "recipe_of_run", "total_steps_for", "train_members", "train_recipe"]
