"""`trainwell init-stats`: the lectures' weight-initialization experiment, per layer.

    trainwell init-stats --depth 10 --width 500 --act tanh --init normal --std 0.01   # collapse
    trainwell init-stats --act tanh --init normal --std 1.0                          # saturation
    trainwell init-stats --depth 6 --width 4096 --batch 16 --std 0.05                # saturation (wide)
    trainwell init-stats --act tanh --init xavier                                    # healthy
    trainwell init-stats --act relu --init xavier      vs   --init kaiming           # collapse vs healthy
    ... --norm batch                                                                 # BatchNorm fixes all
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "forward Gaussian data through a deep net and print per-layer activation statistics (init experiment)"


def add_args(p: argparse.ArgumentParser) -> None:
    from trainwell.diagnostics.init_stats import ACTS, INITS

    p.add_argument("--depth", type=int, default=10, help="hidden layers (default 10)")
    p.add_argument("--width", type=int, default=500, help="units per layer (default 500)")
    p.add_argument("--act", default="tanh", choices=ACTS, help="activation (default tanh)")
    p.add_argument("--init", default="normal", choices=INITS, help="weight init (default normal)")
    p.add_argument("--std", type=float, default=0.01, help="std of --init normal (default 0.01)")
    p.add_argument("--batch", type=int, default=1000, help="examples in the Gaussian batch (default 1000)")
    p.add_argument("--norm", default="none", choices=("none", "batch", "layer"), help="normalization before each activation")
    p.add_argument("--backward", action="store_true", help="also back-propagate a random gradient and show gradient stats")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, metavar="FILE", help="write the per-layer statistics as JSON")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="draw per-layer histograms side by side")


def layers_json(result) -> dict:
    """{"layers": [{"index", "mean", "std", "verdict", ...}], "config", "input_std", "thresholds"} ."""
    from trainwell.diagnostics.init_stats import COLLAPSED, DEAD, EXPLODED, SATURATED

    out = result.to_json()
    out["thresholds"] = {"collapsed_below": COLLAPSED, "exploded_above": EXPLODED, "saturated_above": SATURATED,
                         "dead_from": DEAD}
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from trainwell.diagnostics.init_stats import COLLAPSED, DEAD, EXPLODED, SATURATED, init_stats

    result = init_stats(depth=args.depth, width=args.width, act=args.act, init=args.init, std=args.std,
                          batch=args.batch, norm=None if args.norm == "none" else args.norm,
                          backward=args.backward, seed=args.seed)
    s0 = result.input_std
    console = Console()
    what = f"{args.init}" + (f"(std={args.std:g})" if args.init == "normal" else "")
    table = Table(title=f"init-stats · {args.depth}×{args.width} {args.act} · init {what} · norm {args.norm} · batch {args.batch}")
    for col in ("layer", "mean", "std") + (("grad mean", "grad std") if args.backward else ()) + ("extra", "verdict"):
        table.add_column(col, justify="right" if col not in ("verdict", "extra") else "left")
    colors = {"healthy": "green", "collapsed": "blue", "saturated": "red", "exploded": "magenta", "dead": "yellow"}
    for l in result.layers:
        extra = ""
        if l.saturated_frac is not None:
            extra = f"{l.saturated_frac:.0%} saturated"
        elif l.dead_frac is not None:
            extra = f"{l.dead_frac:.0%} dead"
        row = [str(l.index), f"{l.mean:+.4f}", f"{l.std:.4g}"]
        if args.backward:
            row += [f"{l.grad_mean:+.3g}" if l.grad_mean is not None else "", f"{l.grad_std:.3g}" if l.grad_std is not None else ""]
        row += [extra, f"[{colors[l.verdict]}]{l.verdict}[/{colors[l.verdict]}]"]
        table.add_row(*row)
    console.print(table)
    console.print(f"input std s₀ = {s0:.4f}. Verdicts (in this order): saturated = tanh/sigmoid with > "
                  f"{SATURATED:.0%} of outputs in the tails (|tanh| > 0.99; sigmoid < 0.01 or > 0.99); "
                  f"dead = ReLU with ≥ {DEAD:.0%} of units that never fire on the batch; "
                  f"collapsed = std < {COLLAPSED:g}·s₀; exploded = std > {EXPLODED:g}·s₀; healthy otherwise.")
    if args.json:
        from trainwell.io import atomic_write_json

        atomic_write_json(args.json, layers_json(result))
        console.print(f"wrote {args.json}")
    if args.plot:
        from trainwell.report.diagnostics_plots import plot_init_histograms

        plot_init_histograms(result.to_json(), args.plot)
        console.print(f"wrote {args.plot}")
    return 0
