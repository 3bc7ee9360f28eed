"""The doctor's suite: broken setups with one known fault each, and healthy ones.

    OMP_NUM_THREADS=1 python bench/doctor_suite/run.py                 # diagnose every setup (quick budget)
    OMP_NUM_THREADS=1 python bench/doctor_suite/run.py --fix           # + repair the recipe faults and train
    OMP_NUM_THREADS=1 python bench/doctor_suite/run.py --timing        # + the default recipe, standard budget
    python bench/doctor_suite/run.py --only lr_high_adam softmax_before_ce

Setups: recipes/*.toml (a `# fault: CODE[, CODE]` line names the fault and the codes that count as
naming it, `# healthy: NAME` its healthy counterpart), python/*.py (plain PyTorch, `FAULT = "CODE"`,
loaded as `file.py:make` by `trainwell.commands.user_code`), and every packaged recipe (healthy).

Per setup: the doctor's top finding (the first cause nothing else explains), hit = it is one of the
fault's codes (healthy: nothing found), false alarms = other causes found (distinct codes of
unexplained warnings/failures besides the fault). With --fix, each recipe fault goes through
`trainwell doctor --fix` and the repaired recipe is trained with the recipe's own budget next to its
healthy counterpart: repaired = test accuracy within 2 points of the counterpart's (or above it);
without a counterpart (class imbalance: accuracy is the wrong measure) the balanced test accuracy
(mean per-class recall) must rise by ≥ 5 points.

Writes bench/results/doctor_suite.json and prints the table (README has a copy).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def parse_truth(path: Path) -> tuple[list[str], str | None]:
    text = path.read_text()
    if path.suffix == ".toml":
        fault = re.search(r"^# fault: (.+)$", text, re.M)
        healthy = re.search(r"^# healthy: (.+)$", text, re.M)
        codes = [c.strip() for c in fault.group(1).split(",")] if fault else []
        codes = [] if codes == ["none"] else codes
        return codes, (healthy.group(1).strip() if healthy and healthy.group(1).strip() != "-" else None)
    m = re.search(r'^FAULT = "([^"]+)"', text, re.M)
    return ([c.strip() for c in m.group(1).split(",")] if m else []), None


def setups(only: list[str] | None) -> list[dict]:
    from trainwell.config import packaged_recipes

    out = []
    for path in sorted((HERE / "recipes").glob("*.toml")):
        codes, healthy = parse_truth(path)
        out.append({"name": path.stem, "kind": "recipe", "target": str(path), "fault": codes, "healthy": healthy})
    for path in sorted((HERE / "python").glob("*.py")):
        if path.name.startswith("_"):
            continue
        codes, _ = parse_truth(path)
        out.append({"name": path.stem, "kind": "python", "target": f"{path}:make", "fault": codes, "healthy": None})
    for name in packaged_recipes():
        out.append({"name": f"packaged:{name}", "kind": "packaged", "target": name, "fault": [], "healthy": None})
    if only:
        out = [s for s in out if s["name"] in only or s["name"].split(":")[-1] in only]
    return out


def diagnose_setup(s: dict, cfg) -> tuple[object, float, float]:
    from trainwell.config import load_recipe
    from trainwell.doctor import diagnose, doctor

    t, w = time.process_time(), time.perf_counter()
    if s["kind"] == "python":
        from trainwell.commands.user_code import load_user_setup

        u = load_user_setup(s["target"])
        d = doctor(u.model, u.train, u.val, loss=u.loss, optimizer=u.optimizer, budget=cfg, name=u.source)
    else:
        d = diagnose(load_recipe(s["target"]), cfg)
    return d, time.process_time() - t, time.perf_counter() - w


def score(s: dict, d) -> dict:
    top = d.top
    causes = sorted({f.code for f in d.causes})
    fault = set(s["fault"])
    hit = (top is None) if not fault else (top is not None and top.code in fault)
    false = [c for c in causes if c not in fault]
    return {"name": s["name"], "kind": s["kind"], "fault": s["fault"][0] if s["fault"] else "none",
            "top": top.code if top else None, "hit": hit, "false_alarms": false,
            "prescription": top.advice("python" if s["kind"] == "python" else "recipe") if top else ""}


def train_accuracy(recipe) -> tuple[float, float]:
    """(test accuracy, balanced test accuracy) of `recipe` trained with its own budget (the assembly)."""
    import torch

    from trainwell.assemble import from_recipe
    from trainwell.doctor.run_checks import balanced_accuracy

    from trainwell.errors import UserError

    try:
        run = from_recipe(recipe)
    except UserError:  # data the loader refuses (NaN inputs): nothing to train
        return math.nan, math.nan
    state = run.fit()
    if state.diverged:
        return math.nan, math.nan
    b = run.data.bundle
    run.model.eval()
    with torch.no_grad():
        pred = run.model(b.x_test).argmax(1)
    return float((pred == b.y_test).float().mean()), balanced_accuracy(pred, b.y_test, b.num_classes)


def fix_setup(s: dict, cfg) -> dict:
    from trainwell.config import load_recipe
    from trainwell.doctor.fix import fix_recipe

    recipe = load_recipe(s["target"])
    t = time.process_time()
    result = fix_recipe(recipe, cfg, max_steps=3)
    out = {"name": s["name"], "fault": s["fault"][0], "edits": result.edits, "changed": result.changed,
           "steps": len(result.steps), "fix_cpu_s": time.process_time() - t}
    healthy = load_recipe(HERE / "recipes" / f"{s['healthy']}.toml") if s["healthy"] else None
    out["acc_broken"], out["bal_broken"] = train_accuracy(recipe)
    out["acc_fixed"], out["bal_fixed"] = train_accuracy(result.recipe) if result.changed else (out["acc_broken"], out["bal_broken"])
    out["acc_healthy"], out["bal_healthy"] = train_accuracy(healthy) if healthy is not None else (math.nan, math.nan)
    fixed, ref = out["acc_fixed"], out["acc_healthy"]
    if healthy is not None:
        out["criterion"] = "test accuracy within 2 points of the healthy counterpart"
        out["repaired"] = bool(result.changed and fixed == fixed and ref == ref and fixed >= ref - 0.02)
    else:  # no healthy counterpart (class imbalance): the balanced test accuracy must rise by ≥ 5 points
        out["criterion"] = "balanced test accuracy +5 points"
        out["repaired"] = bool(result.changed and out["bal_fixed"] >= out["bal_broken"] + 0.05)
    return out


def timing(repeats: int = 3) -> dict:
    """The default recipe, standard budget: median CPU and wall time over `repeats` runs."""
    from trainwell.config import load_recipe
    from trainwell.doctor import DoctorConfig, diagnose

    cpu, wall, found = [], [], []
    for _ in range(repeats):
        t, w = time.process_time(), time.perf_counter()
        d = diagnose(load_recipe("default"), DoctorConfig())
        cpu.append(time.process_time() - t)
        wall.append(time.perf_counter() - w)
        found.append([f.code for f in d.problems])
    import os

    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall), "cpu_all": cpu, "wall_all": wall,
            "problems": found, "threads": __import__("torch").get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_avg": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", help="setup names to run")
    p.add_argument("--budget", default="quick", choices=("quick", "standard"))
    p.add_argument("--fix", action="store_true", help="also repair the recipe faults and train the results")
    p.add_argument("--timing", action="store_true", help="also time the default recipe (standard budget)")
    p.add_argument("--out", type=Path, default=HERE.parent / "results" / "doctor_suite.json")
    args = p.parse_args(argv)

    from data import build

    from trainwell.doctor import DoctorConfig

    build()
    cfg = DoctorConfig() if args.budget == "standard" else DoctorConfig().quick()
    rows = []
    for s in setups(args.only):
        d, cpu, wall = diagnose_setup(s, cfg)
        row = {**score(s, d), "cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}
        rows.append(row)
        mark = "hit " if row["hit"] else "MISS"
        print(f"{mark} {row['name']:34s} fault={row['fault']:26s} top={str(row['top']):26s} "
              f"false={row['false_alarms']} cpu={cpu:.1f}s", flush=True)
    broken = [r for r in rows if r["fault"] != "none"]
    healthy = [r for r in rows if r["fault"] == "none"]
    summary = {
        "broken": len(broken), "named": sum(r["hit"] for r in broken),
        "named_rate": sum(r["hit"] for r in broken) / max(len(broken), 1),
        "python_broken": sum(r["kind"] == "python" for r in broken),
        "false_alarms_per_setup": sum(len(r["false_alarms"]) for r in rows) / max(len(rows), 1),
        "healthy": len(healthy), "healthy_clean": sum(r["hit"] for r in healthy),
        "packaged_with_warning": [r["name"] for r in healthy if r["kind"] == "packaged" and not r["hit"]],
        "budget": args.budget, "cpu_s_total": sum(r["cpu_s"] for r in rows),
    }
    result = {"summary": summary, "setups": rows}
    if args.fix:
        fixes = []
        for s in setups(args.only):
            if s["kind"] != "recipe" or not s["fault"]:
                continue
            f = fix_setup(s, cfg)
            fixes.append(f)
            print(f"{'fixed' if f['repaired'] else 'NOT  '} {f['name']:28s} edits={f['edits']} "
                  f"acc broken {f['acc_broken']:.3f} fixed {f['acc_fixed']:.3f} healthy {f['acc_healthy']:.3f}",
                  flush=True)
        result["fix"] = fixes
        summary["fix_repaired"] = sum(f["repaired"] for f in fixes)
        summary["fix_total"] = len(fixes)
        summary["fix_rate"] = summary["fix_repaired"] / max(len(fixes), 1)
    if args.timing:
        summary["timing_default"] = timing()
    print(json.dumps(summary, indent=2))
    print()
    print("| setup | kind | true fault | doctor's top finding | hit | false alarms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['kind']} | {r['fault']} | {r['top'] or '—'} | {'✓' if r['hit'] else '✗'} | "
              f"{', '.join(r['false_alarms']) or '—'} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
