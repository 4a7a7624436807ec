"""Autofit with a `data:`-only config against one plain supervised training, side by side, per seed.

Scenarios (MNIST-5k written as image folders, the way a user's data arrives):
  few_labels:  the `make demo` layout: 40 labeled train + 10 labeled eval images per class, 3,500 unlabeled,
               1,000 held-out test images; autofit (budget as given) vs a plain `Training` run on the same
               labeled images (the fixed chain: `autofit: false`, the planned trainer settings).
  few_labels_eval200: the same 500 labels split 30 + 20 per class: 200 eval images resolve ~±6 points.
  all_labels:  the same 1,000 test images held out, every other image labeled (no unlabeled split).

Reported per scenario: test accuracy of autofit's champion and of the plain training (mean ± sd over seeds),
the paired difference, the champion chosen, and autofit's wall time as a ratio to the plain training's (both
measured in this process, one after the other, on the same machine).

    .venv/bin/python benchmarks/autofit_benchmark.py --seeds 0 1 2 --budget standard
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import format_mean_std, mean_std, write_results  # noqa: E402

SCENARIOS = {
    "few_labels": {"train": 40, "val": 10, "test": 100},  # the `make demo` layout (pipelines/demo.DEMO_SPLITS)
    "few_labels_eval200": {"train": 30, "val": 20, "test": 100},  # the same 500 labels, 200 held out
    "all_labels": {"train": 340, "val": 60, "test": 100},  # 5,000 = 10 x (340 + 60 + 100): nothing unlabeled
}


def run_scenario(name: str, seed: int, budget, work: str) -> Dict[str, object]:
    from benchmarks.common import autofit_beside_plain
    from pipelines.demo import write_semi_supervised_mnist

    root = os.path.join(work, f"{name}-{seed}")
    data = os.path.join(root, "data")
    shutil.rmtree(root, ignore_errors=True)
    counts = write_semi_supervised_mnist(data, per_class=SCENARIOS[name], seed=seed)
    both = autofit_beside_plain(data, seed, budget, root, name)
    auto, plain = both["auto"], both["plain"]
    return {
        "scenario": name, "seed": seed, "counts": counts,
        "autofit_test_accuracy": auto["evaluation"]["metrics"]["accuracy"],
        "plain_test_accuracy": plain["evaluation"]["metrics"]["accuracy"],
        "champion": auto["champion"],
        # The refit's own evidence: the chosen recipe before refit, scored on the same test images.
        "before_refit_test_accuracy": ((auto.get("refit") or {}).get("before") or {}).get("accuracy"),
        "refitted": bool((auto.get("refit") or {}).get("refit")),
        "decisions": [(d["candidate"], d["kept"], d["reason"]) for d in (auto["selection"] or {}).get("decisions", [])],
        "data_decisions": auto.get("data_decisions") or [],
        **{key: both[key] for key in ("autofit_seconds", "plain_seconds", "time_ratio")},
        "blessed": auto["evaluation"]["blessed"],
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--name", default="autofit")
    args = parser.parse_args(argv)
    budget = float(args.budget) if args.budget.replace(".", "", 1).isdigit() else args.budget
    work = tempfile.mkdtemp(prefix="autofit-bench-")
    rows = []
    for scenario in args.scenarios:
        for seed in args.seeds:
            rows.append(run_scenario(scenario, seed, budget, work))
            print(rows[-1])
    table, payload = [], {"budget": args.budget, "seeds": args.seeds, "runs": rows}
    for scenario in args.scenarios:
        mine = [row for row in rows if row["scenario"] == scenario]
        auto = mean_std(row["autofit_test_accuracy"] for row in mine)
        plain = mean_std(row["plain_test_accuracy"] for row in mine)
        delta = mean_std(row["autofit_test_accuracy"] - row["plain_test_accuracy"] for row in mine)
        ratio = mean_std(row["time_ratio"] for row in mine)
        befores = [row["before_refit_test_accuracy"] for row in mine if row.get("before_refit_test_accuracy") is not None]
        before = mean_std(befores) if len(befores) == len(mine) else None
        champions = ", ".join(sorted({row["champion"] for row in mine}))
        payload[scenario] = {"autofit": auto, "plain": plain, "delta": delta, "time_ratio": ratio,
                             "before_refit": before}
        table.append([scenario, len(mine), format_mean_std(auto), format_mean_std(before) if before else "-",
                      format_mean_std(plain), format_mean_std(delta), champions, f"{ratio['mean']:.2f}x"])
    notes = [f"budget {args.budget}; test = 1,000 held-out images never used for a decision; CPU, 2 cores",
             "plain = Training alone with autofit's planned trainer settings (autofit: false)"]
    write_results(args.name, payload, table, ["scenario", "seeds", "autofit test acc %", "before refit %",
                                             "plain test acc %", "Δ pp", "champion(s)", "time vs plain"], notes)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
