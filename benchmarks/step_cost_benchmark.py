"""What one optimizer step costs on CPU: a supervised Keras step per batch size vs a FixMatch step.

Autofit's quick budget sizes FixMatch so the run stays within a few plain
trainings (pipelines/autofit/plan.py). Counting images alone makes a
FixMatch step (32 labeled + 96 strong views with gradients, 96 weak views
forward only) ~14x a 16-image supervised step; on a CPU the small step pays a
fixed per-step overhead too, so the real ratio is lower. This benchmark
measures both side by side in one process and fits

    seconds per step = overhead + per_image * (images with gradients + images forward only / 3)

The image count in brackets is the plan's cost model (plan.fixmatch_step_images).

Usage: python -m benchmarks.step_cost_benchmark [--steps 60] [--out results/step_cost]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from typing import Dict, List

import numpy as np

from benchmarks.common import RESULTS_DIR, environment

BATCHES = (16, 32, 64, 128)
SHAPES = ((28, 28, 1), (32, 32, 3))
FIXMATCH = {"batch_size": 32, "mu": 3}


def data_spec(shape):
    from components.types.data_spec import DataSpecContent

    return DataSpecContent(task="classification", class_names=[str(i) for i in range(10)], channels=shape[2],
                           source_format="image_folder", image_size=list(shape[:2]))


def supervised_step_seconds(shape, batch: int, steps: int) -> float:
    """Seconds per step of keras fit (Adam, sparse cross-entropy) on a small_cnn, after a warm-up epoch."""
    import keras
    import tensorflow as tf

    from components.consistency.spec import ConsistencyConfig
    from components.training import training

    config = ConsistencyConfig(architecture="small_cnn")
    model = training.model_builder(config.training_config(), data_spec(shape), shape[:2])()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    images = rng.random((batch * steps, *shape), dtype=np.float32)
    labels = rng.integers(0, 10, batch * steps)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch).cache().prefetch(2)
    model.fit(dataset, epochs=1, verbose=0)  # trace
    started = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    return (time.perf_counter() - started) / steps


def fixmatch_step_seconds(shape, steps: int) -> float:
    """Seconds per FixMatch step (autofit's quick settings: B=32, mu=3, Adam) on the same small_cnn."""
    import tensorflow as tf

    from components.consistency import consistency
    from components.consistency.spec import ConsistencyConfig

    batch, mu = FIXMATCH["batch_size"], FIXMATCH["mu"]
    config = ConsistencyConfig(optimizer="adam", learning_rate=3e-3, batch_size=batch, mu=mu, weak_flip=False)
    spec = data_spec(shape)
    model = consistency.build_classifier(config, spec, shape[:2])
    step = consistency.build_step(config, model, spec, 10 * batch * mu, steps + 5)
    rng = np.random.default_rng(0)
    labeled = tf.constant(rng.random((batch, *shape), dtype=np.float32))
    labels = tf.constant(rng.integers(0, 10, batch), tf.int32)
    unlabeled = tf.constant(rng.random((mu * batch, *shape), dtype=np.float32))
    indices = tf.range(mu * batch)
    for _ in range(3):
        step(labeled, labels, unlabeled, indices)
    started = time.perf_counter()
    for _ in range(steps):
        out = step(labeled, labels, unlabeled, indices)
    float(out["loss"])
    return (time.perf_counter() - started) / steps


def fixmatch_images() -> float:
    """A FixMatch step in supervised-image equivalents: labeled + strong views with gradients, weak views forward."""
    from pipelines.autofit.plan import fixmatch_step_images

    return fixmatch_step_images(FIXMATCH["batch_size"], FIXMATCH["mu"])


def fit_overhead(points: List[Dict[str, float]]) -> Dict[str, float]:
    """Least squares seconds = overhead + per_image * images over the supervised batch sizes."""
    images = np.array([p["images"] for p in points], float)
    seconds = np.array([p["seconds"] for p in points], float)
    per_image, overhead = np.polyfit(images, seconds, 1)
    return {"overhead_s": float(overhead), "per_image_s": float(per_image),
            "overhead_images": float(overhead / per_image) if per_image > 0 else float("inf")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--out", default=os.path.join(RESULTS_DIR, "step_cost"))
    args = parser.parse_args()
    rows = []
    for shape in SHAPES:
        points = [{"batch": b, "images": float(b), "seconds": supervised_step_seconds(shape, b, args.steps)}
                  for b in BATCHES]
        fit = fit_overhead(points)
        fixmatch = fixmatch_step_seconds(shape, args.steps)
        predicted = fit["overhead_s"] + fit["per_image_s"] * fixmatch_images()
        rows.append({"shape": list(shape), "supervised": points, "fit": fit, "fixmatch_seconds": fixmatch,
                     "fixmatch_predicted_seconds": predicted,
                     "fixmatch_vs_batch16": fixmatch / points[0]["seconds"]})
        print(json.dumps(rows[-1]), flush=True)
    with open(args.out + ".json", "w") as handle:
        json.dump({"environment": environment(), "steps": args.steps, "fixmatch": FIXMATCH, "rows": rows},
                  handle, indent=1)
    lines = ["# step_cost", "",
             "| input | ms/step at batch " + " / ".join(map(str, BATCHES))
             + " | fitted overhead ms (images) | ms per image | FixMatch ms/step (predicted) | FixMatch / batch-16 step |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        steps_ms = " / ".join(f"{1000 * p['seconds']:.1f}" for p in row["supervised"])
        fit = row["fit"]
        lines.append(f"| {'x'.join(map(str, row['shape']))} | {steps_ms} | {1000 * fit['overhead_s']:.1f} "
                     f"({fit['overhead_images']:.0f}) | {1000 * fit['per_image_s']:.2f} | "
                     f"{1000 * row['fixmatch_seconds']:.1f} ({1000 * row['fixmatch_predicted_seconds']:.1f}) | "
                     f"{row['fixmatch_vs_batch16']:.2f} |")
    lines += ["", f"- small_cnn, Adam, {args.steps} timed steps after a traced warm-up; supervised steps through keras "
                  "fit on a cached tf.data batch stream (what Training runs); FixMatch through the component's step "
                  f"(B={FIXMATCH['batch_size']}, mu={FIXMATCH['mu']}, weak + strong views in the graph).",
              f"- FixMatch counted as {fixmatch_images():.0f} supervised images (labeled and strong views with "
              "gradients, weak views forward only at a third of the cost); predicted = overhead + per image x that.",
              "- One process, one CPU run: read the ratios; absolute times depend on the machine. The plan's cost model "
              "(pipelines/autofit/plan.py) counts a FixMatch step as 224 images, 14x a 16-image step."]
    with open(args.out + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
