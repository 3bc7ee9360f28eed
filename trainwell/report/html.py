"""A minimal, dependency-free HTML page: a title, tables, notes and images next to the file.

Pages and images are written atomically (`trainwell.io`): a reader never sees half a report.
"""
from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainwell.io import atomic_write_bytes, atomic_write_text

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; } .grid { display: flex; flex-wrap: wrap; gap: 1em; }
.grid img { max-width: 520px; } .pass { color: #18794e; } .warn { color: #b35900; } .fail { color: #c62828; }
.note { color: #555; } details { margin: 1em 0; } summary { cursor: pointer; }
"""


def table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def note(text: str, kind: str = "note") -> str:
    """A paragraph of plain text (escaped); `kind` is a CSS class: note, pass, warn, fail."""
    return f'<p class="{html.escape(kind)}">{html.escape(text)}</p>'


def details(title: str, content: str) -> str:
    """A collapsed block (`content` is HTML)."""
    return f"<details><summary>{html.escape(title)}</summary>\n{content}\n</details>"


def images(names: Sequence[str]) -> str:
    return '<div class="grid">' + "".join(f'<img src="{html.escape(n)}" alt="{html.escape(n)}">' for n in names) + "</div>"


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{content}\n" for h, content in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n")


def write_page(path: Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    return atomic_write_text(path, page(title, sections))


def write_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
