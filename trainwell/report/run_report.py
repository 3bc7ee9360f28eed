"""The report of one training run: report.html and its PNGs, written into the run directory.

    write_run_report("runs/mnist1d-cnn")     # what `trainwell train` and `trainwell report RUN` do

What the page shows, all read from the run's plain records (never a live model):

* **summary** (summary.json): the status (and why a run stopped), the task and why it was chosen,
  the test figures and WHICH weights gave them (best on validation, final, EMA, SWA), the best
  validation figure and its step, the final figures, time, device, model and data;
* **curves** (metrics.jsonl): the loss and every metric the task logs (`records.metric_names`:
  accuracy for classification; label_accuracy, exact_match for multi-label; mse, rmse, mae, r2 for
  regression — so a regression run never shows an accuracy plot), training as a line, validation
  as dots;
* **optimization**: the learning rate and, when logged (train.log_grad_norm or clipping), the
  global gradient norm;
* **per-layer statistics** when the run has stats.jsonl (a `StatsCallback` ran): activation
  mean/std, dead/saturated fractions, gradient norms and update/weight ratios per layer
  (`trainwell.report.stats_plots`);
* the resolved recipe (config.json).

Log axes (loss, mse/rmse/mae, lr, gradient norms, std, ratios) are used only when every finite
value is positive, and draw only finite positive values; non-finite values (a diverged run) are
not drawn but named under the plot. A metrics file that is binary, corrupt or holds records that
are not trainwell's raises `UserError` naming the file (the CLI: exit 2, no traceback).
"""
from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.errors import UserError  # noqa: E402
from trainwell.report.html import details, images, note, table, write_figure, write_page  # noqa: E402
from trainwell.report.records import is_number, metric_names, read_records, series  # noqa: E402

LOG_SCALE = ("loss", "mse", "rmse", "mae")       # figures that span decades: log y when all positive
TASK_LOSS = {"classification": "cross-entropy", "multilabel": "binary cross-entropy", "regression": "MSE"}
TASK_OF_METRIC = {"accuracy": "classification", "label_accuracy": "multilabel", "mse": "regression"}


def is_percent(name: str) -> bool:
    """Figures shown in % (accuracy, label_accuracy, exact_match)."""
    return name.endswith("accuracy") or name == "exact_match"


def _log_axis(values: list[float]) -> bool:
    shown = [v for v in values if math.isfinite(v)]
    return bool(shown) and all(v > 0 for v in shown)


