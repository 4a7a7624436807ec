"""What is reproducible: weights of two trainings with the same seed, with and without TF op determinism.

Each training runs in its own process (op determinism cannot be switched off
once on, and thread pools are fixed at start-up): small_cnn on 1,000 MNIST-5k
images, a few epochs, seed 0, through components.training.trainer.fit. A run
reports its wall time and the SHA-256 of its final weights; equal hashes mean
bitwise-identical models. Configurations vary op determinism
(`tf.config.experimental.enable_op_determinism`) and the intra/inter-op
thread count, interleaved so machine load hits them alike.

    python benchmarks/determinism_benchmark.py [--repeats 2] [--epochs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Dict, List

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LABELED = 1000
BATCH_SIZE = 64


def child(deterministic: bool, threads: int, epochs: int) -> Dict[str, object]:
    """One training in this process; returns its time, weight hash and test accuracy."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    import keras

    from benchmarks import common
    from benchmarks.regularization_benchmark import data_spec_for, train_dataset
    from components.training import models, trainer
    from components.training.spec import TrainingConfig

    data = common.mnist_split(LABELED, seed=0)
    spec = data_spec_for(data["train_y"])
    config = TrainingConfig(architecture="small_cnn", epochs=epochs, batch_size=BATCH_SIZE, learning_rate=3e-3,
                            seed=0, verbose=0)
    keras.utils.set_random_seed(config.seed)
    dataset = train_dataset(data["train_x"], data["train_y"], config.batch_size, config.seed)
    started = time.perf_counter()
    model, _ = trainer.fit(lambda: models.small_cnn(spec, (28, 28)), dataset, None, config, spec.task, LABELED)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    predictions = np.argmax(model.predict(data["test_x"], batch_size=500, verbose=0), axis=1)
    return {
        "deterministic": deterministic,
        "threads": threads,
        "seconds": seconds,
        "weights_sha256": digest.hexdigest(),
        "test_accuracy": float(np.mean(predictions == data["test_y"])),
    }


def run_child(deterministic: bool, threads: int, epochs: int) -> Dict[str, object]:
    command = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(threads), "--epochs",
               str(epochs)] + (["--deterministic"] if deterministic else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def summarize(runs: List[Dict[str, object]]) -> Dict[str, Dict[str, object]]:
    groups: Dict[str, Dict[str, object]] = {}
    for run in runs:
        key = f"determinism={'on' if run['deterministic'] else 'off'}, threads={run['threads']}"
        group = groups.setdefault(key, {"seconds": [], "hashes": [], "accuracy": []})
        group["seconds"].append(run["seconds"])
        group["hashes"].append(run["weights_sha256"])
        group["accuracy"].append(run["test_accuracy"])
    for group in groups.values():
        group["identical_weights"] = len(set(group["hashes"])) == 1
        group["mean_seconds"] = sum(group["seconds"]) / len(group["seconds"])
    return groups


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.deterministic, args.threads, args.epochs)))
        return
    from benchmarks import common

    runs = []
    for _ in range(args.repeats):
        for deterministic, threads in ((False, 2), (True, 2), (False, 1), (True, 1)):
            runs.append(run_child(deterministic, threads, args.epochs))
            print(json.dumps(runs[-1]), flush=True)
    groups = summarize(runs)
    off, on = groups["determinism=off, threads=2"], groups["determinism=on, threads=2"]
    ratio = on["mean_seconds"] / off["mean_seconds"]
    hashes = {key: set(group["hashes"]) for key, group in groups.items()}
    across_threads = hashes["determinism=on, threads=1"] == hashes["determinism=on, threads=2"]
    rows = [
        [key, f"{group['mean_seconds']:.1f}", "yes" if group["identical_weights"] else "NO",
         ", ".join(sorted({value[:12] for value in group["hashes"]})),
         ", ".join(f"{value:.4f}" for value in group["accuracy"])]
        for key, group in groups.items()
    ]
    notes = [
        f"small_cnn, {LABELED} MNIST-5k images, {args.epochs} epochs, batch {BATCH_SIZE}, seed 0, CPU; "
        f"{args.repeats} runs per configuration, each in a fresh process, configurations interleaved.",
        f"Slowdown of op determinism (2 threads): {ratio:.2f}x wall time.",
        "Same weights with op determinism at 1 vs 2 threads: " + ("yes" if across_threads else "no") + ".",
    ]
    common.write_results(
        "determinism",
        {"runs": runs, "groups": groups, "determinism_slowdown": ratio, "identical_across_threads": across_threads},
        rows,
        ["configuration", "mean seconds", "identical weights", "weight hashes", "test accuracy"],
        notes,
    )


if __name__ == "__main__":
    main()
