"""Augmentation search evidence on MNIST-5k (1,000 labeled images, 3 seeds).

Per seed, in one process and on the same cores:
  1. one baseline training run without augmentation (timed);
  2. the two-pass search on train/eval (timed; proxy training included);
  3. the same training with the searched policy, RandAugment(N=2, M=9) and
     TrivialAugment, all through augment_ops.layers.AugmentationLayer as the
     Training component applies it.
Accuracy is measured on the fixed 1,500-image test split (the search only sees
train and eval). Results go to benchmarks/results/augmentation_search.{json,md};
seed 0's search report (tables and plots) to
benchmarks/results/augmentation_search_report/.

Run: .venv/bin/python benchmarks/augmentation_search_benchmark.py [--seeds 0 1 2] [--epochs 80] [--no-pruning]
[--out-dir DIR] (--no-pruning trains the label-breaking clusters in pass 2 too and writes
augmentation_search_unpruned.*; --out-dir writes the results elsewhere, e.g. /tmp for exploratory runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from augment_ops import layers as augment_layers  # noqa: E402
from augment_ops import policy as policy_lib  # noqa: E402
from benchmarks import common  # noqa: E402
from components.augmentation_search import report as search_report  # noqa: E402
from components.augmentation_search.augmentation_search import run_search  # noqa: E402
from components.augmentation_search.search_policy import describe, randaugment_baseline  # noqa: E402
from components.augmentation_search.spec import AugmentationSearchConfig  # noqa: E402
from components.training import models, trainer  # noqa: E402
from components.training.spec import TrainingConfig  # noqa: E402
from components.types.data_spec import DataSpecContent  # noqa: E402

NAME = "augmentation_search"
BATCH_NORM_MOMENTUM = 0.9  # small_cnn's 0.99 leaves moving averages unconverged after 320 steps.
ARMS = ("none", "searched", "randaugment", "trivial_augment")
DEFAULT_EPOCHS = 80  # 1,000 images: 1,280 steps; at 20-40 epochs no augmentation method clearly pays.

logger = logging.getLogger(NAME)


def data_spec() -> DataSpecContent:
    return DataSpecContent(
        task="classification", class_names=[str(d) for d in range(10)], channels=1, source_format="mnist_csv"
    )


def build_model() -> keras.Model:
    model = models.build_architecture("small_cnn", data_spec(), (28, 28))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BATCH_NORM_MOMENTUM
    return model


def batches(images: np.ndarray, labels: np.ndarray, seed: int, shuffle: bool, batch_size: int = 64) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices((images, np.eye(10, dtype="float32")[labels]))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(2)


def train_and_test(split: Dict[str, np.ndarray], policy, seed: int, epochs: int):
    """Trains small_cnn with an optional augment_ops policy; returns (test accuracy, seconds)."""
    from components.common.augmentation import split_policy

    config = TrainingConfig(architecture="small_cnn", epochs=epochs, batch_size=64, learning_rate=3e-3, seed=seed, verbose=0)
    layer = mixing = None
    if policy is not None:  # image ops as a layer, mixup/cutmix on images and soft labels in the step (as Training)
        parts = split_policy(policy)
        layer = augment_layers.AugmentationLayer(parts.image, seed=seed) if parts.image is not None else None
        mixing = parts.mixing
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    model, _ = trainer.fit(
        build_model, batches(split["train_x"], split["train_y"], seed, True), None, config, "classification",
        len(split["train_x"]), augmentation=layer, log_prefix=f"seed {seed}", log_dir="", checkpoint_dir="",
        mixing_policy=mixing,
    )
    seconds = time.perf_counter() - start
    accuracy = trainer.evaluate(model, batches(split["test_x"], split["test_y"], seed, False), "classification")["accuracy"]
    return float(accuracy), seconds


def run_seed(seed: int, epochs: int, name: str, search_config: Dict[str, object], out_dir: str) -> Dict[str, object]:
    split = common.mnist_split(labeled=1000, seed=seed)
    results: Dict[str, object] = {"seed": seed}
    accuracy, baseline_seconds = train_and_test(split, None, seed, epochs)
    results["none"] = accuracy
    logger.info("seed %d: no augmentation %.4f in %.1fs", seed, accuracy, baseline_seconds)

    search = run_search(
        build_model, split["train_x"], split["train_y"], split["eval_x"], split["eval_y"], 10,
        AugmentationSearchConfig(seed=seed, **search_config),
    )
    if seed == 0:
        report_dir = os.path.join(out_dir, f"{name}_report")
        shutil.rmtree(report_dir, ignore_errors=True)
        search_report.write_report(search, report_dir)
    findings = search_report.orientation_findings(search)
    results.update(
        baseline_seconds=baseline_seconds,
        search_seconds=search.seconds,
        search_ratio=search.seconds["total"] / baseline_seconds,
        chosen_policy=search.policy.to_dict(),
        chosen_policy_text=describe(search.policy),
        chosen_source=search.source,
        orientation=findings,
        pass2=[{"name": t.name, "kind": t.kind, "accuracy": t.accuracy} for t in search.trials],
        clusters=[{"index": c.index, "ops": list(c.ops)} for c in search.clusters],
        num_candidates=len(search.effects),
    )
    for arm, policy in (
        ("searched", search.policy),
        ("randaugment", randaugment_baseline(2, 9)),
        ("trivial_augment", policy_lib.trivial_augment()),
    ):
        results[arm], _ = train_and_test(split, policy, seed, epochs)
        logger.info("seed %d: %s %.4f", seed, arm, results[arm])
    return results


def orientation_note(op: str, finding: Dict[str, object]) -> str:
    note = f"{op}: pass-1 label change {finding['max_label_change']:.2f}, "
    if finding["best_cluster_trial_accuracy"] is None:
        return note + "pruned before pass 2"
    return note + (
        f"its cluster's pass-2 accuracy {finding['best_cluster_trial_accuracy']:.3f} vs "
        f"{finding['no_augmentation_accuracy']:.3f} without augmentation"
    )


def beyond_seed_spread(difference: Dict[str, float], none: Dict[str, float]) -> bool:
    """The issue's test: the mean paired gain exceeds its std across seeds and the none arm's std."""
    return difference["mean"] > max(difference["std"], none["std"])


def summarize(
    per_seed: List[Dict[str, object]], epochs: int, name: str, search_config: Dict[str, object], out_dir: str
) -> None:
    stats = {arm: common.mean_std([r[arm] for r in per_seed]) for arm in ARMS}
    ratio = common.mean_std([r["search_ratio"] for r in per_seed])
    searched_minus_none = common.mean_std([r["searched"] - r["none"] for r in per_seed])
    searched_minus_ra = common.mean_std([r["searched"] - r["randaugment"] for r in per_seed])
    rows = [[arm, common.format_mean_std(stats[arm]), ", ".join(f"{v * 100:.2f}" for v in stats[arm]["values"])] for arm in ARMS]
    for label, difference in (("searched - none (pp, paired)", searched_minus_none),
                              ("searched - RandAugment (pp, paired)", searched_minus_ra)):
        rows.append([label, common.format_mean_std(difference), ", ".join(f"{v * 100:+.2f}" for v in difference["values"])])
    beyond = beyond_seed_spread(searched_minus_none, stats["none"])
    rows.append(["search time / baseline training", f"{ratio['mean']:.2f} ± {ratio['std']:.2f}",
                 ", ".join(f"{v:.2f}" for v in ratio["values"])])
    notes = [
        f"MNIST-5k, 1,000 labeled training images per seed (benchmarks.common.mnist_split), eval 500 (search only), "
        f"test 1,500 (fixed). small_cnn (batch-norm momentum {BATCH_NORM_MOMENTUM}), {epochs} epochs, batch 64, "
        "Adam 3e-3 cosine: the same budget for every arm.",
        "Budget: earlier evidence used 20 epochs (320 steps). There, and at 40 epochs, no method (searched, "
        "RandAugment, TrivialAugment) beat no augmentation beyond one run's noise (about 0.3 pp): augmentation pays "
        "late: the no-augmentation run fits the 1,000 images (train accuracy 1.0) by epoch ~30 and stops improving, "
        "while augmented runs keep learning. The 20/40/80-epoch numbers per arm are in docs/augmentation_search.md.",
        "RandAugment(N=2, M=9) is augment_ops.policy.rand_augment(2, 9/30) (torchvision's 0..30 magnitude scale); "
        "TrivialAugment is augment_ops.policy.trivial_augment().",
        "Search time includes proxy training, pass 1 and pass 2; the ratio divides it by the no-augmentation training "
        "run of the same seed, measured in the same process on the same (shared) cores.",
        "Target: searched >= RandAugment - 0.3 pp, searched > none beyond the seed spread, ratio <= 1.5. "
        "'Beyond the seed spread' means: the mean paired difference (searched - none, per seed) exceeds both its own "
        "std across seeds and the std of the none arm across seeds. Here: "
        f"{searched_minus_none['mean'] * 100:+.2f} pp vs std {searched_minus_none['std'] * 100:.2f} (paired) and "
        f"{stats['none']['std'] * 100:.2f} (none): {'met' if beyond else 'NOT met'}; "
        f"searched - RandAugment {searched_minus_ra['mean'] * 100:+.2f} pp "
        f"({'met' if searched_minus_ra['mean'] >= -0.003 else 'NOT met'}); "
        f"ratio {ratio['mean']:.2f} ({'met' if ratio['mean'] <= 1.5 else 'NOT met'}).",
        "Every augmentation arm gains on this budget, not only the searched one: paired vs none, "
        + ", ".join(
            f"{arm} {common.mean_std([r[arm] - r['none'] for r in per_seed])['mean'] * 100:+.2f} ± "
            f"{common.mean_std([r[arm] - r['none'] for r in per_seed])['std'] * 100:.2f} pp"
            for arm in ARMS[1:]
        )
        + ". The search's contribution is a policy chosen for this data at that level (mirroring chosen: "
        f"{any(r['orientation']['mirror_chosen'] for r in per_seed)}, largest rotation "
        f"{max(r['orientation']['max_rotation_degrees'] for r in per_seed):.0f} degrees) in "
        f"{ratio['mean']:.2f} of one training run, not a margin over RandAugment.",
        f"Search config: AugmentationSearchConfig defaults{' with ' + str(search_config) if search_config else ''}.",
    ]
    for result in per_seed:
        findings = result["orientation"]
        flips = ", ".join(orientation_note(op, findings[op]) for op in search_report.ORIENTATION_OPS if op in findings)
        notes.append(
            f"seed {result['seed']}: chose {result['chosen_policy_text']} ({result['chosen_source']}); "
            f"mirror chosen: {findings['mirror_chosen']}, largest rotation {findings['max_rotation_degrees']:.0f} degrees, "
            f"rot90 chosen: {bool(findings.get('rot90', {}).get('chosen'))}. {flips}. "
            f"Wall time: proxy {result['search_seconds']['proxy']:.0f}s, pass 1 {result['search_seconds']['pass1']:.0f}s, "
            f"pass 2 {result['search_seconds']['pass2']:.0f}s vs baseline training {result['baseline_seconds']:.0f}s."
        )
    notes.append(f"Seed 0's full search report (distance table, cluster plot, pass-2 curves): results/{name}_report/report.md")
    payload = {"per_seed": per_seed, "accuracy": stats, "search_ratio": ratio, "searched_minus_none": searched_minus_none,
               "searched_minus_randaugment": searched_minus_ra, "searched_beats_none_beyond_seed_spread": beyond,
               "epochs": epochs, "search_config": search_config}
    common.RESULTS_DIR = out_dir  # write_results writes under common.RESULTS_DIR.
    path = common.write_results(name, payload, rows, ["arm", "test accuracy % (mean ± std)", "per seed"], notes)
    print(open(path).read())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(common.DEFAULT_SEEDS))
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="training budget of every arm")
    parser.add_argument("--no-pruning", action="store_true", help="train label-breaking clusters in pass 2 too")
    parser.add_argument("--out-dir", default=common.RESULTS_DIR, help="where results and the report go")
    parser.add_argument("--from-json", metavar="PATH", help="re-render the tables from a results JSON (no training)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                        help="search config overrides, e.g. min_effect_share=0 (named in the results notes)")
    args = parser.parse_args(argv)
    name, search_config = (f"{NAME}_unpruned", {"prune_label_change": None}) if args.no_pruning else (NAME, {})
    for item in args.set:
        key, _, value = item.partition("=")
        search_config[key] = json.loads(value)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.from_json:
        with open(args.from_json) as handle:
            saved = json.load(handle)
        summarize(saved["per_seed"], saved["epochs"], name, saved["search_config"], args.out_dir)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    tf.get_logger().setLevel("ERROR")
    per_seed = []
    for seed in args.seeds:
        per_seed.append(run_seed(seed, args.epochs, name, search_config, args.out_dir))
        logger.info("seed %d done: %s", seed, {arm: per_seed[-1][arm] for arm in ARMS})
    summarize(per_seed, args.epochs, name, search_config, args.out_dir)


if __name__ == "__main__":
    main()
