"""Semantic segmentation on synthetic MNIST-digit scenes: the trainer's defaults vs the pre-fix recipe.

Scenes come from benchmarks/detection_segmentation_benchmark.py (1-4 digits
of 20-36 px on smooth textures at 96x96; mask = digit pixels with class
digit + 1, 0 = background; train and eval scenes use disjoint digit images).

Variants (components/training/segmentation.py):
  default        TrainingConfig() as a YAML user who sets nothing gets it
                 (seed aside): SegmentationRecipe() plans epochs / batch from
                 the step budget, balanced CE + Dice, depth from image size,
                 default mask-aware augmentation.
  pre_fix        PRE_FIX_RECIPE (plain CE, depth 3, no augmentation) with the
                 epochs and batch size the default variant planned: same
                 steps, so the difference is the recipe, not the budget.
  pre_fix_short  PRE_FIX_RECIPE, 8 epochs of 16 (the run that scored mIoU 0.09).
  default_depth3 the default with the U-Net depth fixed at 3 (the pre-fix depth):
                 what the depth rule adds, and costs.
  deeplabv3      keras-hub's DeepLabV3ImageSegmenter (random init, the
                 smallest ResNet encoder keras-hub accepts) with the default
                 recipe, at the same CPU time as `default`: its planned epochs
                 divided by DEEPLAB_COST_RATIO (training images/s of the
                 U-Net / DeepLabV3, measured side by side on this machine).

Reports eval mean IoU, foreground IoU, pixel accuracy, per-class IoU spread
over the object classes, training images/s (epochs after the first) and
peak RSS. Usage:
  python -m benchmarks.segmentation_benchmark --train 400 --eval 100 --seeds 0 --variants default pre_fix
Writes benchmarks/results/segmentation_<name>.{json,md}.
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

from benchmarks.detection_segmentation_benchmark import IMAGE_SIDE, digit_scenes, split_digits, write_examples

VARIANTS = ("default", "pre_fix", "pre_fix_short", "deeplabv3", "default_depth3")
# Training images/s at 96x96, batch 8, one process, interleaved rounds (medians): U-Net depth 4 8.86, depth 3 8.83,
# DeepLabV3 3.21 (at batch 16 in another process: U-Net depth 3 15.2 vs DeepLabV3 3.5).
DEEPLAB_COST_RATIO = 2.75


def build_deeplabv3(num_classes: int, image_shape):
    """keras-hub DeepLabV3 on a 3-stage basic-block ResNet (keras-hub requires 64 stem and first-stage filters)."""
    import keras_hub

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 128, 256],
        stackwise_num_blocks=[1, 1, 1], stackwise_num_strides=[1, 2, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=tuple(image_shape),
    )
    backbone = keras_hub.models.DeepLabV3Backbone(
        image_encoder=encoder, spatial_pyramid_pooling_key="P4", upsampling_size=4, dilation_rates=[6, 12, 18],
        low_level_feature_key="P2", projection_filters=48, image_shape=tuple(image_shape),
    )
    return keras_hub.models.DeepLabV3ImageSegmenter(backbone=backbone, num_classes=num_classes, activation="softmax")


def write_digit_examples(root: str, splits: dict):
    """Canonical segmentation Examples + DataSpec under `root` (the shared scene writer)."""
    return write_examples(root, "segmentation", splits)


def run(variant: str, splits: dict, seed: int, epochs_override=None, write=write_digit_examples) -> dict:
    """Trains and scores one variant; `splits` {"train": ..., "eval": ...} in `write`'s format."""
    import keras

    from components.training import segmentation
    from components.training.spec import TrainingConfig

    epoch_seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self._epoch_started)

    train_count = len(splits["train"][0])
    build_model = None
    if variant == "deeplabv3":
        epochs, batch_size, _ = segmentation.planned_schedule(TrainingConfig(), train_count)
        config = TrainingConfig(epochs=max(1, round(epochs / DEEPLAB_COST_RATIO)), batch_size=batch_size, seed=seed,
                                verbose=0, explicit_fields=("epochs", "batch_size"))
        recipe, build_model = segmentation.SegmentationRecipe(), build_deeplabv3
    elif variant in ("default", "default_depth3"):
        config = TrainingConfig(seed=seed, verbose=0)
        recipe = segmentation.SegmentationRecipe(depth=3 if variant == "default_depth3" else None)
    elif variant == "pre_fix":
        epochs, batch_size, _ = segmentation.planned_schedule(TrainingConfig(), train_count)
        config = TrainingConfig(epochs=epochs, batch_size=batch_size, seed=seed, verbose=0,
                                explicit_fields=("epochs", "batch_size"))
        recipe = segmentation.PRE_FIX_RECIPE
    else:
        config = TrainingConfig(epochs=8, batch_size=16, seed=seed, verbose=0, explicit_fields=("epochs", "batch_size"))
        recipe = segmentation.PRE_FIX_RECIPE
    if epochs_override:
        config = TrainingConfig(**{**config.__dict__, "epochs": epochs_override,
                                   "explicit_fields": ("epochs", *config.explicit_fields)})
    with tempfile.TemporaryDirectory() as root:
        spec = write(root, splits)
        started = time.perf_counter()
        _, history, metrics, details = segmentation.train_segmenter(
            os.path.join(root, "examples"), spec, config, build_model=build_model, extra_callbacks=[EpochTimer()],
            recipe=recipe,
        )
        total = time.perf_counter() - started
    keras.backend.clear_session()
    schedule = details["schedule"]
    steady = epoch_seconds[1:] or epoch_seconds
    object_iou = [row["iou"] for name, row in details["eval_per_class"].items()
                  if name != "background" and row["iou"] is not None and np.isfinite(row["iou"])]
    return {
        "variant": variant, "seed": seed, "metrics": metrics, "schedule": schedule,
        "unet_depth": details["unet_depth"] or "-", "default_augmentation": details["default_augmentation"],
        "object_class_iou": {"min": float(np.min(object_iou)), "max": float(np.max(object_iou)),
                             "std": float(np.std(object_iou))} if object_iou else None,
        "per_class": details["eval_per_class"],
        "train_images_per_second": schedule["steps_per_epoch"] * schedule["batch_size"] / float(np.mean(steady)),
        "wall_seconds": total, "final_loss": history["loss"][-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def write_markdown(title: str, description: str, results, path) -> None:
    lines = [
        f"# {title}", "", description, "",
        "| variant | seed | epochs x steps x batch | depth | mean IoU | foreground IoU | pixel acc | "
        "object-class IoU min / max (std) | train img/s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, s, spread = r["metrics"], r["schedule"], r["object_class_iou"]
        shown = f"{spread['min']:.3f} / {spread['max']:.3f} ({spread['std']:.3f})" if spread else "-"
        lines.append(
            f"| {r['variant']} | {r['seed']} | {s['epochs']} x {s['steps_per_epoch']} x {s['batch_size']} | "
            f"{r['unet_depth']} | {m['eval_mean_iou']:.3f} | {m['eval_foreground_iou']:.3f} | "
            f"{m['eval_pixel_accuracy']:.3f} | {shown} | {r['train_images_per_second']:.1f} | {r['wall_seconds']:.0f} |"
        )
    for variant, epochs in dict.fromkeys((r["variant"], r["schedule"]["epochs"]) for r in results):
        runs = [r["metrics"] for r in results if (r["variant"], r["schedule"]["epochs"]) == (variant, epochs)]
        if len(runs) > 1:
            shown = ", ".join(
                f"{label} {np.mean([m[key] for m in runs]):.3f} ± {np.std([m[key] for m in runs]):.3f}"
                for label, key in (("mean IoU", "eval_mean_iou"), ("foreground IoU", "eval_foreground_iou"),
                                   ("pixel accuracy", "eval_pixel_accuracy"))
            )
            lines.append(f"\n{variant}, {epochs} epochs: {shown} (mean ± std over {len(runs)} seeds)")
    with open(path + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")


def merged_results(names) -> list:
    """The result rows of earlier runs (their --name values), in order."""
    results = []
    for name in names:
        with open(results_path(name) + ".json") as handle:
            results.extend(json.load(handle)["results"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--eval", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["default", "pre_fix"], choices=VARIANTS)
    parser.add_argument("--epochs", type=int, default=None, help="override (smoke runs only)")
    parser.add_argument("--name", default="digits")
    parser.add_argument("--merge", nargs="+", default=None,
                        help="combine the results of earlier runs (their --name values) into --name; trains nothing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    from components.data_translation.mnist import load_mnist

    path = results_path(args.name)
    results = []
    if args.merge:
        results = merged_results(args.merge)
        args.seeds = sorted({r["seed"] for r in results})
        args.variants = list(dict.fromkeys(r["variant"] for r in results))
        write_digit_results(args, results, path)
        return
    digits, digit_labels, _ = load_mnist()
    for seed in args.seeds:
        train_pool, eval_pool = split_digits(digit_labels, seed)
        train = digit_scenes(digits[train_pool], digit_labels[train_pool], args.train, seed)
        held_out = digit_scenes(digits[eval_pool], digit_labels[eval_pool], args.eval, 1000 + seed)
        for variant in args.variants:
            result = run(variant, {"train": train, "eval": held_out}, seed, args.epochs)
            logging.info("%s seed %d: %s", variant, seed, json.dumps(result["metrics"]))
            results.append(result)
            write_digit_results(args, results, path)  # after every run, so a cut-off run still leaves a table


def results_path(name: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"segmentation_{name}")


def write_digit_results(args, results, path) -> None:
    with open(path + ".json", "w") as handle:
        json.dump({"args": vars(args), "cpu_count": os.cpu_count(), "results": results}, handle, indent=2)
    write_markdown(
        "Semantic segmentation on synthetic MNIST-digit scenes (CPU)",
        f"{args.train} train / {args.eval} eval scenes at {IMAGE_SIDE}x{IMAGE_SIDE}, 1-4 digits each, 11 classes "
        f"(background + 10 digits); {os.cpu_count()} CPU cores shared with other jobs. "
        "`benchmarks/segmentation_benchmark.py`; variants in its docstring.", results, path,
    )


if __name__ == "__main__":
    main()
