"""Rich tables of a search: the live view while it runs and the ranked table at the end."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from trainwell.search.records import ranked

STYLES = {"FAIL": "red", "PRUNED": "magenta", "RUNNING": "yellow", "WAITING": "dim"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _figure(r: dict[str, Any], metric: str) -> str:
    if r.get("value") is None:
        return "—"
    return f"{r['value']:.4f}" if metric == "val_loss" else f"{100 * r['value']:.2f}%"


def trials_table(records: list[dict[str, Any]], title: str, keys: list[str], limit: int = 15, best_first: bool = False,
                 direction: str = "maximize", metric: str = "accuracy") -> Table:
    rows = ranked(records, direction)[:limit] if best_first else records[-limit:]
    table = Table(title=title)
    for col in ["trial"] + keys + ["val loss" if metric == "val_loss" else "val acc", "steps", "state", "note"]:
        table.add_column(col, justify="left" if col in ("trial", "state", "note") else "right")
    for r in rows:
        note = r.get("error") or r.get("pruned") or r.get("engine", "")
        steps = f"{r.get('steps_run', '—')}/{r.get('steps_budget', r.get('steps', '—'))}"
        table.add_row(str(r["trial"]), *[_fmt(r["params"].get(k)) for k in keys], _figure(r, metric), steps,
                      r["state"], str(note)[:60], style=STYLES.get(r["state"]))
    return table


def progress_line(records: list[dict[str, Any]], stages: int, direction: str = "maximize", metric: str = "accuracy") -> str:
    stage = max((r["stage"] for r in records), default=1)
    mine = [r for r in records if r["stage"] == stage]
    done = sum(r["state"] in ("COMPLETE", "PRUNED") or (r["state"] == "FAIL" and not r.get("retried")) for r in mine)
    running = sum(r["state"] == "RUNNING" for r in mine)
    best = ranked(mine, direction)
    top = f", best so far {_figure(best[0], metric)} ({best[0]['trial']})" if best else ""
    return f"stage {stage}/{stages}: {done} done, {running} running{top}"


class LiveView:
    """A rich Live table refreshed from study records (no-op when `enabled` is False)."""

    def __init__(self, keys: list[str], enabled: bool = True, console: Console | None = None,
                 direction: str = "maximize", metric: str = "accuracy"):
        self.keys = keys
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.direction, self.metric = direction, metric
        self.live: Live | None = None

    def __enter__(self) -> "LiveView":
        if self.enabled:
            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def update(self, records: list[dict[str, Any]], stages: int) -> None:
        if self.live is not None:
            title = progress_line(records, stages, self.direction, self.metric)
            self.live.update(trials_table(records, title, self.keys, direction=self.direction, metric=self.metric))

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
            self.live = None
