"""Evidence for consistency training (FixMatch family, issue 13) on MNIST-5k.

Per seed, on the splits of benchmarks.common.mnist_split (labeled subset of
the 3,000-image pool, the rest of the pool unlabeled, fixed eval 500 and
test 1,500 images):
  * supervised: the training component on the labeled images only (the
    semi_supervised benchmark's baseline: its module-file CNN, 30 epochs,
    batch 32, Adam 3e-3 cosine);
  * FixMatch arms: components.consistency.consistency.run_consistency_training
    on labeled + unlabeled images with the same module-file CNN, each with its
    threshold mode / distribution alignment / warm start, and the augmentation
    policy the augmentation search chose for MNIST-5k (no flip, so the weak
    view is translation only);
  * all labels (optional): the supervised recipe on every pool label, for the gap.
Reported: test accuracy, wall time per epoch and in total as ratios to the
supervised training measured in the same process, and the pseudo-label
trajectory of each FixMatch arm.

Note: MNIST-5k has 5,000 images; with eval and test held out the pool is
3,000, so "500 labels" means 500 labeled + 2,500 unlabeled images (the
issue's 4,500 would leave no test set).

Run: nice -n 10 .venv/bin/python benchmarks/consistency_training_benchmark.py --seeds 0 [--labels 500]
"""

import argparse
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NAME = "consistency_training"
# The policy AugmentationSearch chose on MNIST-5k, seed 0 (benchmarks/results/augmentation_search.md):
# mirroring and rot90 were pruned as label-changing, so the weak view gets no flip.
SEARCHED_POLICY = {
    "format_version": 1, "name": "cluster1_m0.60_p0.50", "sampling": "random_n", "num_ops": 1,
    "magnitude_sampling": "fixed",
    "ops": [{"name": name, "magnitude": 0.6, "probability": 0.5} for name in (
        "rotate", "shear_y", "translate_x", "translate_y", "random_resized_crop", "brightness", "equalize", "cutout")],
}


@dataclasses.dataclass(frozen=True)
class Arm:
    """One FixMatch configuration (the rest comes from the command line)."""

    name: str
    threshold_mode: str = "fixed"
    distribution_alignment: bool = False
    warm_start: bool = False


ARMS = {
    "fixmatch": Arm("fixmatch"),
    "flexmatch": Arm("flexmatch", threshold_mode="flexmatch"),
    "freematch": Arm("freematch", threshold_mode="freematch"),
    "fixmatch_da": Arm("fixmatch_da", distribution_alignment=True),
    "fixmatch_warm": Arm("fixmatch_warm", warm_start=True),
    "flexmatch_warm": Arm("flexmatch_warm", threshold_mode="flexmatch", warm_start=True),
}


def fixmatch_arm(arm: Arm, uri, spec, args, seed: int, work: str, supervised_model) -> Dict:
    from augment_ops.policy import Policy
    from benchmarks.semi_supervised_benchmark import MODULE_FILE, test_accuracy
    from components.consistency import consistency
    from components.consistency.spec import ConsistencyConfig
    from components.contrastive import backbone

    backbone.reset_layer_names()
    config = ConsistencyConfig(
        module_file=MODULE_FILE, epochs=args.epochs, steps_per_epoch=args.steps, batch_size=args.batch, mu=args.mu,
        learning_rate=args.learning_rate, optimizer=args.optimizer, threshold_mode=arm.threshold_mode,
        distribution_alignment=arm.distribution_alignment, seed=seed,
    )
    started = time.time()
    run = consistency.run_consistency_training(
        uri, spec, config, os.path.join(work, f"{arm.name}_{seed}"), policy=Policy.from_dict(SEARCHED_POLICY),
        warm_start=supervised_model if arm.warm_start else None,
    )
    seconds = time.time() - started
    epoch_seconds = [record["train_seconds"] for record in run.history]
    return {
        "test_accuracy": test_accuracy(run.model, uri, spec), "seconds": seconds,
        "train_seconds_per_epoch": float(np.median(epoch_seconds[1:] or epoch_seconds)),
        "first_epoch_seconds": epoch_seconds[0], "steps_per_epoch": run.steps_per_epoch,
        "metrics": run.metrics, "trajectory": [
            {key: record[key] for key in ("epoch", "eval_accuracy", "pseudo_label_rate", "pseudo_label_accuracy",
                                          "mask_rate", "threshold_mean", "raw_model_accuracy")}
            for record in run.history],
        "config": dataclasses.asdict(config),
    }