def curve_figure(lines: list[tuple[str, str, list[float], list[float]]], title: str, ylabel: str, log: bool | None,
                 scale: float = 1.0, note_text: str = "") -> Any:
    """A figure of each (label, style, steps, values) line. `log` None: a log y axis when every
    finite value is > 0; on a log axis only finite positive values are drawn. Non-finite values are
    never drawn and their steps are named under the plot. Returned (the tests read its axes)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    every = [v for _, _, _, values in lines for v in values]
    if log is None:
        log = _log_axis(every)
    bad: list[float] = []
    for label, style, steps, values in lines:
        shown = [scale * v if math.isfinite(v) and (v > 0 or not log) else math.nan for v in values]
        bad += [s for s, v in zip(steps, values) if not math.isfinite(v)]
        if any(v == v for v in shown):
            ax.plot(steps, shown, style, label=label, markersize=3)
    if log and any(v > 0 and math.isfinite(v) for v in every):
        ax.set_yscale("log")
    if bad:
        shown_steps = ", ".join(f"{s:g}" for s in sorted(set(bad))[:8]) + (" ..." if len(set(bad)) > 8 else "")
        note_text = (note_text + "\n" if note_text else "") + f"not finite (not drawn) at step {shown_steps}"
    if note_text:
        ax.text(0.01, 0.01, note_text, transform=ax.transAxes, fontsize=7, va="bottom", color="#a00" if bad else "#444")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(lines) > 1 and ax.lines:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".png"


def curve_figures(records: list[dict], task: str | None = None, loss_name: str | None = None) -> dict[str, Any]:
    """PNG name → figure: loss.png, one per other metric of the records (accuracy.png, mse.png,
    r2.png ...), lr.png and grad_norm.png (when logged), in that order."""
    figures: dict[str, Any] = {}
    loss_label = loss_name or TASK_LOSS.get(task or "", "")
    for metric in metric_names(records):
        lines = [(split, style, *series(records, split, metric)) for split, style in (("train", "-"), ("val", "o-"))]
        lines = [line for line in lines if line[2]]
        if not lines:
            continue
        percent = is_percent(metric)
        ylabel = f"{metric} (%)" if percent else (f"loss ({loss_label})" if metric == "loss" and loss_label else metric)
        log = None if metric in LOG_SCALE else False
        figures[_file_name(metric)] = curve_figure(lines, metric, ylabel, log, scale=100.0 if percent else 1.0)
    steps, lrs = series(records, "train", "lr")
    if steps:
        figures["lr.png"] = curve_figure([("lr", "-", steps, lrs)], "learning-rate schedule", "learning rate", None,
                                         note_text="" if _log_axis(lrs) else "linear axis: the LR reaches 0")
    steps, norms = series(records, "train", "grad_norm")
    if steps:
        figures["grad_norm.png"] = curve_figure([("grad_norm", "-", steps, norms)],
                                                "global gradient norm ‖g‖ (before clipping)", "‖g‖", None)
    return figures


def plot_curves(records: list[dict], out: Path, task: str | None = None, loss_name: str | None = None) -> list[str]:
    """Write the PNGs of `curve_figures` into `out`; return their names."""
    figures = curve_figures(records, task, loss_name)
    for name, fig in figures.items():
        write_figure(fig, out / name)
    return list(figures)


# ---------------------------------------------------------------------------------------- summary
def _figure(name: str, value: Any) -> str:
    if not is_number(value):
        return "—" if value is None else str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{100 * value:.2f} %" if is_percent(name) else f"{value:.4g}"


def _figures(summary: dict[str, Any], prefix: str, names: list[str]) -> str:
    shown = [f"{n} {_figure(n, summary[prefix + n])}" for n in names if prefix + n in summary]
    return " · ".join(shown)


def summary_rows(summary: dict[str, Any], metrics: list[str]) -> list[tuple[str, str]]:
    """The facts a person reads first, in order (the whole summary.json follows in a table)."""
    s = summary
    names = metrics or [k[len("val_"):] for k in s if k.startswith("val_")]
    rows: list[tuple[str, str]] = []
    status = s.get("status", "?")
    rows.append(("status", status + (f" — {s['message']}" if s.get("message") else "")))
    if "task" in s:
        rows.append(("task", f"{s['task']} ({s.get('task_reason', 'reason not recorded')})"))
    test = _figures(s, "test_", names)
    if test:
        rows.append(("test", f"{test} — weights: {s.get('test_weights', 'final')}"))
    final = _figures(s, "test_final_", names)
    if final and not str(s.get("test_weights", "final")).startswith("final"):
        rows.append(("test, final weights", final))
    for key, label in (("test_accuracy_plain", "test accuracy without TTA"), ("test_accuracy_ema", "test accuracy, EMA weights"),
                       ("test_accuracy_swa", "test accuracy, SWA weights")):
        if key in s:
            rows.append((label, _figure("accuracy", s[key])))
    monitor = s.get("monitor")
    if monitor and is_number(s.get("best_step")) and s["best_step"] >= 0:
        rows.append(("best validation", f"{monitor} {_figure(monitor.removeprefix('val_'), s.get('best_value'))} "
                                        f"at step {s['best_step']}"))
    for prefixes, label in ((("val_",), "final validation"), (("train_", ""), "final training (last log window)")):
        shown = next((found for found in (_figures(s, p, names) for p in prefixes) if found), "")
        if shown:  # (trainwell.fit's summary names the training figures without a prefix)
            rows.append((label, shown))
    if is_number(s.get("steps")):
        run = f"{s['steps']} steps"
        if is_number(s.get("epochs")):
            run += f" ({s['epochs']:.1f} epochs)"
        if is_number(s.get("train_seconds")):
            run += f" in {s['train_seconds']:.1f} s"
        if s.get("device"):
            run += f" on {s['device']}"
        rows.append(("training", run))
    if is_number(s.get("parameters")):
        rows.append(("model", f"{s['parameters']:,} parameters"))
    for key in ("data", "recipe", "seed"):
        if key in s:
            rows.append((key, str(s[key])))
    return rows


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file (binary data); the run directory's {what} is damaged") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); the run directory's {what} is damaged") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc})") from None


def _task_and_loss(summary: dict[str, Any], config: dict[str, Any], metrics: list[str]) -> tuple[str | None, str | None]:
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    task = summary.get("task") or train.get("task")
    if task is None:
        task = next((TASK_OF_METRIC[m] for m in metrics if m in TASK_OF_METRIC), None)
    loss = train.get("loss")
    loss = loss.get("name") if isinstance(loss, dict) else loss
    if loss is None and task == "classification" and train.get("label_smoothing"):
        loss = f"cross-entropy, label smoothing {train['label_smoothing']} in training"
    return task, (str(loss).replace("_", "-") if loss is not None else None)


def write_run_report(run_dir: str | Path) -> Path:
    """Write report.html (and its PNGs) into a run directory from its records (see the module docstring)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a folder (a trainwell run directory)")
    records = read_records(run_dir / "metrics.jsonl", "metrics")
    summary_path, config_path = run_dir / "summary.json", run_dir / "config.json"
    summary = _read_json(summary_path, "summary") if summary_path.exists() else {}
    config = _read_json(config_path, "recipe") if config_path.exists() else {}
    if not isinstance(summary, dict):
        raise UserError(f"{summary_path} holds a JSON {type(summary).__name__}, not a run summary (an object)")
    metrics = metric_names(records)
    task, loss_name = _task_and_loss(summary, config if isinstance(config, dict) else {}, metrics)

    sections = []
    if summary:
        rows = summary_rows(summary, [m for m in metrics if m != "loss"] + ["loss"])
        head = note(f"training stopped: {summary.get('message', '')}", "fail") if summary.get("status") not in (None, "done") else ""
        sections.append(("summary", head + table(rows) + details("every field of summary.json", table(list(summary.items())))))
    else:
        sections.append(("summary", note("no summary.json: the run has not finished (or was stopped before the end)", "warn")))
    if records:
        pngs = plot_curves(records, run_dir, task, loss_name)
        curves = [p for p in pngs if p not in ("lr.png", "grad_norm.png")]
        optim = [p for p in pngs if p in ("lr.png", "grad_norm.png")]
        sections.append(("curves", note("training: line (each point is a log window); validation: dots") + images(curves)))
        if optim:
            sections.append(("optimization", images(optim)))
    else:
        sections.append(("curves", note("metrics.jsonl holds no records yet", "warn")))
    stats_path = run_dir / "stats.jsonl"
    if stats_path.exists():
        from trainwell.report.stats_plots import plot_stats

        stats = plot_stats(read_records(stats_path, "per-layer statistics"), run_dir)
        if stats:
            sections.append(("per-layer statistics", note(
                "from stats.jsonl (StatsCallback), training steps; the step is the one the statistics were "
                "captured on (0: the network at initialization)") + images(stats)))
    if config:
        sections.append(("resolved recipe", details("config.json", f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>")))
    return write_page(run_dir / "report.html", f"trainwell run · {run_dir.name}", sections)


__all__ = ["curve_figure", "curve_figures", "is_percent", "plot_curves", "summary_rows", "write_run_report"]
