"""What the doctor examines — a recipe, or a user's model and data — in one shape: a `Subject`.

    s = recipe_subject(load_recipe("default"), cfg)          # the recipe's data (preprocessed) and model
    s = python_subject(model, (x, y), val_loader, loss=..., optimizer=..., cfg=cfg)

A subject holds the fresh model (never trained: every check works on a copy), a seeded sample of
the training and validation data as tensors (at most `cfg.max_train` / `cfg.max_eval` examples,
for the static checks and the short loops), what a run trains on (the same sample for tensors,
the user's own Dataset/DataLoader otherwise, so their batch size and order are what is judged),
the recipe (for a Python setup: the assembly's defaults, `trainwell.assemble.user`), the user's
loss and optimizer when given, and — for a recipe — the data before preprocessing.

Data the user did not name is never loaded: a Python setup has no raw data and no pipeline.

Every training run of the doctor is built here through the assembly: `Subject.run(...)` calls
`build_run` (recipes) or `from_model` (Python setups) around a copy of the model.

Problems that make training meaningless (NaN inputs, labels outside the model's outputs, class
labels fed to a one-output model) are collected in `fatal` instead of raised: the doctor reports
them as findings and skips the stages that would crash.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from trainwell.config import Recipe
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription
from trainwell.errors import UserError

ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "sparseadam", "lamb",
            "adafactor")


@dataclass
class Subject:
    """A recipe or a Python setup, ready to examine (see the module docstring)."""

    kind: str                                   # "recipe" | "python"
    name: str
    recipe: Recipe
    model: nn.Module
    device: torch.device
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    num_classes: int | None
    train: Any = None                           # what a run trains on
    batch_size: int | None = None
    shuffle: bool | None = True                 # None: a user's DataLoader (its order is measured)
    loss: Callable[..., torch.Tensor] | None = None
    optimizer: torch.optim.Optimizer | None = None
    raw: Any = None                             # recipe: DataBundle before preprocessing
    pipeline: Any = None
    x_test: torch.Tensor | None = None
    task: str = "classification"
    fatal: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ what it is
    @property
    def optimizer_name(self) -> str:
        if self.optimizer is not None:
            return type(self.optimizer).__name__.lower()
        return self.recipe.optim.name

    @property
    def adaptive(self) -> bool:
        """Adam-family (per-parameter step sizes): the update size is set by the LR, not the gradient."""
        return self.optimizer_name in ADAPTIVE

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else self.recipe.optim.lr

    @property
    def weight_decay(self) -> float:
        if self.optimizer is not None:
            return float(self.optimizer.param_groups[0].get("weight_decay", 0.0) or 0.0)
        return self.recipe.optim.weight_decay

    @property
    def classification(self) -> bool:
        return self.task == "classification" and self.num_classes is not None

    def loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The training loss: the user's, or the recipe's (task and loss of the assembly)."""
        return self.loss if self.loss is not None else self._recipe_loss(self.recipe)

    def _recipe_loss(self, recipe: Recipe) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        from trainwell.assemble.parts import task_and_loss

        return task_and_loss(recipe, self.y_train.cpu())[1]

    def plain_loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The loss without label smoothing (for the initial-loss check and the short loops)."""
        if self.loss is not None:
            return self.loss
        r = self.recipe.model_copy(deep=True)
        r.train.label_smoothing = 0.0
        r.train.class_weights = None
        return self._recipe_loss(r)

    # ------------------------------------------------------------------ runs
    def variant(self, **changes: Any) -> Recipe:
        """A copy of the recipe with dotted keys changed: variant(**{"optim.weight_decay": 0.0})."""
        from trainwell.config import recipe_from_dict, recipe_to_dict
        from trainwell.doctor.finding import toml_value

        raw = recipe_to_dict(self.recipe)
        return recipe_from_dict(raw, f"{self.name} (doctor variant)",
                                [f"{k}={toml_value(v)}" for k, v in changes.items()])

    def run(self, steps: int, cfg: DoctorConfig, *, model: nn.Module | None = None, recipe: Recipe | None = None,
            callbacks: list[Any] = (), optimizer_changes: dict[str, Any] | None = None, train: Any = None):
        """A `Run` of a COPY of the model for `steps` steps, built through the assembly; no run
        directory, no validation during the run (the doctor scores the end itself)."""
        from trainwell.assemble import RunData, build_run, from_model

        net = copy.deepcopy(model if model is not None else self.model)
        r = (recipe or self.recipe).model_copy(deep=True)
        r.train.epochs = None
        r.train.steps = steps
        r.train.log_every = min(cfg.log_every, steps)
        r.train.eval_every = steps
        r.train.checkpoint = False
        r.train.device = str(self.device)
        if self.batch_size is not None and self.kind == "python":
            r.train.batch_size = self.batch_size
        opt = None
        if self.optimizer is not None:  # the user's optimizer, over the copy (names match self.model's)
            opt = clone_optimizer(self.optimizer, self.model, net, **(optimizer_changes or {}))
        data = train if train is not None else self.train
        if self.kind == "recipe":
            x, y = data
            run_data = RunData(train=(x, y), val=None, num_classes=self.num_classes, input_shape=tuple(x.shape[1:]),
                               description=self.name, pipeline=self.pipeline, y_train=y)
            return build_run(r, net, run_data, device=self.device, callbacks=list(callbacks), optimizer=opt,
                             loss=self.loss)
        return from_model(net, data, None, recipe=r, optimizer=opt, loss=self.loss, callbacks=list(callbacks),
                          device=self.device)


# ---------------------------------------------------------------------- optimizers
def clone_optimizer(opt: torch.optim.Optimizer, src: nn.Module, dst: nn.Module, **changes: Any) -> torch.optim.Optimizer:
    """The same optimizer class and hyperparameters (per group) over `dst`'s parameters, matched
    to `src`'s by name; `changes` overwrite hyperparameters in every group (weight_decay=0.0).
    Parameters of `src` the optimizer did not hold stay out of the clone, as in the original."""
    names = {id(p): n for n, p in src.named_parameters()}
    target = dict(dst.named_parameters())
    groups = []
    for g in opt.param_groups:
        params = [target[names[id(p)]] for p in g["params"] if id(p) in names]
        if params:
            groups.append({**{k: v for k, v in g.items() if k != "params"}, **changes, "params": params})
    if not groups:
        raise UserError("the optimizer holds none of the model's parameters")
    try:
        return type(opt)(groups, **{**opt.defaults, **changes})
    except TypeError:
        return type(opt)(groups)


def optimizer_factory(subject: Subject, model: nn.Module):
    """params (of a deepcopy of `model`, in named_parameters order) → the subject's optimizer."""
    if subject.optimizer is None:
        from trainwell.assemble.parts import optimizer_factory_for

        return optimizer_factory_for(subject.recipe, model)
    names = [n for n, _ in model.named_parameters()]

    def factory(params):
        copy_model = _Holder(dict(zip(names, list(params))))
        return clone_optimizer(subject.optimizer, subject.model, copy_model)

    return factory


