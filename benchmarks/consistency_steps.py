"""FixMatch test accuracy vs its number of steps, autofit's quick settings, on the `make demo` layout.

Why: the quick budget promises a run within ~3x one plain training, and FixMatch is most of the cost. Per seed
the demo layout (40 labeled train + 10 eval images per class of MNIST-5k, 3,500 unlabeled, 1,000 test images)
is written and translated once; ConsistencyTraining's loop (small_cnn, batch 32, mu 3, Adam 3e-3 with
FixMatch's cosine, no mirroring: what the mirror check decides on digits) then runs for each step count
(41 steps per epoch, so a step count is rounded up to whole epochs). `--warm` starts FixMatch from the plain
supervised model (autofit's planned Training settings) instead of random init.

    .venv/bin/python benchmarks/consistency_steps.py --seeds 0 1 2 --steps 500 700 [--warm]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STEPS_PER_EPOCH = 41  # autofit's quick plan for 3,900 images in the pool: ceil(3900 / (3 * 32))


def translated(work: str, seed: int):
    """(examples uri, DataSpecContent) of the demo layout for `seed`, translated by DataTranslation."""
    from components.types.data_spec import read_data_spec
    from pipelines import lineage as lineage_lib
    from pipelines.autofit import run as autofit_run
    from pipelines.config import config_from_dict
    from pipelines.demo import DEMO_SPLITS, write_semi_supervised_mnist

    root = os.path.join(work, f"seed{seed}")
    write_semi_supervised_mnist(os.path.join(root, "data"), per_class=DEMO_SPLITS, seed=seed)
    autofit_run.translate_only(config_from_dict({
        "data": {"format": "image_folder", "path": os.path.join(root, "data")}, "seed": seed,
        "pipeline_name": "consistency-steps", "run_dir": os.path.join(root, "run")}))
    graph = lineage_lib.read_lineage(os.path.join(root, "run"))
    return (lineage_lib.find_output(graph, "DataTranslation", "examples").uri,
            read_data_spec(lineage_lib.find_output(graph, "DataTranslation", "data_spec").uri))


def plain_model(examples: str, spec, seed: int, directory: str):
    """The plain supervised model with autofit's planned settings for 400 labels (batch 16, 60 epochs)."""
    from components.training import training
    from components.training.spec import TrainingConfig

    config = TrainingConfig(architecture="small_cnn", batch_size=16, epochs=60, early_stopping_patience=12,
                            seed=seed, verbose=0)
    model, _, _ = training.train_classifier(examples, spec, config, log_dir=os.path.join(directory, "logs"))
    return model


def run_fixmatch(examples: str, spec, seed: int, steps: int, directory: str, warm_start=None):
    from benchmarks.semi_supervised_benchmark import test_accuracy
    from components.consistency import consistency
    from components.consistency.spec import ConsistencyConfig

    config = ConsistencyConfig(architecture="small_cnn", batch_size=32, epochs=-(-steps // STEPS_PER_EPOCH),
                               steps_per_epoch=STEPS_PER_EPOCH, learning_rate=3e-3, mu=3, optimizer="adam", seed=seed,
                               weak_flip=False)
    started = time.time()
    run = consistency.run_consistency_training(examples, spec, config, directory, warm_start=warm_start)
    return {"steps": config.epochs * STEPS_PER_EPOCH, "eval_accuracy": run.metrics["eval_accuracy"],
            "test_accuracy": test_accuracy(run.model, examples, spec), "seconds": round(time.time() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, nargs="+", default=[500, 700])
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--out", default=None, help="JSON lines appended here (default: print only)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="consistency-steps-")
    for seed in args.seeds:
        examples, spec = translated(work, seed)
        warm = plain_model(examples, spec, seed, os.path.join(work, f"plain{seed}")) if args.warm else None
        for steps in args.steps:
            row = dict(seed=seed, warm=args.warm, **run_fixmatch(examples, spec, seed, steps,
                                                                  os.path.join(work, f"fm{seed}_{steps}"), warm))
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
