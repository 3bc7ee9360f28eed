"""Typed, validated configs. A TOML recipe loads into a `Recipe`; `--set a.b=v` overrides keys.

Unknown keys and bad values are errors (`UserError`) that name the key and suggest the closest
valid one. Parts chosen by name (model, activation, schedule, augmentation...) are tables with a
`name` key and options; their options are checked later against the part's constructor by its
registry, so a typo there is caught too.

A recipe (see trainwell/recipes/default.toml; `find_recipe("default")` finds the packaged ones):

    name = "mnist1d-cnn"
    seed = 0
    [data]     name = "mnist1d"  (or path = "file.npz")  val_fraction = 0.1  preprocess = ["standardize"]
    [model]    name = "convnet"  channels = [32, 64]  ...
    [optim]    name = "adamw"  lr = 3e-3  weight_decay = 5e-4
    [schedule] name = "onecycle"
    [train]    epochs = 20  batch_size = 128  (weight averaging: ema = 0.999 or swa = 0.75)
    [augment]  train = [{name = "shift", max_shift = 4}]  mix = {name = "mixup", alpha = 0.2}
    [log]      tensorboard = true  csv = true  mlflow = true  (files in the run directory)
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trainwell.errors import UserError, did_you_mean

PartSpec = str | dict[str, Any]

# the longest run a recipe may ask for (optimizer steps): beyond it a typo (1e12) would train forever
MAX_STEPS = 10**9


class Section(BaseModel):
    # NaN and ±inf are refused in every number of a section: no key of a recipe means anything with them
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _check_part(value: Any, where: str) -> Any:
    if isinstance(value, dict) and "name" not in value:
        raise ValueError(f"{where} needs a 'name' key")
    return value


class DataConfig(Section):
    """[data]: which data (trainwell/data/sources.py) and how it is split and preprocessed."""

    name: str | None = Field("mnist1d", description="mnist1d, digits, cifar10, cifar100, images, npz, npy, csv "
                             "(with a path and no name the format is detected)")
    path: str | None = Field(None, description="a file or folder of data (relative: to the recipe's folder)")
    label_column: str = Field("label", description="CSV: the column holding the class labels")
    # values are checked where they are used (trainwell/data: layout.py, image_folder.py), with messages naming the key
    layout: str | None = Field(None, description=".npz/.npy/.csv: the stored axis order: nchw, nhwc, ncl, nlc, "
                               "nhw or flat (detected and stated when absent)")
    shape: list[int] | None = Field(None, min_length=1, max_length=3,
                                    description="flat rows -> examples of this shape, e.g. [3, 32, 32]")
    size: list[int] | None = Field(None, min_length=2, max_length=2,
                                   description="image folders: resize every image to [H, W]")
    channels: int | None = Field(None, description="image folders: 3 = RGB (default), 1 = greyscale")
    coarse_labels: bool = Field(False, description="CIFAR-100: the 20 superclasses instead of the 100 classes")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    train_subset: int | None = Field(None, ge=1, description="keep only this many training examples (seeded)")
    preprocess: list[PartSpec] = Field(default_factory=list)


class OptimConfig(Section):
    name: str = "adamw"
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    l1: float = Field(0.0, ge=0.0, description="L1 penalty added to the loss")
    l2: float = Field(0.0, ge=0.0, description="L2 penalty (0.5·l2·‖w‖²) added to the loss")
    options: dict[str, Any] = Field(default_factory=dict, description="optimizer options (momentum, betas, ...)")
    grad_clip: float | None = Field(None, gt=0.0, description="clip the global gradient norm to this value "
                                    "(the same as train.clip_grad_norm; give one of them)")


class TrainConfig(Section):
    epochs: float | None = Field(None, gt=0, le=MAX_STEPS)
    steps: int | None = Field(None, gt=0, le=MAX_STEPS, description=f"optimizer steps (at most {MAX_STEPS:.0e})")
    batch_size: int = Field(128, ge=1)
    eval_every: int | None = Field(None, gt=0, description="steps between evaluations (default: once per epoch)")
    log_every: int = Field(20, ge=1, description="steps between metric records / progress updates")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    device: str = "auto"
    threads: int | None = Field(None, ge=1)
    ema: float | None = Field(None, gt=0.0, lt=1.0, description="decay of an EMA of the weights (e.g. 0.999)")
    swa: float | None = Field(None, ge=0.0, lt=1.0, description="SWA: average the weights uniformly from this "
                              "fraction of the run on (e.g. 0.75); scored with BatchNorm statistics recomputed")
    checkpoint: bool = True
    checkpoint_seconds: float = Field(10.0, ge=0.0, description="write last.pt at an evaluation once this many seconds "
                                      "passed since the last one, and at the end (0: at every evaluation)")
    task: Literal["classification", "multilabel", "regression"] | None = Field(
        None, description="what the model predicts (default: inferred from the training targets, and stated)")
    loss: PartSpec | None = Field(None, description="cross_entropy | bce_with_logits | mse | huber | l1 "
                                  "(default: the task's; see `trainwell list loss`)")
    class_weights: list[float] | Literal["balanced"] | None = Field(
        None, description="cross-entropy weight per class, or \"balanced\" (n / (C·n_c) from the training labels)")
    shuffle: bool = Field(True, description="draw a new order of the training examples each epoch")
    precision: Literal["fp32", "bf16", "fp16", "auto"] = Field(
        "fp32", description="autocast precision (fp16: CUDA only; auto: bf16 where the device computes it natively)")
    accumulate: int = Field(1, ge=1, description="micro-batches per optimizer step (gradient accumulation)")
    compile: bool = Field(False, description="torch.compile the model (falls back to eager if it fails)")
    clip_grad_norm: float | None = Field(None, gt=0.0, description="clip the global gradient norm to this value")
    log_grad_norm: bool = Field(False, description="log the global gradient norm")
    metrics: list[str] = Field(default_factory=list, description="extra validation metrics by name: f1, auroc, "
                               "ece, precision, recall, top5 (torchmetrics)")
    sampler: Literal["shuffle", "balanced"] = Field("shuffle", description="balanced: draw each class equally "
                                                    "often (with replacement; for imbalanced data)")
    sync_batchnorm: bool = Field(False, description="data-parallel runs: BatchNorm statistics over the global batch "
                                 "of all processes (SyncBatchNorm); nothing changes on one process")
    test_weights: Literal["best", "final", "ema", "swa"] = Field(
        "best", description="the weights the test figure is computed with (best: on validation)")

    @model_validator(mode="after")
    def _one_length(self) -> "TrainConfig":
        if self.epochs is not None and self.steps is not None:
            raise ValueError("give train.epochs or train.steps, not both")
        if self.test_weights == "ema" and self.ema is None:
            raise ValueError("train.test_weights = \"ema\" needs train.ema (the EMA decay)")
        if self.test_weights == "swa" and self.swa is None:
            raise ValueError("train.test_weights = \"swa\" needs train.swa (the SWA start fraction)")
        return self


class AugmentConfig(Section):
    train: list[PartSpec] = Field(default_factory=list)
    mix: PartSpec | None = None
    mix_prob: float = Field(1.0, ge=0.0, le=1.0, description="fraction of batches that are mixed")
    tta: PartSpec | None = None


class LogConfig(Section):
    """Loggers that run beside metrics.jsonl (`trainwell.train.loggers`), several at once.

    Each writes into the run directory: tensorboard/ (event files), metrics.csv, mlruns/ (an
    MLflow store: mlflow.db + artifacts/). A run without a run directory (the doctor's short runs)
    logs nothing. TensorBoard and MLflow are optional extras: pip install 'trainwell[tensorboard]',
    pip install 'trainwell[mlflow]'."""

    tensorboard: bool = Field(False, description="TensorBoard event files in <run>/tensorboard (scalars, histograms)")
    csv: bool = Field(False, description="one row per record in <run>/metrics.csv")
    mlflow: bool = Field(False, description="an MLflow run: recipe keys as params, metrics with steps")
    mlflow_uri: str | None = Field(None, description="MLflow tracking URI (default: a local store "
                                   "sqlite:///<run>/mlruns/mlflow.db, no server)")
    mlflow_experiment: str | None = Field(None, description="MLflow experiment name (default: the recipe name)")
    histograms_every: int | None = Field(None, ge=0, description="steps between weight histograms in "
                                         "TensorBoard (default: at each evaluation; 0: none)")

    @property
    def active(self) -> bool:
        """Is any logger on?"""
        return self.tensorboard or self.csv or self.mlflow


class Recipe(Section):
    name: str = "recipe"
    description: str = ""
    seed: int = Field(0, ge=0, le=2**62, description="the root of every random stream of the run")
    data: DataConfig = Field(default_factory=DataConfig)
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "mlp"})
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: dict[str, Any] = Field(default_factory=lambda: {"name": "constant"})
    train: TrainConfig = Field(default_factory=TrainConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    search: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_clip(self) -> "Recipe":
        a, b = self.optim.grad_clip, self.train.clip_grad_norm
        if a is not None and b is not None and a != b:
            raise ValueError(f"optim.grad_clip = {a} and train.clip_grad_norm = {b} say different things; give one")
        return self

    @property
    def clip_grad_norm(self) -> float | None:
        """The gradient-norm clip of the recipe (train.clip_grad_norm, or its older name optim.grad_clip)."""
        return self.train.clip_grad_norm if self.train.clip_grad_norm is not None else self.optim.grad_clip

    @field_validator("model", "schedule")
    @classmethod
    def _named(cls, value: dict[str, Any], info) -> dict[str, Any]:
        return _check_part(value, info.field_name)


SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
    "augment": AugmentConfig,
    "log": LogConfig,
}


def _fields_at(loc: tuple) -> list[str]:
    """Valid keys at the place of an error (for 'did you mean')."""
    model: type[BaseModel] | None = Recipe
    for part in loc[:-1]:
        if model is None or not isinstance(part, str):
            return []
        field = model.model_fields.get(part)
        model = SECTIONS.get(part) if field is not None and part in SECTIONS else None
    return list(model.model_fields) if model is not None else []


def _explain(err: ValidationError, source: str) -> UserError:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(recipe)"
        if e["type"] == "extra_forbidden":
            last = str(e["loc"][-1])
            lines.append(f"unknown key {key!r}{did_you_mean(last, _fields_at(e['loc']))}")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{key}: {e['msg']}{shown}")
    return UserError(f"{source}: " + "; ".join(lines))


def parse_value(text: str) -> Any:
    """A --set value: TOML syntax when it parses (numbers, booleans, lists, tables), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# keys that replace each other when overridden (a run length is given one way or the other)
EXCLUSIVE = {("train", "steps"): ("train", "epochs"), ("train", "epochs"): ("train", "steps")}


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply 'section.key=value' (any depth) to a raw recipe dict in place.

    Setting train.steps drops train.epochs from the recipe and vice versa.
    """
    if "=" not in assignment:
        raise UserError(f"--set expects KEY=VALUE (e.g. optim.lr=0.01), got {assignment!r}")
    key, text = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise UserError(f"--set: empty key in {assignment!r}")
    top = parts[0]
    if top not in Recipe.model_fields:
        raise UserError(f"--set {key}: unknown section {top!r}{did_you_mean(top, Recipe.model_fields)}")
    if len(parts) > 1 and top not in raw:
        default = Recipe.model_fields[top].get_default(call_default_factory=True)
        raw[top] = default.model_dump() if isinstance(default, BaseModel) else _deepcopy(default or {})
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise UserError(f"--set {key}: {part!r} is a value, not a table")
        node = child
    node[parts[-1]] = parse_value(text.strip())
    other = EXCLUSIVE.get(tuple(parts))
    if other is not None:
        raw.get(other[0], {}).pop(other[1], None)


def read_toml(path: str | Path, what: str = "recipe") -> dict[str, Any]:
    """A TOML file as a dict; a missing, special (device, FIFO), unreadable or invalid file is a UserError."""
    from trainwell.io import regular_file

    path = regular_file(path, what)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{what} {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise UserError(f"{what} {path}: not a text file (it holds binary data); a TOML file is UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None


def recipe_from_dict(raw: dict[str, Any], source: str = "recipe", overrides: list[str] = ()) -> Recipe:
    raw = _deepcopy(raw)
    for assignment in overrides:
        apply_override(raw, assignment)
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as err:
        raise _explain(err, source) from None
    if recipe.data.path is not None and "name" not in raw.get("data", {}):
        recipe.data.name = None
    return recipe


def recipes_folder() -> Path:
    """The recipes that ship inside the package (package data, found with importlib.resources)."""
    from importlib.resources import files

    return Path(str(files("trainwell") / "recipes"))


def packaged_recipes() -> list[str]:
    """Names of the packaged recipes (``trainwell train --recipe NAME``)."""
    return sorted(p.stem for p in recipes_folder().glob("*.toml"))


def default_recipe_path(name: str = "default") -> Path:
    """The packaged recipe `name` (the default recipe when none is given)."""
    return find_recipe(name)


def find_recipe(ref: str | Path) -> Path:
    """A recipe file from a path, or from the name of a packaged recipe.

    An existing file wins. Otherwise a bare name (``default``, ``digits.toml``) or a path of the
    form ``recipes/<name>.toml`` that does not exist here names a packaged recipe. Anything else is
    a UserError that lists the packaged names.
    """
    path = Path(ref)
    if path.is_file():
        return path
    if path.is_dir():
        raise UserError(f"recipe {path} is a folder, not a TOML file")
    if path.exists():
        from trainwell.io import regular_file

        regular_file(path, "recipe")  # a device or a FIFO: refused with what it is
    bare = len(path.parts) == 1 or (len(path.parts) == 2 and path.parts[0] == "recipes")
    name = path.stem if path.suffix == ".toml" else path.name
    packaged = recipes_folder() / f"{name}.toml"
    if bare and packaged.is_file():
        return packaged
    names = packaged_recipes()
    raise UserError(f"recipe file {path} does not exist{did_you_mean(name, names)}; "
                    f"packaged recipes (give the name): {', '.join(names)}")


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read a TOML recipe (a path, or a packaged recipe's name), apply `--set` overrides, validate it.

    Relative data paths (``data.path``) are resolved against the recipe file's folder."""
    path, raw = read_recipe_raw(path)
    return recipe_from_dict(raw, str(path), overrides)


def read_recipe_raw(ref: str | Path) -> tuple[Path, dict[str, Any]]:
    """(file, raw dict) of a recipe: found by `find_recipe`, its relative data.path made absolute."""
    path = find_recipe(ref)
    raw = read_toml(path)
    if not raw:
        raise UserError(f"recipe {path} is empty (no keys): a torn or unsaved file? A recipe names at least its "
                        "data and model (see `trainwell list recipe` for complete ones)")
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str):
        data["path"] = resolve_data_path(data["path"], path.parent)
    return path, raw


def resolve_data_path(value: str, base: Path) -> str:
    """`value` against `base` (the recipe's folder) unless it is absolute or ~-relative; always an
    absolute path, so a recipe written elsewhere from it (a search's best.toml) still finds the data."""
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).absolute())


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Plain JSON data of the whole resolved recipe (for config.json and checkpoints); keys left
    unset appear with their defaults, None included (TOML has no null: a TOML writer must drop them)."""
    return recipe.model_dump(mode="json")


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


