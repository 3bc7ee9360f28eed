"""Export a trained run for inference, and prove the export computes what the run does.

    result = export_run(load_trained("runs/mnist1d-cnn"), "onnx", "model.onnx", x_test_raw)
    result.max_abs_diff, result.speed_ratio

The exported graph takes RAW inputs: the run's fitted preprocessing is folded in front of the
model (`Pipeline.as_module`), and every BatchNorm that follows a Linear/Conv is folded into it
(`trainwell.nn.fold_batchnorm`). Formats:

| format      | file   | runs with                         | note                                                  |
|-------------|--------|-----------------------------------|-------------------------------------------------------|
| onnx        | .onnx  | onnxruntime (`trainwell[onnx]`)   | `torch.onnx.export(dynamo=True)`, dynamic batch axis  |
| export      | .pt2   | `torch.export.load(path).module()`| torch.export's ExportedProgram (PyTorch's own format) |
| torchscript | .pt    | `torch.jit.load(path)`            | traced; PyTorch deprecates TorchScript — prefer export|

Verification: the exported file is loaded back and run on the given inputs; the largest absolute
difference of its outputs from the eager model's (preprocessing + model, unfolded) is reported, and
the speed ratio eager / exported (median of repeated timed passes over the same inputs, both in
this process, one thread).
"""
from __future__ import annotations

import copy
import logging
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.assemble.load import Trained
from trainwell.errors import UserError

FORMATS = {"onnx": ".onnx", "export": ".pt2", "torchscript": ".pt"}


class Deployable(nn.Module):
    """Preprocessing then the (BatchNorm-folded) model: raw inputs in, outputs out."""

    def __init__(self, preprocess: nn.Module, model: nn.Module):
        super().__init__()
        self.preprocess, self.model = preprocess, model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.preprocess(x))


@dataclass
class ExportResult:
    format: str
    path: Path
    max_abs_diff: float
    max_rel_diff: float
    speed_ratio: float          # eager seconds / exported seconds (> 1: the export is faster)
    eager_ms: float
    exported_ms: float
    examples: int
    batchnorms_folded: int
    same_predictions: float     # fraction of examples whose argmax agrees (classification)

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def deployable(trained: Trained) -> tuple[nn.Module, int]:
    """(raw-input module with preprocessing folded in and BatchNorm folded, number of BNs folded)."""
    from trainwell.nn.fold_bn import count_batchnorms, fold_batchnorm

    model = copy.deepcopy(trained.model).cpu().eval()
    before = count_batchnorms(model)
    folded = fold_batchnorm(model)
    pre = trained.pipeline.as_module() if trained.pipeline is not None and len(trained.pipeline) else nn.Identity()
    return Deployable(pre, folded).eval(), before - count_batchnorms(folded)


@contextmanager
def _quiet_exporter():
    """PyTorch's exporters log and warn about their own internals (missing torchvision ops,
    deprecations inside torch): not the user's business; errors still raise."""
    names = ["torch.onnx", "torch.export", "torch._export", "torch.fx", "onnxscript"]
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\..*")
            yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def _need(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(f"exporting needs the package {module!r}: pip install 'trainwell[{extra}]'")


def write(module: nn.Module, fmt: str, path: Path, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Write `module` in `fmt` to `path`; returns a function running the written file on a batch."""
    from trainwell.io import atomic_write, ensure_dir

    ensure_dir(path.parent, "output folder")
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter(), torch.no_grad():
        if fmt == "onnx":
            _need("onnxscript", "onnx")
            _need("onnxruntime", "onnx")
            program = torch.onnx.export(module, (example,), None, dynamo=True, input_names=["x"], output_names=["y"],
                                        dynamic_shapes=({0: batch},), verbose=False)
            atomic_write(path, lambda h: h.write(program.model_proto.SerializeToString()))
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            return lambda x: torch.from_numpy(session.run(None, {"x": x.numpy()})[0])
        if fmt == "export":
            program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
            atomic_write(path, lambda h: torch.export.save(program, h))
            loaded = torch.export.load(str(path)).module()
            return lambda x: loaded(x)
        if fmt == "torchscript":
            traced = torch.jit.trace(module, example)
            atomic_write(path, lambda h: torch.jit.save(traced, h))
            loaded = torch.jit.load(str(path)).eval()
            return lambda x: loaded(x)
    raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")



def _time(fn, x: torch.Tensor, repeats: int) -> float:
    times = []
    with torch.no_grad():
        fn(x)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def export_run(trained: Trained, fmt: str, path: str | Path, x_raw: torch.Tensor, repeats: int = 15) -> ExportResult:
    """Export `trained` (see the module docstring), verify it on `x_raw`, measure its speed."""
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path)
    module, folded = deployable(trained)
    x = x_raw.detach().float().cpu()
    example = x[: min(len(x), 8)]
    run_exported = write(module, fmt, path, example)
    eager = copy.deepcopy(trained.model).cpu().eval()

    def reference(batch: torch.Tensor) -> torch.Tensor:
        return eager(trained.preprocess(batch))

    with torch.no_grad():
        want = reference(x).float()
        got = run_exported(x).float()
    if got.shape != want.shape:
        raise UserError(f"the exported model gives outputs of shape {tuple(got.shape)}, the eager one {tuple(want.shape)}")
    diff = (got - want).abs()
    eager_s = _time(reference, x, repeats)
    exported_s = _time(run_exported, x, repeats)
    same = float((got.argmax(-1) == want.argmax(-1)).float().mean()) if want.dim() == 2 else float("nan")
    return ExportResult(fmt, path, float(diff.max()), float((diff / want.abs().clamp_min(1e-6)).max()),
                        eager_s / exported_s, 1e3 * eager_s, 1e3 * exported_s, len(x), folded, same)


__all__ = ["Deployable", "ExportResult", "FORMATS", "deployable", "export_run"]
