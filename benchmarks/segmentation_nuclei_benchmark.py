"""Semantic segmentation of nuclei: stardist's bundled 2-D nuclei image tiled into crops.

Data: `stardist.data.test_image_nuclei_2d(return_mask=True)`, one 512x512
fluorescence image from the 2018 Data Science Bowl (Caicedo et al. 2019)
with an instance label image (~180 nuclei), shipped inside the stardist
wheel (no download). Instances become one class: 0 background, 1 nucleus.
The image is normalized by its 1st / 99.8th intensity percentiles (the
usual microscopy preprocessing; stardist's examples do the same).

Split by place, so no eval pixel is seen in training: columns 0-383 give
`--train` random CROPxCROP crops, columns 384-511 are tiled into
non-overlapping eval crops (16 at 64 px).

stardist is a benchmark-only extra (requirements-bench.txt, pinned in
constraints.txt), never imported by the suite. Usage:
  python -m benchmarks.segmentation_nuclei_benchmark --train 400 --seeds 0 1 2
Writes benchmarks/results/segmentation_nuclei.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os

import numpy as np

from benchmarks.segmentation_benchmark import VARIANTS, merged_results, results_path, run, write_markdown

CROP = 64
TRAIN_COLUMNS = 384  # columns [0, 384) train, [384, 512) eval
CLASS_NAMES = ["background", "nucleus"]


def load_nuclei():
    """(image float32 [H,W] in [0,1], foreground uint8 [H,W]) from the stardist wheel."""
    try:
        from stardist.data import test_image_nuclei_2d
    except ImportError as error:
        raise SystemExit(
            f"stardist is not installed ({error}); install the benchmark extras: "
            ".venv/bin/pip install -c constraints.txt -r requirements-bench.txt"
        ) from error
    image, labels = test_image_nuclei_2d(return_mask=True)
    low, high = np.percentile(image, [1.0, 99.8])
    normalized = np.clip((image.astype(np.float32) - low) / max(high - low, 1e-6), 0.0, 1.0)
    return normalized, (labels > 0).astype(np.uint8)


def nuclei_crops(image, foreground, train_count: int, seed: int):
    """{"train": (images [N,C,C,1], masks [N,C,C]), "eval": (...)}: random train crops, tiled eval crops."""
    rng = np.random.default_rng(seed)
    height = image.shape[0]
    tops = rng.integers(0, height - CROP + 1, train_count)
    lefts = rng.integers(0, TRAIN_COLUMNS - CROP + 1, train_count)
    train = [(image[t : t + CROP, l : l + CROP], foreground[t : t + CROP, l : l + CROP]) for t, l in zip(tops, lefts)]
    held_out = [
        (image[t : t + CROP, l : l + CROP], foreground[t : t + CROP, l : l + CROP])
        for t in range(0, height - CROP + 1, CROP)
        for l in range(TRAIN_COLUMNS, image.shape[1] - CROP + 1, CROP)
    ]
    return {
        split: (np.stack([c[0] for c in crops])[..., None], np.stack([c[1] for c in crops]))
        for split, crops in (("train", train), ("eval", held_out))
    }


def write_nuclei_examples(root: str, splits: dict):
    """Canonical one-channel segmentation Examples and a DataSpec under `root`."""
    import tensorflow as tf

    from components.types import examples_io, features
    from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, write_data_spec

    stats = {}
    for split, (images, masks) in splits.items():
        directory = examples_io.split_directory(os.path.join(root, "examples"), split)
        tf.io.gfile.makedirs(directory)
        with tf.io.TFRecordWriter(os.path.join(directory, "data.gz"), options="GZIP") as writer:
            for index in range(len(images)):
                encoded = tf.io.encode_png((images[index] * 255).round().astype(np.uint8)).numpy()
                mask = tf.io.encode_png(masks[index][..., None]).numpy()
                example = examples_io.make_example(encoded, CROP, CROP, 1, f"{split}/{index}", encoded_mask=mask)
                writer.write(example.SerializeToString())
        stats[split] = SplitStats(count=len(images))
    content = DataSpecContent(
        task=features.TASK_SEGMENTATION, class_names=list(CLASS_NAMES), channels=1, source_format="stardist_nuclei_2d",
        height=SizeStats(CROP, CROP, CROP), width=SizeStats(CROP, CROP, CROP), splits=stats,
    )
    write_data_spec(content, os.path.join(root, "data_spec"))
    return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["default"], choices=VARIANTS)
    parser.add_argument("--epochs", type=int, default=None, help="override (smoke runs only)")
    parser.add_argument("--name", default="nuclei")
    parser.add_argument("--merge", nargs="+", default=None, help="combine earlier runs (their --name values)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    path = results_path(args.name)
    results = []
    if args.merge:
        results = merged_results(args.merge)
    else:
        image, foreground = load_nuclei()
        for seed in args.seeds:
            splits = nuclei_crops(image, foreground, args.train, seed)
            for variant in args.variants:
                result = run(variant, splits, seed, args.epochs, write=write_nuclei_examples)
                logging.info("nuclei %s seed %d: %s", variant, seed, json.dumps(result["metrics"]))
                results.append(result)
    with open(path + ".json", "w") as handle:
        json.dump({"args": vars(args), "cpu_count": os.cpu_count(), "results": results}, handle, indent=2)
    eval_count = (512 // CROP) * ((512 - TRAIN_COLUMNS) // CROP)
    write_markdown(
        "Semantic segmentation of nuclei: stardist's 2-D test image tiled into crops (CPU)",
        f"{args.train} random {CROP}x{CROP} train crops from columns 0-{TRAIN_COLUMNS - 1}, "
        f"{eval_count} tiled eval crops "
        f"from columns {TRAIN_COLUMNS}-511 of one 512x512 image; 2 classes (background, nucleus); "
        f"{os.cpu_count()} CPU cores shared with other jobs. `benchmarks/segmentation_nuclei_benchmark.py`.",
        results, path,
    )


if __name__ == "__main__":
    main()
