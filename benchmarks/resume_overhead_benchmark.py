"""What resume, progress and TensorBoard cost per epoch inside a pipeline (issues 16, 17).

`trainer.fit` inside a TFX execution backs up weights + optimizer state
every epoch (resume after a kill), rewrites the progress file and writes
TensorBoard scalars. This measures a fit with all three against the same fit
with none, side by side in one process, alternating the order per repeat:

  model: a 4-conv CNN (~0.3M parameters) on 28x28x1, batch 64
  data: synthetic, 2,048 images per epoch; 5 epochs per fit

Run: .venv/bin/python benchmarks/resume_overhead_benchmark.py [--repeats 3]
Writes benchmarks/results/resume_overhead.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from components.common import resume  # noqa: E402
from components.training import trainer  # noqa: E402
from components.training.spec import TrainingConfig  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def build():
    layers = [keras.Input((28, 28, 1))]
    for width in (32, 64, 64, 128):
        layers += [keras.layers.Conv2D(width, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D()]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")]
    return keras.Sequential(layers)


def dataset(seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(2048, 28, 28, 1)).astype("float32")
    labels = tf.one_hot(rng.integers(0, 10, size=2048), 10)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(64).cache()


def timed_fit(config, with_state: bool, root: str) -> float:
    data = dataset()
    scope = resume.ExecutionScope(root, "Training", "1", f"bench{time.time_ns()}") if with_state else None
    started = time.perf_counter()
    with resume.execution_scope(scope):
        trainer.fit(build, data, None, config, "classification", 2048,
                    **({} if with_state else {"checkpoint_dir": "", "log_dir": ""}))
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    config = TrainingConfig(epochs=args.epochs, batch_size=64, verbose=0, seed=0)
    root = tempfile.mkdtemp(prefix="resume_overhead_")
    timed_fit(config, False, root)  # Warm-up: imports, first tracing.
    times = {"plain": [], "resume+progress+tensorboard": []}
    for repeat in range(args.repeats):
        order = [False, True] if repeat % 2 == 0 else [True, False]
        for with_state in order:
            times["resume+progress+tensorboard" if with_state else "plain"].append(timed_fit(config, with_state, root))
    plain, full = (statistics.median(times[k]) for k in ("plain", "resume+progress+tensorboard"))
    result = {
        "epochs_per_fit": args.epochs,
        "repeats": args.repeats,
        "seconds_per_fit": times,
        "median_plain_s": plain,
        "median_with_state_s": full,
        "ratio_with_state_to_plain": full / plain,
        "overhead_per_epoch_ms": 1000 * (full - plain) / args.epochs,
        "cpu_count": os.cpu_count(),
        "note": "one process, alternating order; machine shared with other jobs",
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "resume_overhead.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    with open(os.path.join(RESULTS, "resume_overhead.md"), "w") as handle:
        handle.write(
            "# Resume checkpoints + progress file + TensorBoard: cost per fit\n\n"
            f"{args.epochs} epochs of 2,048 28x28 images, 4-conv CNN, {args.repeats} repeats, median seconds.\n\n"
            "| mode | median s | all runs |\n|---|---|---|\n"
            + "".join(f"| {k} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)} |\n" for k, v in times.items())
            + f"\nRatio with/without: {full / plain:.3f}; overhead per epoch: {result['overhead_per_epoch_ms']:.0f} ms.\n"
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
