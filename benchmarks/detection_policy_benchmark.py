"""The detection augmentation search with the real detector: searched policy + prior vs none vs default vs rectangle.

Per seed, on synthetic MNIST-digit scenes (detection_segmentation_benchmark's
scenes: 1-4 digits on textures, 96x96; train and held-out scenes from
disjoint digit images):
  1. the detection search (components/augmentation_search/detection_search.py,
     the AugmentationSearch executor's path) picks a policy and box prior
     with its proxy detector, scored on the `eval` scenes;
  2. the real detector (components/training/detection.py, keras-hub
     RetinaNet) is trained once per arm with the same seed and steps:
       none          no augmentation
       default       the box-aware default augmentation (Training without a
                     searched policy: what autofit's TrainingAugmented competes with)
       searched      the searched policy with the searched box prior
       searched_rect the searched policy with the rectangle prior (trained only
                     when the searched policy rotates or shears; otherwise it is
                     the same training as `searched`)
  3. every arm is scored on `test` scenes the search never saw (COCO mAP via
     pycocotools), and each arm is compared with `default` by the paired
     image resampling ChampionSelection uses (resampled_metrics).

With `--candidates prior_sensitive` the search may only pick policies that
rotate or shear (RandAugment, the geometric family), so that a box prior is
always chosen; `--arms searched searched_rect --baseline searched_rect` then
measures what the searched prior is worth against the rectangle prior with
the real detector (the upright-digit search above never picks such a policy).

Usage:
  python -m benchmarks.detection_policy_benchmark --seeds 0 1 2 --train 600 --eval 200 --test 300 --epochs 8
  python -m benchmarks.detection_policy_benchmark --candidates prior_sensitive --arms searched searched_rect \\
      --baseline searched_rect --out benchmarks/results/detection_policy_prior
Writes benchmarks/results/detection_policy.{json,md} (or --out).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import tempfile
import time

import numpy as np

from benchmarks.detection_segmentation_benchmark import IMAGE_SIDE, digit_scenes, split_digits, write_examples

NOTES = """## Reading (December 2026, 3 seeds, 2 CPU cores)

* **The searched policy beat the default augmentation on every seed, beyond the noise of 300 test scenes**
  (+5.2, +8.6, +3.2 mAP points, paired 90% intervals all above 0), and no augmentation by +1.4, +2.0, +2.1
  points: this is the comparison autofit now makes (`TrainingAugmented` vs `Training`, by mAP on the eval
  images, keeping the simpler model unless the gain is beyond their noise).
* **The box-aware default augmentation (zoom in/out 1.5x, shifts, photometric jitter) scored below no
  augmentation at this schedule** on all three seeds (-3.8, -6.6, -1.1 points; the first two beyond the
  noise): at 300 steps the detector is still under-fitting (final loss 0.28 with the default augmentation vs
  0.18-0.19 without), and the geometric jitter slows fitting more than it regularizes. The trainer's default
  floor is 1,000 steps, where this was not measured; the default stays (it is the standard small-data recipe,
  and one synthetic set at a short schedule is not grounds to change it), but it is why autofit checks the
  searched policy against it on held-out data rather than assuming either is better.
* The search picked occlusion (seed 0) and colour jitter at 0.3 (seeds 1, 2): photometric and occlusion
  families; neither rotates or shears, so the box prior did not apply and the `searched_rect` arm repeats
  `searched` (same training). On upright digits no geometric candidate won the proxy; the box-prior evidence
  with rotated objects is benchmarks/results/detection_box_prior.md (rectangle loses 13-32 mAP points under
  strong rotation).
* The search's proxy mAPs are low (0.03-0.09: a 12-epoch CenterNet on 300 scenes of ten digit classes) and its
  best beat no augmentation by only +0.6 to +1.1 proxy points; the ranking still transferred to the real
  detector on all three seeds here. These runs predate the search's own paired check against no augmentation
  (what a forced `augmentation_search:` section now applies), so its verdict on them was not recorded;
  autofit's candidate path outputs the best and lets the full trainings decide, as measured here.
* Cost: the search took 219-280 s, 0.6-0.8x one 300-step detector training (~360 s), i.e. about 0.2x the
  trainer's default 1,000-step training.
* Scale: 300 steps of 16 (8 epochs of 37) is below the trainer's 1,000-step default (CPU time); mAP@.5 here is
  0.50-0.64, where the 1,000-step run on 2,000 scenes reached 0.888 (detection_benchmark_cpu.md).
