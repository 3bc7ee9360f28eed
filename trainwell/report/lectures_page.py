""""The lectures, reproduced": one HTML page with every experiment's claim, source, table, verdict
and plot — written by `trainwell experiment all`.

    write_lectures_page([result.to_dict(), ...], out_dir)     # out_dir/index.html

Each result dict may carry "plot" (the PNG's path relative to `out_dir`, e.g.
"relu-vs-tanh/plot.png") and "error" (an experiment that failed to run: its message is shown in
place of its table). Images are linked relatively, so the folder can be moved or zipped whole.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainwell.report.html import STYLE, table

MARK = {True: ("HOLDS", "pass"), False: ("DOES NOT HOLD", "fail"), None: ("REPORTED", "warn")}
TITLE = "The lectures, reproduced"


def _mark(result: dict[str, Any]) -> tuple[str, str]:
    if result.get("error"):
        return "ERROR", "fail"
    return MARK[result.get("passed")]


def _esc(text: Any) -> str:
    return html.escape(str(text))


def summary_table(results: Sequence[dict[str, Any]]) -> str:
    rows = ["<table><tr><th>experiment</th><th>claim</th><th>source</th><th>verdict</th><th>seconds</th></tr>"]
    for r in results:
        word, cls = _mark(r)
        rows.append(f"<tr><td><a href='#{_esc(r['name'])}'><code>{_esc(r['name'])}</code></a></td>"
                    f"<td>{_esc(r.get('claim', ''))}</td><td>{_esc(r.get('source', ''))}</td>"
                    f"<td class='{cls}'><b>{word}</b></td><td>{float(r.get('seconds', 0.0)):.1f}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def section(result: dict[str, Any]) -> str:
    word, cls = _mark(result)
    name = result["name"]
    parts = [f"<h2 id='{_esc(name)}'><code>{_esc(name)}</code> — <span class='{cls}'>{word}</span></h2>",
             f"<p><b>Claim.</b> {_esc(result.get('claim', ''))}<br><b>Source.</b> {_esc(result.get('source', ''))}</p>"]
    if result.get("setting"):
        parts.append(f"<p><b>Setting.</b> {_esc(result['setting'])}</p>")
    if result.get("error"):
        parts.append(f"<pre class='fail'>{_esc(result['error'])}</pre>")
        return "\n".join(parts)
    parts.append(table(result.get("rows", []), result.get("columns", [])))
    tol = f" <i>(criterion: {_esc(result['tolerance'])})</i>" if result.get("tolerance") else ""
    parts.append(f"<p class='{cls}'><b>{word}.</b> {_esc(result.get('verdict', ''))}{tol}</p>")
    if result.get("notes"):
        parts.append(f"<p><b>How to read it.</b> {_esc(result['notes'])}</p>")
    if result.get("plot"):
        parts.append(f"<img src='{_esc(result['plot'])}' alt='plot of {_esc(name)}'>")
    parts.append(f"<p><small>budget {_esc(result.get('budget', ''))}, {float(result.get('seconds', 0.0)):.1f} s; "
                 f"<code>trainwell experiment {_esc(name)}</code></small></p>")
    return "\n".join(parts)


def lectures_page(results: Sequence[dict[str, Any]], budget: str = "") -> str:
    held = sum(1 for r in results if r.get("passed") is True and not r.get("error"))
    failed = sum(1 for r in results if r.get("passed") is False and not r.get("error"))
    errors = sum(1 for r in results if r.get("error"))
    total = sum(float(r.get("seconds", 0.0)) for r in results)
    intro = (f"<p>{len(results)} claims of the \"Training Neural Networks\" lectures, each measured with trainwell "
             f"({_esc(budget)} budget): <span class='pass'>{held} hold</span>, <span class='fail'>{failed} do not hold"
             f"</span>{f', {errors} failed to run' if errors else ''} on these small data sets; {total:.0f} s in all. "
             "Where a claim does not hold, its section says what was measured and why.</p>")
    body = [intro, summary_table(results)] + [section(r) for r in results]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{TITLE}</title><style>{STYLE}</style></head>"
            f"<body><h1>{TITLE}</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def write_lectures_page(results: Sequence[dict[str, Any]], out_dir: str | Path, budget: str = "") -> Path:
    from trainwell.io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out / "index.html", lectures_page(results, budget))
