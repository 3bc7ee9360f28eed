"""Run every benchmark one after another (each prints its table and writes bench/results/*.json).

    python bench/run_all.py            # full budgets (about 45-55 minutes on 2 cores)
    python bench/run_all.py --quick    # smaller budgets where a benchmark has them
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("bench_default_recipe.py", [], []),
    ("bench_trainer_overhead.py", [], ["--quick"]),
    ("bench_stats_overhead.py", [], ["--repeats", "11"]),
    ("bench_stats_recipes.py", [], ["--repeats", "5"]),
    ("bench_fold_bn.py", ["--threads", "1"], ["--threads", "1", "--repeats", "10"]),
    ("bench_fold_bn.py", ["--threads", "1", "--malloc", "retain"], ["--threads", "1", "--malloc", "retain", "--repeats", "10"]),
    ("bench_augment.py", [], []),
    ("bench_search_vectorized.py", ["--reps", "1"], ["--quick"]),
    ("bench_vectorized.py", ["--repeats", "1"], ["--quick"]),
    ("bench_ensemble.py", [], ["--quick"]),
    ("bench_search_workers.py", [], []),
    ("bench_search_samplers.py", [], ["--steps", "300", "--seeds", "1"]),
    ("bench_search_pruning.py", [], ["--steps", "300", "--seeds", "1"]),
    ("bench_ddp.py", [], ["--quick"]),
]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for script, full_args, quick_args in BENCHES:
        args = quick_args if quick else full_args
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / script), *args])
        if rc != 0:
            failed.append(script)
    print("\nfailed to run: " + (", ".join(failed) if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
