"""Detection and segmentation training speed and peak memory per image size (96, 224 px) on CPU.

Each (task, size) runs in its own subprocess, so its peak RSS is its own: the
model the trainer builds by default (detection: keras-hub RetinaNet with the
anchor plan for large or for small boxes, `--objects`; segmentation: the U-Net at
the depth `unet_depth_for` picks), compiled as the trainer compiles it, then
`--steps` timed train steps on random images (after one tracing step). The
sizes of one task run one after the other in the same invocation, so their
ratio is comparable; absolute images/s depend on the machine's load.

    .venv/bin/python benchmarks/dense_task_scaling.py --sizes 96 224 --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NAME = "dense_task_scaling"
BATCH_SIZE = 8
NUM_CLASSES = 10


OBJECTS = {"large": "boxes a quarter to half the side", "small": "boxes of 12-24 px at any image size"}


def _boxes(rng, count: int, size: int, objects: str = "large"):
    import numpy as np

    if objects == "small":
        sides = rng.uniform(12.0, 24.0, size=(count, 2)) / size
    else:
        sides = rng.uniform(0.25, 0.5, size=(count, 2))
    corners = rng.uniform(0.0, 1.0 - sides)
    boxes = np.concatenate([corners, corners + sides], axis=1)  # normalized yxyx
    return boxes[:, None, :].astype("float32"), rng.integers(0, NUM_CLASSES, size=(count, 1))


def measure(task: str, size: int, steps: int, objects: str = "large") -> Dict[str, object]:
    """One (task, size) in this process: parameters, median seconds per step, images/s, peak RSS."""
    import keras
    import numpy as np
    import tensorflow as tf

    from components.training import detection, segmentation, trainer
    from components.training.spec import TrainingConfig

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    config = TrainingConfig(architecture="small_cnn", batch_size=BATCH_SIZE, epochs=1)
    if task == "detection":
        image_size = detection.detector_image_size((size, size))
        boxes, labels = _boxes(rng, 64, size, objects)
        plan = detection.plan_anchors(boxes, labels, image_size)
        model = detection.build_detector(NUM_CLASSES, (*image_size, 3), plan, seed=0)
        model.compile(optimizer=trainer.make_optimizer(config, 100))
        images = rng.uniform(size=(BATCH_SIZE, *image_size, 3)).astype("float32")
        targets = detection.to_library_boxes(tf.constant(boxes[:BATCH_SIZE]), tf.constant(labels[:BATCH_SIZE],
                                                                                            tf.int32), image_size)
        targets = {key: value.numpy() for key, value in targets.items()}
        extra = {"anchor_plan": plan.to_dict(), "objects": objects}
    else:
        from components.training import segmentation_loss

        depth = segmentation.unet_depth_for((size, size))
        image_size = segmentation.segmentation_image_size((size, size), depth)
        model = segmentation.build_unet(NUM_CLASSES, (*image_size, 3), depth=depth)
        model.compile(optimizer=trainer.make_optimizer(config, 100),
                      loss=segmentation_loss.BalancedSegmentationLoss(np.ones(NUM_CLASSES, "float32")))
        images = rng.uniform(size=(BATCH_SIZE, *image_size, 3)).astype("float32")
        targets = rng.integers(0, NUM_CLASSES, size=(BATCH_SIZE, *image_size)).astype("int32")
        extra = {"unet_depth": depth}
    durations: List[float] = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            durations.append(time.perf_counter() - self.started)

    # fit, not train_on_batch: keras-hub's detector converts a train_on_batch target dict to one tensor and fails.
    batches = tf.data.Dataset.from_tensors((images, targets)).repeat()
    model.fit(batches, steps_per_epoch=steps + 1, epochs=1, verbose=0, callbacks=[StepTimer()])
    first = durations[0]  # tracing included
    median = float(np.median(durations[1:]))
    return dict(extra, task=task, size=size, image_size=list(image_size), batch_size=BATCH_SIZE,
                parameters=int(model.count_params()), first_step_seconds=round(first, 2),
                step_seconds=round(median, 3), images_per_second=round(BATCH_SIZE / median, 2),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["detection", "segmentation"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--objects", nargs="+", default=list(OBJECTS), choices=list(OBJECTS),
                        help="detection: object sizes the anchors are planned for")
    parser.add_argument("--one", nargs=3, metavar=("TASK", "SIZE", "OBJECTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(measure(args.one[0], int(args.one[1]), args.steps, args.one[2])), flush=True)
        return
    from benchmarks import common

    rows, runs = [], []
    for task in args.tasks:
        for objects in (args.objects if task == "detection" else ["-"]):
            for size in args.sizes:
                output = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", task, str(size), objects,
                                         "--steps", str(args.steps)], capture_output=True, text=True, check=True).stdout
                run = json.loads(next(line[7:] for line in output.splitlines() if line.startswith("RESULT ")))
                runs.append(run)
                print(run, flush=True)
    for run in runs:
        base = next(r for r in runs if r["task"] == run["task"] and r.get("objects") == run.get("objects")
                    and r["size"] == min(args.sizes))
        plan = run.get("anchor_plan")
        what = (f"{OBJECTS[run['objects']]}; anchors P{plan['min_level']}-P{plan['max_level']}" if plan
                else f"U-Net depth {run['unet_depth']}")
        rows.append([run["task"], what, str(run["size"]), f"{run['parameters']:,}",
                     f"{run['images_per_second']:.2f}", f"{base['images_per_second'] / run['images_per_second']:.1f}x",
                     f"{run['peak_rss_mb']:.0f}"])
    load = os.getloadavg()[0]
    common.write_results(
        NAME, {"runs": runs, "steps": args.steps, "load_average_1min_at_end": load}, rows,
        ["task", "model", "size px", "parameters", "train images/s (batch 8)",
         f"time per image vs {min(args.sizes)} px", "peak RSS MB"],
        notes=[
            "Each row: a fresh process builds the trainer's default model (detection: keras-hub RetinaNet, ResNet-10 "
            "encoder, FPN and heads of 256 filters, anchors planned for the row's boxes; "
            "segmentation: U-Net at the depth unet_depth_for picks), 3 channels, 10 classes, compiled as the trainer "
            "compiles it; one tracing step, then the median of "
            f"{args.steps} train steps of {BATCH_SIZE} random images (augmentation and data loading excluded).",
            "Peak RSS: the process's maximum resident memory (TensorFlow and the model included).",
            "Detection anchors are planned from the boxes (components/training/detection.plan_anchors), so cost "
            "follows object size in pixels, not image size alone: objects a quarter to half the side sit on one "
            "coarse level at either size (P3 at 96 px, P5 at 224 px), small objects need the fine levels, whose "
            "256-filter heads dominate at 224 px.",
            f"CPU, 2 cores shared with other jobs (1-minute load average {load:.1f} at the end): images/s are "
            "indicative; the ratio between sizes of one task, measured one after the other, less so.",
        ],
    )
    print(open(os.path.join(common.RESULTS_DIR, f"{NAME}.md")).read())


if __name__ == "__main__":
    main()
