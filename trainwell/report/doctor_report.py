"""`doctor.html`: the doctor's checklist table and its plots, from the plain result record.

    write_doctor_report(result.to_json(), out_dir)   # out_dir/doctor.html + PNGs

Plots (read plain records only): activation histograms per layer at init, mid-run and at the end
of the short run; gradient norm per parameter over steps; the stats overview (activation std,
dead/saturated fraction, update/weight ratio with the 1e-3 line); the LR-finder curve.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from trainwell.report.diagnostics_plots import _save, plot_layer_stats, plot_lr_finder, plt
from trainwell.report.html import images, write_page


def plot_activation_histograms(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Rows: captured steps (first, middle, last); columns: activation layers; one histogram each."""
    train = [r for r in records if r.get("phase", "train") == "train"]
    snaps = [train[0], train[len(train) // 2], train[-1]] if len(train) >= 3 else train
    layers = [l["name"] for l in snaps[0]["layers"] if l.get("kind")] if snaps else []
    layers = layers or ([l["name"] for l in snaps[0]["layers"]][:8] if snaps else [])
    rows, cols = max(len(snaps), 1), max(len(layers), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(max(2.0 * cols, 6), 1.8 * rows + 0.6), squeeze=False)
    for i, rec in enumerate(snaps):
        by_name = {l["name"]: l for l in rec["layers"]}
        for j, name in enumerate(layers):
            ax = axes[i][j]
            layer = by_name.get(name)
            if layer is None or not layer.get("hist"):
                ax.axis("off")
                continue
            counts, lo, hi = layer["hist"], layer["lo"], layer["hi"]
            width = (hi - lo) / len(counts) if hi > lo else 1.0
            ax.bar([lo + (k + 0.5) * width for k in range(len(counts))], counts, width=width, color="tab:blue")
            extra = layer.get("dead_frac", layer.get("saturated_frac"))
            tag = "" if extra is None else (f" dead {extra:.0%}" if "dead_frac" in layer else f" sat {extra:.0%}")
            ax.set_title(f"{name} step {rec['step']}\nσ={layer['std']:.2g}{tag}", fontsize=7)
            ax.tick_params(labelsize=5)
            ax.set_yticks([])
    fig.suptitle("activation histograms per layer through the short run")
    fig.tight_layout()
    return _save(fig, path)


def plot_grad_norms(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Gradient norm ‖∇w‖ per parameter (weights only, log y) over the captured steps."""
    train = [r for r in records if r.get("phase", "train") == "train"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    names = [p["name"] for p in train[0]["params"] if p["name"].endswith("weight")] if train else []
    steps = [r["step"] for r in train]
    for name in names:
        vals = [next((p.get("grad_norm", math.nan) for p in r["params"] if p["name"] == name), math.nan) for r in train]
        ax.plot(steps, [v if v and v > 0 else math.nan for v in vals], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("gradient norm per weight")
    if ax.lines:
        ax.legend(fontsize=6)
    return _save(fig, path)


def checklist_html(findings: list[dict[str, Any]]) -> str:
    rows = ["<table><tr><th>status</th><th>check</th><th>layer</th><th>finding and prescription</th></tr>"]
    for f in findings:
        s = f["status"]
        rows.append(f"<tr><td class='{s}'><b>{s.upper()}</b></td><td>{html.escape(f['check'])}</td>"
                    f"<td>{html.escape(f['layer'] or '')}</td><td>{html.escape(f['message'])}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def write_doctor_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """out_dir/doctor.html with the checklist and the plots; returns the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    findings = result["findings"]
    counts = {s: sum(f["status"] == s for f in findings) for s in ("pass", "warn", "fail")}
    sections = [("checklist", f"<p>{counts['fail']} fail · {counts['warn']} warn · {counts['pass']} pass</p>"
                 + checklist_html(findings))]
    pictures = []
    if result.get("stats"):
        plot_activation_histograms(result["stats"], out / "doctor_histograms.png")
        plot_grad_norms(result["stats"], out / "doctor_grad_norms.png")
        plot_layer_stats(result["stats"], out / "doctor_layer_stats.png")
        pictures += ["doctor_histograms.png", "doctor_grad_norms.png", "doctor_layer_stats.png"]
    if result.get("lr_find") and result["lr_find"]["lrs"]:
        plot_lr_finder(result["lr_find"], out / "doctor_lr_find.png")
        pictures.append("doctor_lr_find.png")
    if pictures:
        sections.append(("plots", images(pictures)))
    recipe = result.get("recipe", {})
    return write_page(out / "doctor.html", f"trainwell doctor · {recipe.get('name', '')}", sections)