"""
ARMS = ("none", "default", "searched", "searched_rect")
BASELINE_ARM = "default"
NUM_RESAMPLES = 2000


def search_candidates(which: str):
    """The search's candidates: all of them, or only those that rotate or shear (a box prior is then chosen)."""
    from components.augmentation_search import detection_search

    candidates = detection_search.detection_candidates()
    if which == "prior_sensitive":
        return [policy for policy in candidates if detection_search.prior_sensitive(policy)]
    return candidates


def search(examples: str, spec, seed: int, max_train_examples: int, candidates: str = "all"):
    """The detection search on train / eval scenes, as the AugmentationSearch executor runs it.

    Like the executor with `max_train_examples`, the proxies train on a seeded subset of the train scenes.
    """
    from components.augmentation_search import detection_proxy, detection_search
    from components.augmentation_search.executor import seeded_subset
    from components.types import examples_io

    size = (IMAGE_SIDE, IMAGE_SIDE)
    train = examples_io.load_detection_split(examples, "train", spec, size)
    rows = seeded_subset(len(train[0]), max_train_examples, seed)
    train = tuple(part[rows] for part in train)
    held_out = examples_io.load_detection_split(examples, "eval", spec, size)
    return detection_search.search_detection(
        train, held_out, spec.num_classes, candidates=search_candidates(candidates),
        proxy_config=detection_proxy.DetectionProxyConfig(seed=seed),
    )


def arm_options(arm: str, found):
    """train_detector keyword arguments of an arm (None: the arm would repeat another training)."""
    from components.augmentation_search.detection_search import prior_sensitive

    if arm == "none":
        return {"default_policy": None}
    if arm == "default":
        return {}
    if arm == "searched":
        return {"policy": found.policy, "options": dataclasses.replace(found.options, xla=False)}
    if arm == "searched_rect":
        if not prior_sensitive(found.policy) or found.box_prior in (None, "rectangle"):
            return None
        return {"policy": found.policy, "options": dataclasses.replace(found.options, box_prior="rectangle", xla=False)}
    raise ValueError(f"arm must be one of {ARMS}; got {arm!r}.")


def run_seed(seed: int, args, digits, digit_labels) -> dict:
    import keras

    from components.evaluation import detection_metrics, resampled_metrics
    from components.training import detection
    from components.training.spec import TrainingConfig
    from components.types import examples_io

    train_pool, held_out_pool = split_digits(digit_labels, seed)
    scenes = {
        "train": digit_scenes(digits[train_pool], digit_labels[train_pool], args.train, seed),
        "eval": digit_scenes(digits[held_out_pool], digit_labels[held_out_pool], args.eval, 1000 + seed),
        "test": digit_scenes(digits[held_out_pool], digit_labels[held_out_pool], args.test, 2000 + seed),
    }
    out = {"seed": seed, "arms": {}}
    with tempfile.TemporaryDirectory() as root:
        spec = write_examples(root, "detection", scenes)
        examples = os.path.join(root, "examples")
        started = time.perf_counter()
        found = search(examples, spec, seed, args.search_train, args.candidates)
        out["search"] = {"policy": found.policy.name, "ops": list(found.policy.op_names), "box_prior": found.box_prior,
                         "proxy_scores": found.scores, "prior_scores": found.prior_scores,
                         "seconds": time.perf_counter() - started}
        logging.info("seed %d: search chose %s (prior %s)", seed, found.policy.name, found.box_prior)
        images, boxes, labels = examples_io.load_detection_split(examples, "test", spec, (IMAGE_SIDE, IMAGE_SIDE))
        counts = resampled_metrics.bootstrap_counts(len(images), NUM_RESAMPLES, seed)
        resampled = {}
        for arm in args.arms:
            options = arm_options(arm, found)
            if options is None:
                out["arms"][arm] = {"same_as": "searched"}
                continue
            config = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=1e-3, seed=seed,
                                    verbose=0, explicit_fields=("epochs", "batch_size", "learning_rate"))
            arm_started = time.perf_counter()
            model, history, _, details = detection.train_detector(examples, spec, config, **options)
            predicted = detection.predict_detections(model, images)
            scored = detection_metrics.coco_detection_metrics(
                boxes, labels, predicted["boxes"], predicted["scores"], predicted["classes"],
                (IMAGE_SIDE, IMAGE_SIDE), spec.class_names)
            evidence = resampled_metrics.detection_evidence(
                boxes, labels, predicted["boxes"], predicted["scores"], predicted["classes"],
                (IMAGE_SIDE, IMAGE_SIDE), spec.num_classes)
            resampled[arm] = resampled_metrics.resampled_map(evidence, counts)["map"]
            out["arms"][arm] = {"test_metrics": scored["metrics"], "final_loss": history["loss"][-1],
                                "steps": details.get("steps"), "seconds": time.perf_counter() - arm_started}
            logging.info("seed %d arm %s: %s", seed, arm, json.dumps(scored["metrics"]))
            keras.backend.clear_session()
        baseline = args.baseline
        for arm, values in resampled.items():
            if arm == baseline or baseline not in resampled:
                continue
            difference = values - resampled[baseline]
            out["arms"][arm]["vs_baseline_map"] = {
                "delta": out["arms"][arm]["test_metrics"]["map"] - out["arms"][baseline]["test_metrics"]["map"],
                "low": float(np.quantile(difference, 0.05)), "high": float(np.quantile(difference, 0.95)),
            }
    return out