def seed_row(seed: int, args, work: str) -> Dict:
    from benchmarks.common import mnist_split
    from benchmarks.semi_supervised_benchmark import Settings, test_accuracy, train, write_examples

    settings = Settings()
    data = mnist_split(labeled=args.labels, seed=seed)
    uri = os.path.join(work, f"mnist_{args.labels}_seed{seed}")
    spec = write_examples(uri, {
        "train": (data["train_x"], data["train_y"]), "eval": (data["eval_x"], data["eval_y"]),
        "test": (data["test_x"], data["test_y"]), "unlabeled": (data["unlabeled_x"], None),
    })
    row: Dict = {"seed": seed, "labels": args.labels, "unlabeled": int(len(data["unlabeled_x"]))}
    started = time.time()
    supervised = train(uri, spec, settings.supervised_epochs, seed, settings)
    row["supervised_seconds"] = time.time() - started
    row["supervised_epoch_seconds"] = row["supervised_seconds"] / settings.supervised_epochs
    row["supervised"] = test_accuracy(supervised, uri, spec)
    logging.info("seed %d supervised-%d: %.4f in %.0fs", seed, args.labels, row["supervised"],
                 row["supervised_seconds"])
    for name in args.arms:
        row[name] = fixmatch_arm(ARMS[name], uri, spec, args, seed, work, supervised)
        logging.info("seed %d %s: test %.4f in %.0fs", seed, name, row[name]["test_accuracy"], row[name]["seconds"])
    if args.all_labels:
        all_uri = os.path.join(work, f"mnist_all_seed{seed}")
        all_spec = write_examples(all_uri, {
            "train": (np.concatenate([data["train_x"], data["unlabeled_x"]]),
                      np.concatenate([data["train_y"], data["unlabeled_y"]])),
            "eval": (data["eval_x"], data["eval_y"]), "test": (data["test_x"], data["test_y"]),
        })
        row["all_labels"] = test_accuracy(train(all_uri, all_spec, settings.all_labels_epochs, seed, settings),
                                          all_uri, all_spec)
    return row


def section(rows: List[Dict], args, total_seconds: float) -> Dict:
    """One label setting: table rows, notes and the raw per-seed rows."""
    from benchmarks.common import format_mean_std, mean_std

    table, summary = [], {}
    supervised = mean_std([row["supervised"] for row in rows])
    summary["supervised"] = supervised
    table.append([f"supervised-{args.labels}", len(rows), format_mean_std(supervised), "", "1.0", "1.0", ""])
    for name in args.arms:
        accuracy = mean_std([row[name]["test_accuracy"] for row in rows])
        delta = [row[name]["test_accuracy"] - row["supervised"] for row in rows]
        per_epoch = mean_std([row[name]["train_seconds_per_epoch"] / row["supervised_epoch_seconds"] for row in rows])
        total = mean_std([row[name]["seconds"] / row["supervised_seconds"] for row in rows])
        final = [row[name]["trajectory"][-1] for row in rows]
        rates = [f["pseudo_label_rate"] for f in final]
        accuracies = [f["pseudo_label_accuracy"] for f in final if f["pseudo_label_accuracy"] is not None]
        pseudo = f"{np.mean(rates):.2f} / {np.mean(accuracies) if accuracies else float('nan'):.3f}"
        summary[name] = {"test_accuracy": accuracy, "delta_vs_supervised": mean_std(delta),
                         "epoch_time_ratio": per_epoch, "total_time_ratio": total}
        table.append([f"{name}-{args.labels}", len(rows), format_mean_std(accuracy),
                      f"{np.mean(delta) * 100:+.2f} ({np.min(delta) * 100:+.2f} / {np.max(delta) * 100:+.2f})",
                      f"{per_epoch['mean']:.1f}", f"{total['mean']:.1f}", pseudo])
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    first = rows[0][args.arms[0]] if args.arms else {}
    notes = [
        f"{args.labels} labels: {args.labels} labeled + {rows[0]['unlabeled']} unlabeled training images per seed; "
        f"FixMatch {args.epochs} epochs x {first.get('steps_per_epoch')} steps, B={args.batch} labeled + "
        f"mu={args.mu} x B unlabeled per step, {args.optimizer} lr {args.learning_rate} with FixMatch's cosine; "
        f"seeds {[row['seed'] for row in rows]}; wall time {total_seconds / 60:.1f} min "
        f"(5-minute load average at the end: {load:.1f} on {os.cpu_count()} cores).",
    ]
    return {"args": vars(args), "rows": rows, "summary": summary, "table": table, "notes": notes,
            "total_seconds": total_seconds}