class _Holder:
    """named_parameters() over a name → parameter mapping (for clone_optimizer)."""

    def __init__(self, params: dict[str, nn.Parameter]):
        self._params = params

    def named_parameters(self):
        return iter(self._params.items())


# ---------------------------------------------------------------------- data helpers
def _as_labels(y: Any) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(y)) if not isinstance(y, torch.Tensor) else y
    if t.dtype == torch.float64:
        t = t.float()
    if not torch.is_floating_point(t) and t.dtype not in (torch.int64, torch.bool):
        t = t.long()
    return t


def _pair(data: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    from torch.utils.data import Dataset

    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data, Dataset):
        x, y = data
        if isinstance(x, (torch.Tensor, np.ndarray)) and isinstance(y, (torch.Tensor, np.ndarray, list)):
            from trainwell.data.adapt import as_tensor

            return as_tensor(x, "x", float_input=True), _as_labels(y)
    return None


def sample_xy(data: Any, n: int | None, seed: int, name: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(x, y, total): a seeded random sample of at most n examples of (x, y) arrays, a Dataset or
    a DataLoader (its dataset when it is indexable, else its first batches), on the CPU."""
    from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

    from trainwell.data.adapt import split_batch

    gen = torch.Generator().manual_seed(seed)
    pair = _pair(data)
    if pair is not None:
        x, y = pair
        if len(x) != len(y):
            raise UserError(f"{name}: x has {len(x)} examples but y has {len(y)}")
        keep = _pick(len(x), n, gen)
        return x[keep].cpu(), y[keep].cpu(), len(x)
    dataset, collate = data, default_collate
    if isinstance(data, DataLoader):
        dataset, collate = data.dataset, data.collate_fn
    if isinstance(dataset, Dataset) and not isinstance(dataset, IterableDataset) and hasattr(dataset, "__len__"):
        total = len(dataset)
        keep = _pick(total, n, gen).tolist()
        xs, ys = [], []
        for i in range(0, len(keep), 256):
            bx, by = split_batch(collate([dataset[j] for j in keep[i:i + 256]]))
            xs.append(torch.as_tensor(bx))  # the dtype the model gets from the loader (token ids stay integers)
            ys.append(_as_labels(by))
        return torch.cat(xs).cpu(), torch.cat(ys).cpu(), total
    if isinstance(data, DataLoader) or hasattr(data, "__iter__"):
        xs, ys, count = [], [], 0
        for batch in data:
            bx, by = split_batch(batch)
            xs.append(torch.as_tensor(bx))
            ys.append(_as_labels(by))
            count += len(xs[-1])
            if n is not None and count >= n:
                break
        if not xs:
            raise UserError(f"{name}: the data yields no batches")
        return torch.cat(xs)[:n].cpu(), torch.cat(ys)[:n].cpu(), count
    raise UserError(f"{name} must be (x, y) tensors or arrays, a torch Dataset or a DataLoader; found {type(data).__name__}")


def _pick(total: int, n: int | None, gen: torch.Generator) -> torch.Tensor:
    if n is None or total <= n:
        return torch.arange(total)
    return torch.randperm(total, generator=gen)[:n].sort().values


# ---------------------------------------------------------------------- fatal data problems
def nonfinite_finding(counts: dict[str, int]) -> Finding:
    where = ", ".join(f"{k}: {v}" for k, v in counts.items())
    return Finding("nonfinite_inputs", "fail",
                   f"non-finite input values (NaN/Inf) — {where}: a single NaN turns the loss into NaN",
                   {"nonfinite": counts}, None,
                   Prescription("remove or impute them before training (e.g. x = torch.nan_to_num(x), or drop the "
                                "rows with NaN), then standardize", code="x = torch.nan_to_num(x)  # or drop those rows"),
                   stage="data")


def label_findings(y: torch.Tensor, outputs: int | None, split: str) -> list[Finding]:
    """Labels below 0, not integers, or at/above the model's number of outputs (fatal); 1-based
    labels (class 0 empty, labels 1..C) when the model has an output per label (a warning)."""
    if torch.is_floating_point(y):
        if bool((y != y.round()).any()) or y.dim() != 1:
            return []  # a regression or soft-target setup: not class labels
        y = y.long()
    if y.dim() != 1 or y.numel() == 0:
        return []
    lo, hi = int(y.min()), int(y.max())
    counts = torch.bincount(y.clamp(min=0).cpu(), minlength=hi + 1)
    evidence = {"min_label": lo, "max_label": hi, "outputs": outputs, "split": split}
    if lo < 0:
        n = int((y < 0).sum())
        return [Finding("labels_out_of_range", "fail",
                        f"{split} labels must be class indices 0..C−1, but {n} are negative (min {lo}): the loss "
                        "would index outside the logits (IndexError) or train on garbage", evidence, None,
                        Prescription("map the labels to 0..C−1", code="y = torch.unique(y, return_inverse=True)[1]"),
                        stage="data")]
    if outputs is not None and hi >= outputs:
        over = int((y >= outputs).sum())
        off = lo == 1 and hi == outputs
        why = (f" — the labels run 1..{hi}: they are 1-based (off by one)" if off else "")
        fix = Prescription("make the labels 0-based" if off else f"give the last layer {hi + 1} outputs, or fix the labels",
                           code="y = y - 1" if off else f"nn.Linear(..., {hi + 1})  # one output per class")
        return [Finding("labels_out_of_range", "fail",
                        f"{over} {split} label(s) are ≥ {outputs}, the number of the model's outputs (labels "
                        f"{lo}..{hi}){why}: cross-entropy would fail with an IndexError (or a CUDA assert)",
                        {**evidence, "out_of_range": over}, None, fix, stage="data")]
    if lo == 1 and counts[0] == 0 and hi >= 2:
        return [Finding("labels_off_by_one", "warn",
                        f"class 0 has no {split} example and the labels run 1..{hi}: they look 1-based, so output 0 "
                        f"is never a target (the model has {hi + 1} outputs for {hi} classes)", evidence, None,
                        Prescription("make the labels 0-based (subtract 1 where the data is made)", code="y = y - 1"),
                        stage="data")]
    return []


def count_nonfinite(splits: dict[str, Any]) -> dict[str, int]:
    out = {}
    for name, x in splits.items():
        if x is None:
            continue
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        if torch.is_floating_point(t):
            n = int((~torch.isfinite(t)).sum())
            if n:
                out[name] = n
    return out


# ---------------------------------------------------------------------- recipes
def _raw_arrays(recipe: Recipe) -> dict[str, Any]:
    """The recipe's arrays exactly as stored (no validation), to explain a refusal of the loader."""
    from trainwell.data.sources import read_source

    d = recipe.data
    options = {"layout": d.layout, "shape": d.shape, "size": d.size, "channels": d.channels,
               "coarse_labels": d.coarse_labels}
    _, raw = read_source(d.name, d.path, options, d.label_column)
    return {"x": raw.x, "y": raw.y, "x_test": raw.x_test, "y_test": raw.y_test}


def recipe_subject(recipe: Recipe, cfg: DoctorConfig) -> Subject:
    """The recipe's data (preprocessing fitted on train, as `trainwell train` does) and model."""
    from trainwell.assemble import load_recipe_data, model_for
    from trainwell.assemble import prepare as prepare_run_data

    try:
        raw = load_recipe_data(recipe)
    except UserError as exc:
        return _refused_recipe(recipe, exc, cfg)
    data, device = prepare_run_data(recipe)
    b = data.bundle
    model = model_for(recipe, b.input_shape, b.num_classes, example_batch=b.x_train[:512].cpu())
    gen_seed = cfg.seed + 11
    keep = _pick(len(b.x_train), cfg.max_train, torch.Generator().manual_seed(gen_seed)).to(b.x_train.device)
    x, y = b.x_train[keep], b.y_train[keep]
    vkeep = _pick(len(b.x_val), cfg.max_eval, torch.Generator().manual_seed(gen_seed + 1)).to(b.x_val.device)
    s = Subject("recipe", recipe.name, recipe, model.to(device), device, x, y,
                b.x_val[vkeep] if len(b.x_val) else None, b.y_val[vkeep] if len(b.x_val) else None,
                b.num_classes, train=(x, y), batch_size=recipe.train.batch_size, shuffle=recipe.train.shuffle,
                raw=raw, pipeline=data.pipeline, x_test=b.x_test if len(b.x_test) else None)
    s.fatal += label_findings(raw.y_train, None, "training")
    return s


def _refused_recipe(recipe: Recipe, exc: UserError, cfg: DoctorConfig) -> Subject:
    """The data loader refused the recipe's data: NaN inputs or bad labels become findings."""
    try:
        arrays = _raw_arrays(recipe)
    except UserError:
        raise exc from None
    fatal = []
    bad = count_nonfinite({"x": arrays["x"], "x_test": arrays["x_test"]})
    if bad:
        fatal.append(nonfinite_finding(bad))
    for split, key in (("training", "y"), ("test", "y_test")):
        if arrays[key] is not None:
            fatal += label_findings(torch.as_tensor(np.asarray(arrays[key])), None, split)
    if not fatal:
        raise exc
    x = torch.zeros(1, 1)
    return Subject("recipe", recipe.name, recipe, nn.Identity(), torch.device("cpu"), x, torch.zeros(1, dtype=torch.long),
                   None, None, None, fatal=fatal)


# ---------------------------------------------------------------------- Python setups
def python_subject(model: nn.Module, train: Any, val: Any = None, *, loss: Any = None, optimizer: Any = None,
                   cfg: DoctorConfig, name: str | None = None, device: Any = None, **recipe_keys: Any) -> Subject:
    """A user's model and data (see the module docstring); `recipe_keys` as in `trainwell.fit`."""
    from torch.utils.data import DataLoader

    from trainwell.assemble.data import pick_device
    from trainwell.assemble.user import recipe_from_kwargs

    if not isinstance(model, nn.Module):
        raise UserError(f"doctor: model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise UserError(f"doctor: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if loss is not None and not callable(loss):
        raise UserError(f"doctor: loss must be callable as loss(output, y), got {type(loss).__name__}")
    recipe = recipe_from_kwargs(dict(recipe_keys))
    first = next(iter(model.parameters()), None)
    dev = torch.device(device) if device is not None else (
        first.device if first is not None and first.device.type != "cpu" else pick_device("auto"))
    x, y, total = sample_xy(train, cfg.max_train, cfg.seed + 11, "train")
    xv = yv = None
    if val is not None:
        xv, yv, _ = sample_xy(val, cfg.max_eval, cfg.seed + 12, "val")
    batch = getattr(train, "batch_size", None) if isinstance(train, DataLoader) else None
    shuffle: bool | None = True
    if isinstance(train, DataLoader):
        shuffle = None
    trains_on = train if _pair(train) is None else (x, y)
    s = Subject("python", name or type(model).__name__, recipe, model, dev, x.to(dev), y.to(dev),
                xv.to(dev) if xv is not None else None, yv.to(dev) if yv is not None else None, None,
                train=trains_on, batch_size=batch if isinstance(batch, int) else recipe.train.batch_size,
                shuffle=shuffle, loss=loss, optimizer=optimizer)
    if total > len(x):
        s.notes.append(f"the checks use a seeded sample of {len(x)} of the {total} training examples")
    bad = count_nonfinite({"train": x, "val": xv})
    if bad:
        s.fatal.append(nonfinite_finding(bad))
        return s
    outputs = _output_width(model, x[:8].to(dev))
    classes = not torch.is_floating_point(y) and y.dim() == 1
    if classes:
        if outputs == 1 and int(y.max()) >= 2:
            s.fatal.append(_labels_as_numbers(int(y.max()) + 1))
            return s
        for split, labels in (("training", y), ("validation", yv)):
            if labels is not None:
                s.fatal += label_findings(labels, outputs, split)
        if outputs is not None and outputs >= 1 and not any(f.severity == "fail" for f in s.fatal):
            s.num_classes = max(outputs, int(y.max()) + 1)
    else:
        s.task = "regression" if torch.is_floating_point(y) else "multilabel"
    return s


def _output_width(model: nn.Module, x: torch.Tensor) -> int | None:
    from trainwell.assemble.user import probe_forward

    out = probe_forward(model, x, "doctor: ")
    if out.dim() == 1:
        return 1
    return int(out.shape[1]) if out.dim() == 2 else None


def _labels_as_numbers(classes: int) -> Finding:
    return Finding("loss_mismatch", "fail",
                   f"the targets are {classes} class labels but the model has one output: the classes are being "
                   "treated as numbers (a regression on class indices — class 3 is not 'between' 2 and 4)",
                   {"classes": classes, "outputs": 1}, None,
                   Prescription("one output per class and a classification loss",
                                code=f"nn.Linear(..., {classes}) as the last layer and nn.CrossEntropyLoss()"),
                   stage="data")


def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, train_mode: bool = False,
                      batch: int = 512) -> float:
    """Accuracy of `model` on (x, y) in eval mode (or in train mode on a copy, for BatchNorm)."""
    net = copy.deepcopy(model) if train_mode else model
    was = net.training
    net.train(train_mode)
    correct = torch.zeros((), device=x.device)
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                out = net(x[i:i + batch])
                if out.dim() == 1:
                    return math.nan
                correct += (out.argmax(1) == y[i:i + batch]).sum()
    finally:
        net.train(was)
    return float(correct) / max(len(x), 1)


__all__ = ["ADAPTIVE", "Subject", "clone_optimizer", "count_nonfinite", "evaluate_accuracy", "label_findings",
           "optimizer_factory", "python_subject", "recipe_subject", "sample_xy"]