def _spread(values) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def metric_of(run: dict, arm: str, name: str) -> float:
    entry = run["arms"][arm]
    return run["arms"][entry["same_as"]]["test_metrics"][name] if "same_as" in entry else entry["test_metrics"][name]


def write_markdown(path: str, payload: dict) -> None:
    runs, args = payload["runs"], payload["args"]
    arms, baseline = args.get("arms", ARMS), args.get("baseline", BASELINE_ARM)
    lines = [
        "# Detection: searched policy and box prior with the real detector", "",
        f"Synthetic MNIST-digit scenes at {IMAGE_SIDE}x{IMAGE_SIDE} (1-4 digits on textures): {args['train']} train, "
        f"{args['eval']} eval (the search's held-out set; its proxies train on {args['search_train']} of the train scenes), {args['test']} test scenes (scored here; the search never "
        f"saw them); keras-hub RetinaNet, {args['epochs']} epochs of {args['batch_size']}; seeds "
        f"{[r['seed'] for r in runs]}; {payload['cpu_count']} CPU cores (shared). Generated by "
        "benchmarks/detection_policy_benchmark.py."
        + (" The search's candidates: only policies that rotate or shear (`--candidates prior_sensitive`)."
           if args.get("candidates") == "prior_sensitive" else ""), "",
        "| arm | test mAP@[.5:.95] | test mAP@.5 | per seed (mAP) |", "|---|---|---|---|",
    ]
    for arm in arms:
        maps = [metric_of(r, arm, "map") for r in runs]
        map50 = [metric_of(r, arm, "map_50") for r in runs]
        lines.append(f"| {arm} | {_spread(maps)} | {_spread(map50)} | {', '.join(f'{v:.3f}' for v in maps)} |")
    lines += ["", f"| seed | searched policy | box prior | search s | arm vs {baseline}: mAP delta [5%, 95%] paired over test "
              "images |",
              "|---|---|---|---|---|"]
    for r in runs:
        comparisons = "; ".join(
            f"{arm} {100 * r['arms'][arm]['vs_baseline_map']['delta']:+.2f} "
            f"[{100 * r['arms'][arm]['vs_baseline_map']['low']:+.2f}, {100 * r['arms'][arm]['vs_baseline_map']['high']:+.2f}]"
            for arm in arms if "vs_baseline_map" in r["arms"].get(arm, {}))
        lines.append(f"| {r['seed']} | {r['search']['policy']} | {r['search']['box_prior']} | "
                     f"{r['search']['seconds']:.0f} | {comparisons} |")
    lines += ["", payload.get("notes", "")]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--eval", type=int, default=200)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--search-train", type=int, default=300, help="train scenes the search's proxies use")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--candidates", choices=("all", "prior_sensitive"), default="all",
                        help="the search's candidates: all, or only those that rotate or shear")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--baseline", choices=ARMS, default=BASELINE_ARM, help="arm the others are compared with")
    parser.add_argument("--notes", default=None, help="file whose text replaces the reading in the markdown")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "detection_policy"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    from components.data_translation.mnist import load_mnist

    digits, digit_labels, _ = load_mnist()
    notes = NOTES
    if args.notes:
        with open(args.notes) as handle:
            notes = handle.read()
    elif args.candidates != "all":
        notes = ""
    payload = {"cpu_count": os.cpu_count(), "args": vars(args), "runs": [], "notes": notes}
    if os.path.exists(args.out + ".json"):  # resume: keep the seeds already measured
        with open(args.out + ".json") as handle:
            payload["runs"] = [r for r in json.load(handle)["runs"] if r["seed"] not in args.seeds]
    for seed in args.seeds:
        payload["runs"].append(run_seed(seed, args, digits, digit_labels))
        payload["runs"].sort(key=lambda r: r["seed"])
        with open(args.out + ".json", "w") as handle:
            json.dump(payload, handle, indent=2)
        write_markdown(args.out + ".md", payload)


if __name__ == "__main__":
    main()