COMMON_NOTES = [
    "MNIST-5k (benchmarks.common.mnist_split): a seeded labeled subset of the 3,000-image pool, the rest of the "
    "pool unlabeled (the labeled images join the unlabeled pool too, as in FixMatch), eval 500 (per-epoch evidence "
    "only), test 1,500 (fixed, reported).",
    "Model: the semi_supervised benchmark's module-file CNN (~420k parameters) for every arm; supervised = the "
    "training component, 30 epochs, batch 32, Adam 3e-3 cosine (the semi_supervised benchmark's baseline).",
    "FixMatch arms: threshold 0.95 (flexmatch: class-wise from it), lambda_u 1, weight decay 5e-4, EMA 0.999 "
    "(the evaluated and exported model); views from the augmentation search's MNIST policy (weak: translate "
    "only, no flip; strong: 2 of its ops at random magnitudes + Cutout).",
    "Optimizer: Adam 3e-3, not the paper's SGD 0.03: in a pilot on seed 0 (500 labels, same settings otherwise) "
    "SGD reached 88.2% eval accuracy after 700 steps where Adam had 95.8% after 500; FixMatch's SGD recipe "
    "assumes ~1M steps, this CPU budget allows ~2k.",
    "Time ratios, measured in the same process on the same CPU cores (2 cores shared with several other jobs: "
    "absolute seconds are noisy, ratios less so). time/epoch: FixMatch training seconds per epoch (median; the "
    "first epoch, which compiles, excluded; an epoch = `steps` steps of B labeled + mu*B unlabeled images, two "
    "views each) over the supervised run's seconds per epoch (one pass over the labeled images, with Keras' "
    "per-epoch validation). total: the whole FixMatch run (compilation and per-epoch evaluation included) over "
    "the whole 30-epoch supervised training.",
    "pseudo-label rate / acc: last epoch, eval split treated as unlabeled (unaugmented images, current thresholds).",
    "All-labels reference (same splits and model, all 3,000 pool labels, from results/semi_supervised.md): "
    "97.33 ± 0.18 %.",
]


def report(sections: Dict[str, Dict]) -> str:
    """Writes every label setting run so far (earlier runs are kept from the JSON) as one JSON + MD."""
    from benchmarks.common import write_results

    table, notes = [], []
    for key in sorted(sections, key=lambda name: -int(name.split("_")[1])):
        table.extend(sections[key]["table"])
        notes.extend(sections[key]["notes"])
    header = ["method", "seeds", "test accuracy % (mean ± sd)", "Δ pp vs supervised (min / max)",
              "time/epoch ratio", "total time ratio", "pseudo-label rate / acc (last epoch)"]
    return write_results(NAME, {"sections": sections}, table, header, COMMON_NOTES + notes)


def load_sections() -> Dict[str, Dict]:
    from benchmarks.common import RESULTS_DIR

    path = os.path.join(RESULTS_DIR, f"{NAME}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle).get("sections", {})


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--arms", nargs="+", default=["fixmatch"], choices=sorted(ARMS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--mu", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=0.03)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--all-labels", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    started, rows = time.time(), []
    with tempfile.TemporaryDirectory() as work:
        for seed in args.seeds:
            rows.append(seed_row(seed, args, work))
            logging.info("seed %d done: %s", seed, json.dumps(rows[-1], default=str)[:2000])
    if args.no_write:
        print(json.dumps(rows, indent=1, default=str))
    else:
        sections = load_sections()
        sections[f"labels_{args.labels}"] = section(rows, args, time.time() - started)
        print(open(report(sections)).read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
