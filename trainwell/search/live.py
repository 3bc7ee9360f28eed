"""Rich tables of a search: the live view while it runs and the ranked table at the end."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from trainwell.search.records import ranked


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def trials_table(records: list[dict[str, Any]], title: str, keys: list[str], limit: int = 15, best_first: bool = False) -> Table:
    rows = ranked(records)[:limit] if best_first else records[-limit:]
    table = Table(title=title)
    for col in ["#", "slot"] + keys + ["val acc", "state", "note"]:
        table.add_column(col, justify="right" if col not in ("slot", "state", "note") else "left")
    for r in rows:
        value = f"{100 * r['value']:.2f}%" if r.get("value") is not None else "—"
        note = r.get("error", "") if r["state"] == "FAIL" else r.get("engine", "")
        style = {"FAIL": "red", "RUNNING": "yellow", "WAITING": "dim"}.get(r["state"])
        table.add_row(str(r["number"]), str(r["slot"]), *[_fmt(r["params"].get(k)) for k in keys], value,
                      r["state"], str(note)[:60], style=style)
    return table


def progress_line(records: list[dict[str, Any]], stage: int, total: int) -> str:
    mine = [r for r in records if r["stage"] == stage]
    done = sum(r["state"] == "COMPLETE" or (r["state"] == "FAIL" and not r.get("interrupted")) for r in mine)
    running = sum(r["state"] == "RUNNING" for r in mine)
    best = ranked(records)
    top = f", best so far {100 * best[0]['value']:.2f}% (trial {best[0]['number']})" if best else ""
    return f"stage {stage}: {done}/{total} done, {running} running{top}"


class LiveView:
    """A rich Live table refreshed from study records (no-op when `enabled` is False)."""

    def __init__(self, keys: list[str], enabled: bool = True, console: Console | None = None):
        self.keys = keys
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.live: Live | None = None

    def __enter__(self) -> "LiveView":
        if self.enabled:
            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def update(self, records: list[dict[str, Any]], stage: int, total: int) -> None:
        if self.live is not None:
            self.live.update(trials_table(records, progress_line(records, stage, total), self.keys))

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
            self.live = None
