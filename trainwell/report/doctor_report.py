"""The doctor's diagnosis as a rich table, an HTML section and `doctor.html` with plots — from the plain record.

    rich_table(d.to_json())                       # the checklist (causes first, symptoms under them)
    diagnosis_html(d.to_json())                   # an HTML section (no page around it)
    write_doctor_report(d.to_json(), out_dir)     # out_dir/doctor.html + PNGs

Plots (read plain records only; matplotlib is imported only to draw them): activation histograms
per layer at init, mid-run and at the end of the short run; gradient norm per parameter over steps;
the stats overview (activation std, dead/saturated fraction, update/weight ratio); the LR-finder curve.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

STYLE = {"pass": "green", "info": "cyan", "warn": "yellow", "fail": "bold red"}


def _advice(f: dict[str, Any], kind: str) -> str:
    p = f.get("prescription")
    if not p:
        return ""
    if kind == "recipe" and p.get("set"):
        return f"{p['text']}: {p['set']}"
    if p.get("code"):
        return f"{p['text']}: {p['code']}"
    return p["text"]


def headline(result: dict[str, Any]) -> str:
    """One paragraph: the diagnosis and what to do (or that nothing was found)."""
    t = result.get("top")
    kind = result.get("subject", {}).get("kind", "recipe")
    if t is None:
        return "No fault found: every check passed or gave information only."
    n = sum(1 for f in result["findings"] if f.get("explained_by") == t["code"])
    also = f" It explains {n} other finding(s)." if n else ""
    fix = _advice(t, kind)
    return f"Diagnosis: {t['code']} — {t['message']}.{also}" + (f" Do: {fix}." if fix else "")


def rich_table(result: dict[str, Any], show_passes: bool = True):
    """The checklist as a rich Table (symptoms indented under their cause)."""
    from rich.table import Table

    kind = result.get("subject", {}).get("kind", "recipe")
    table = Table(show_lines=False, title=headline(result), title_justify="left")
    table.add_column("severity")
    table.add_column("finding")
    table.add_column("where")
    table.add_column("evidence and prescription", overflow="fold")
    for f in result["findings"]:
        if f["severity"] == "pass" and not show_passes:
            continue
        s = f["severity"]
        code = f["code"] if not f.get("explained_by") else f"  └ {f['code']}"
        text = f["message"]
        if f.get("explained_by"):
            text += f" [dim](a symptom of {f['explained_by']})[/dim]"
        elif f["severity"] in ("warn", "fail", "info") and f.get("prescription"):
            text += f"\n→ {_advice(f, kind)}"
        table.add_row(f"[{STYLE[s]}]{s}[/{STYLE[s]}]", code, f.get("where") or "", text)
    return table


def checklist_html(findings: list[dict[str, Any]], kind: str = "recipe") -> str:
    rows = ["<table><tr><th>severity</th><th>finding</th><th>where</th><th>evidence and prescription</th></tr>"]
    for f in findings:
        s = f["severity"]
        code = html.escape(f["code"]) if not f.get("explained_by") else f"&nbsp;&nbsp;└ {html.escape(f['code'])}"
        text = html.escape(f["message"])
        if f.get("explained_by"):
            text += f" <i>(a symptom of {html.escape(f['explained_by'])})</i>"
        elif s != "pass" and f.get("prescription"):
            text += f"<br>→ <code>{html.escape(_advice(f, kind))}</code>"
        rows.append(f"<tr><td class='{s}'><b>{s.upper()}</b></td><td>{code}</td>"
                    f"<td>{html.escape(f.get('where') or '')}</td><td>{text}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def diagnosis_html(result: dict[str, Any]) -> str:
    """An HTML section: the headline, the counts and the checklist."""
    findings = result["findings"]
    kind = result.get("subject", {}).get("kind", "recipe")
    counts = {s: sum(f["severity"] == s for f in findings) for s in ("fail", "warn", "info", "pass")}
    return (f"<section class='doctor'><p><b>{html.escape(headline(result))}</b></p>"
            f"<p>{counts['fail']} fail · {counts['warn']} warn · {counts['info']} info · {counts['pass']} pass</p>"
            + checklist_html(findings, kind) + "</section>")


def plot_activation_histograms(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Rows: captured steps (first, middle, last); columns: activation layers; one histogram each."""
    from trainwell.report.diagnostics_plots import _save, plt

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
    from trainwell.report.diagnostics_plots import _save, plt

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


def write_doctor_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """out_dir/doctor.html with the diagnosis, the checklist and the plots; returns the page's path."""
    from trainwell.report.diagnostics_plots import plot_layer_stats, plot_lr_finder
    from trainwell.report.html import images, write_page

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = [("diagnosis", diagnosis_html(result))]
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
    name = result.get("subject", {}).get("name") or result.get("recipe", {}).get("name", "")
    return write_page(out / "doctor.html", f"trainwell doctor · {name}", sections)


__all__ = ["checklist_html", "diagnosis_html", "headline", "plot_activation_histograms", "plot_grad_norms",
           "rich_table", "write_doctor_report"]
