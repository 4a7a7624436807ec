"""What the augmentation search's final choice decides on MNIST-5k (1,000 labels, eval 500), and what it costs.

Per seed, the two-pass search runs as in augmentation_search_benchmark.py
(same data split, model and defaults, now with mixup/cutmix trainable and
the final choice beyond the noise). Recorded: the search's own candidate,
whether it holds mixing ops, each paired comparison (difference, interval,
n, decision) and the output policy. With --epochs N > 0, small_cnn is then
trained N epochs without augmentation, with the search's candidate and with
the output policy (when it differs from both), policies split into image
layer + mixing ops as the Training component does, and scored on the fixed
1,500-image test split.

Run: .venv/bin/python benchmarks/augmentation_search_decision.py [--seeds 0 1 2] [--epochs 80] [--out-dir DIR]
Writes <out-dir>/augmentation_search_decision.{json,md} (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from benchmarks import common  # noqa: E402
from benchmarks.augmentation_search_benchmark import build_model  # noqa: E402
from benchmarks.augmentation_search_benchmark import train_and_test as timed_train_and_test  # noqa: E402
from components.augmentation_search.augmentation_search import run_search  # noqa: E402
from components.augmentation_search.search_policy import describe  # noqa: E402
from components.augmentation_search.spec import AugmentationSearchConfig  # noqa: E402
from components.common.augmentation import split_policy  # noqa: E402

NAME = "augmentation_search_decision"
logger = logging.getLogger(NAME)


def train_and_test(split, policy, seed: int, epochs: int) -> float:
    """Test accuracy of small_cnn trained `epochs` epochs with `policy` (image layer + mixing ops) or none."""
    return timed_train_and_test(split, policy, seed, epochs)[0]


def run_seed(seed: int, epochs: int) -> Dict[str, object]:
    split = common.mnist_split(labeled=1000, seed=seed)
    start = time.perf_counter()
    search = run_search(
        build_model, split["train_x"], split["train_y"], split["eval_x"], split["eval_y"], 10,
        AugmentationSearchConfig(seed=seed),
    )
    final = search.final
    result: Dict[str, object] = {
        "seed": seed,
        "search_seconds": time.perf_counter() - start,
        "candidate": describe(final.searched.policy) if final.searched else None,
        "candidate_mixing_ops": list(split_policy(final.searched.policy).mixing_ops) if final.searched else [],
        "output_role": final.role,
        "output": describe(search.policy),
        "decisions": [decision.to_dict() for decision in final.decisions],
        "pass2": [{"name": t.name, "kind": t.kind, "accuracy": t.accuracy} for t in search.trials],
    }
    logger.info("seed %d: candidate %s; output %s", seed, result["candidate"], final.role)
    if epochs > 0:
        arms = {"none": None}
        if final.searched is not None:
            arms["candidate"] = final.searched.policy
        if final.role == "randaugment":
            arms["output"] = final.chosen.policy
        result["test_accuracy"] = {arm: train_and_test(split, policy, seed, epochs) for arm, policy in arms.items()}
        result["test_accuracy"]["output"] = result["test_accuracy"].get(
            "output", result["test_accuracy"]["candidate" if final.role == "searched" else "none"]
        )
        logger.info("seed %d: test accuracy %s", seed, result["test_accuracy"])
    return result


def markdown(results: List[Dict[str, object]], epochs: int) -> str:
    lines = [
        "# Augmentation search: the final choice beyond the noise (MNIST-5k, 1,000 labels, eval 500)",
        "",
        "Each searched option replaces a simpler one (none, then RandAugment) only when the one-sided 95% lower bound "
        "of its paired held-out gain is above 0 (paired bootstrap and exact bound on disagreements, the more "
        "cautious). Pass-2 trials are one epoch warm-started from the proxy.",
        "",
        "| seed | search's candidate | mixing ops | comparison | difference (pp) | interval (pp) | decision | output |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for d in r["decisions"]:
            lines.append(
                f"| {r['seed']} | {r['candidate']} | {', '.join(r['candidate_mixing_ops']) or '-'} | "
                f"{d['candidate']} vs {d['against']} (n={d['n']}) | {100 * d['difference']:+.2f} | "
                f"[{100 * d['interval'][0]:+.2f}, {100 * d['interval'][1]:+.2f}] | {d['decision']} | {r['output_role']} |"
            )
    if epochs > 0 and all("test_accuracy" in r for r in results):
        lines += ["", f"## Test accuracy after {epochs} epochs (1,500 test images)", "",
                  "| seed | none | search's candidate | output |", "|---|---|---|---|"]
        for r in results:
            t = r["test_accuracy"]
            lines.append(f"| {r['seed']} | {t['none']:.4f} | {t.get('candidate', float('nan')):.4f} | {t['output']:.4f} |")
        for arm in ("candidate", "output"):
            gains = [r["test_accuracy"][arm] - r["test_accuracy"]["none"] for r in results if arm in r["test_accuracy"]]
            stats = common.mean_std(gains)
            lines.append(f"\n{arm} - none: {100 * stats['mean']:+.2f} ± {100 * stats['std']:.2f} pp over {len(gains)} seeds.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = []
    for seed in args.seeds:
        results.append(run_seed(seed, args.epochs))
        payload = {"epochs": args.epochs, "environment": common.environment(), "per_seed": results}
        os.makedirs(args.out_dir, exist_ok=True)
        with open(os.path.join(args.out_dir, f"{NAME}.json"), "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
        with open(os.path.join(args.out_dir, f"{NAME}.md"), "w") as handle:
            handle.write(markdown(results, args.epochs))


if __name__ == "__main__":
    main()
