"""Why the RetinaNet detector under-fits the synthetic MNIST-digit scenes: targets, initial losses, short trainings.

Same scenes as benchmarks/detection_segmentation_benchmark.py (96x96, 1-4
digits, disjoint digit images per split). Three experiments:

  * `targets`: the anchor plan, positive / ignored anchors per image and per
    pyramid level from the detector's own label encoder, the box-target
    magnitudes, and the loss terms (focal classification, Huber box) of a
    freshly built detector with keras-hub's head initialization and with
    RetinaNet's (`detection.initialize_head_biases`). No training.
  * `overfit`: N train scenes, no augmentation, S optimizer steps of 16
    (Adam, cosine schedule from trainer.make_optimizer, as train_detector),
    scored (COCO mAP, pycocotools) on those same scenes. A healthy detector
    approaches mAP@.5 ~0.9 on its own training scenes.
  * `confirm`: the benchmark's 600 / 200 split with the default box-aware
    augmentation (detection_defaults.DEFAULT_POLICY), S steps, scored on the
    200 eval scenes and on 200 train scenes.

Variants: a base, `current` (keras-hub's head init: class logits' bias 0,
box deltas' bias -4.6) or `head_init` (RetinaNet's: class bias -log(99),
box bias 0; build_detector's default after this change), plus "+"-joined
modifiers: `p5` (pyramid up to P5 although the anchor plan stops at P3: with
max_level 3 keras-hub's RetinaNetBackbone feeds the FPN from encoder stages
1-2 only, so the heads see features 3-5 convolutions deep; P5 makes the FPN's
top-down path start at the encoder's last stage, as in FPN), `warmup`
(linear warm-up over the first 10% of steps), `clip` (global gradient norm
10), `gn` (GroupNorm in the heads, keras-hub's use_prediction_head_norm),
`fpnbn` (BatchNorm in the FPN, keras-hub's use_fpn_batch_norm), `std`
(head conv kernels from N(0, 0.01^2), RetinaNet's init, instead of keras-hub's
random_normal stddev 0.05). Detectors
trained from scratch need normalization in every new layer, FPN and heads
included (He et al. 2019, "Rethinking ImageNet Pre-training").

Usage:
  python -m benchmarks.detection_underfit_diagnosis --experiment targets
  python -m benchmarks.detection_underfit_diagnosis --experiment overfit --scenes 64 --steps 200 \\
      --variants current head_init head_init+p5
  python -m benchmarks.detection_underfit_diagnosis --experiment confirm --steps 300 --variants current head_init head_init+p5
Results accumulate in benchmarks/results/detection_underfit_diagnosis.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import os
import time

import numpy as np

from benchmarks.detection_segmentation_benchmark import digit_scenes, split_digits

IMAGE_SIZE = (96, 96)
NUM_CLASSES = 10
BATCH = 16
LOG_EVERY = 25  # steps per logged loss point
# A variant is a base ("current": keras-hub's head init; "head_init": RetinaNet's) plus "_"-joined modifiers.
BASES = ("current", "head_init")
MODIFIERS = ("p5", "clip", "warmup", "gn", "fpnbn", "std")
HEAD_KERNEL_STDDEV = 0.01  # RetinaNet section 4.1: head convs drawn from N(0, 0.01^2); keras-hub uses 0.05
WARMUP_FRACTION = 0.1  # linear warm-up over the first 10% of the steps, then the cosine decay
# Deepest pyramid level the `_p5` variants build: the FPN's top-down path then starts at the encoder's last stage.
DEEP_LEVEL = 5
OUT = os.path.join(os.path.dirname(__file__), "results", "detection_underfit_diagnosis")


def scenes(seed: int, train_count: int, eval_count: int):
    from components.data_translation.mnist import load_mnist

    digits, digit_labels, _ = load_mnist()
    train_pool, eval_pool = split_digits(digit_labels, seed)
    train = digit_scenes(digits[train_pool], digit_labels[train_pool], train_count, seed)[:3]
    held_out = digit_scenes(digits[eval_pool], digit_labels[eval_pool], eval_count, 1000 + seed)[:3] if eval_count else None
    return train, held_out


def parse_variant(variant: str):
    base, *modifiers = variant.split("+")
    if base not in BASES or any(m not in MODIFIERS for m in modifiers):
        raise ValueError(f"variant must be one of {BASES} followed by '+'-joined {MODIFIERS}; got {variant!r}")
    return base, set(modifiers)


def build(variant: str, plan, seed: int):
    """The detector of `variant`: `p5` extends the pyramid to P5, `gn` adds GroupNorm to the heads."""
    import keras_hub

    from components.training import detection

    base, modifiers = parse_variant(variant)
    if "p5" in modifiers:
        plan = dataclasses.replace(plan, max_level=max(plan.max_level, DEEP_LEVEL))
    original, original_backbone = keras_hub.models.RetinaNetObjectDetector, keras_hub.models.RetinaNetBackbone
    if "gn" in modifiers:  # keras-hub's own option (GroupNorm(32) after every head conv), not exposed by build_detector
        keras_hub.models.RetinaNetObjectDetector = functools.partial(original, use_prediction_head_norm=True)
    if "fpnbn" in modifiers:  # keras-hub's own option (BatchNorm after the FPN's convs)
        keras_hub.models.RetinaNetBackbone = functools.partial(original_backbone, use_fpn_batch_norm=True)
    try:
        model = detection.build_detector(NUM_CLASSES, (*IMAGE_SIZE, 3), plan, seed, fix_head_init=base != "current")
        if "std" in modifiers:
            rng = np.random.default_rng(seed)
            for head in (model.classification_head, model.box_head):
                for layer in head.conv_layers + [head.prediction_layer]:
                    layer.kernel.assign(rng.normal(0.0, HEAD_KERNEL_STDDEV, tuple(layer.kernel.shape)).astype("float32"))
        return model
    finally:
        keras_hub.models.RetinaNetObjectDetector, keras_hub.models.RetinaNetBackbone = original, original_backbone


def make_optimizer(variant: str, steps: int, seed: int):
    """trainer.make_optimizer's Adam 1e-3 + cosine; `warmup` adds a linear warm-up, `clip` global norm 10."""
    import keras

    from components.training import trainer
    from components.training.spec import TrainingConfig

    _, modifiers = parse_variant(variant)
    optimizer = trainer.make_optimizer(TrainingConfig(learning_rate=1e-3, seed=seed, batch_size=BATCH), steps)
    if "warmup" in modifiers:
        warmup = int(WARMUP_FRACTION * steps)
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=steps - warmup, warmup_target=1e-3, warmup_steps=warmup))
    if "clip" in modifiers:
        optimizer.global_clipnorm = 10.0
    return optimizer


def loss_terms(model, images, boxes, labels) -> dict:
    """Focal classification and Huber box loss per positive anchor (the trainer's normalization), no training."""
    import keras
    import tensorflow as tf

    from components.training import detection

    library = detection.to_library_boxes(tf.constant(boxes), tf.constant(labels), IMAGE_SIZE)
    x = tf.constant(images)
    target_boxes, target_labels = model.label_encoder(images=x, gt_boxes=library["boxes"], gt_classes=library["labels"])
    target_labels = target_labels.numpy()
    predicted = model(x, training=False)
    logits, deltas = predicted["cls_logits"].numpy(), predicted["bbox_regression"].numpy()
    positive = target_labels >= 0
    normalizer = positive.sum()
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[np.clip(target_labels, 0, None).astype(int)] * positive[..., None]
    focal = keras.losses.BinaryFocalCrossentropy(from_logits=True, reduction=None)(one_hot[..., None], logits[..., None])
    focal = np.asarray(focal).reshape(logits.shape)
    weights = (target_labels != -2)[..., None]
    negatives_only = focal * weights * (one_hot == 0)
    huber = np.asarray(keras.losses.Huber(reduction=None)(target_boxes.numpy()[positive], deltas[positive]))
    return {
        "cls_loss": float((focal * weights).sum() / normalizer),
        "cls_loss_from_negatives": float(negatives_only.sum() / normalizer),
        "box_loss": float(huber.sum() / normalizer),
        "cls_logit_mean": float(logits.mean()), "cls_logit_std": float(logits.std()),
        "box_delta_mean": float(deltas.mean()), "box_delta_std": float(deltas.std()),
    }


def targets(seed: int, count: int) -> dict:
    """Anchor plan, positives per image / level, box-target magnitudes, initial loss terms of both inits."""
    import tensorflow as tf

    from components.training import detection

    (images, boxes, labels), _ = scenes(seed, count, 0)
    plan = detection.plan_anchors(boxes, labels, IMAGE_SIZE)
    sizes, ratios = detection.box_statistics(boxes, labels, IMAGE_SIZE)
    out = {"experiment": "targets", "seed": seed, "scenes": count, "anchor_plan": plan.to_dict(),
           "box_size_px_quantiles_0_5_50_95_100": np.quantile(sizes, [0, .05, .5, .95, 1]).round(2).tolist(),
           "box_ratio_quantiles_0_10_50_90_100": np.quantile(ratios, [0, .1, .5, .9, 1]).round(3).tolist()}
    for variant in ("current", "head_init"):
        model = build(variant, plan, seed)
        if variant == "current":
            library = detection.to_library_boxes(tf.constant(boxes), tf.constant(labels), IMAGE_SIZE)
            anchors = model.anchor_generator(tf.constant(images[:1]))
            _, encoded = model.label_encoder(
                images=tf.constant(images), gt_boxes=library["boxes"], gt_classes=library["labels"]
            )
            encoded = encoded.numpy()
            per_level, start = {}, 0
            for level, level_anchors in anchors.items():
                part = encoded[:, start : start + level_anchors.shape[0]]
                start += level_anchors.shape[0]
                per_level[level] = {
                    "anchors": int(level_anchors.shape[0]),
                    "positive_per_image": float((part >= 0).sum(1).mean()),
                    "ignored_per_image": float((part == -2).sum(1).mean()),
                }
            real = labels >= 0
            out.update({
                "anchors_per_level": per_level,
                "objects_per_image": float(real.sum(1).mean()),
                "positive_anchors_per_object": float((encoded >= 0).sum() / real.sum()),
                "objects_without_positive_anchor": int(_unmatched(model, images, boxes, labels)),
            })
        out[f"initial_losses_{variant}"] = loss_terms(model, images, boxes, labels)
    # The trainer's own loss (keras-hub compute_loss: focal loss averaged over classes, Huber averaged over the 4
    # coordinates, both summed over anchors / positives) on the first 16 scenes, with BatchNorm in inference mode
    # (moving statistics, as at step 0 of an evaluation) and in training mode (batch statistics: what step 0 of
    # training sees).
    x = tf.constant(images[:16])
    y = detection.to_library_boxes(tf.constant(boxes[:16]), tf.constant(labels[:16]), IMAGE_SIZE)
    for variant in ("current", "head_init", "head_init+std", "head_init+gn+fpnbn"):
        model = build(variant, plan, seed)
        model.compile(optimizer="adam")
        for training in (False, True):
            predicted = model(x, training=training)
            logits = predicted["cls_logits"].numpy()
            out.setdefault("step0_keras_loss", {})[f"{variant} ({'training' if training else 'inference'} mode)"] = {
                "loss": round(float(model.compute_loss(x=x, y=y, y_pred=predicted, sample_weight=None)), 3),
                "cls_logit_std": round(float(logits.std()), 3),
                "fraction_of_scores_above_0.5": round(float((logits > 0).mean()), 4),
            }
    return out


def _unmatched(model, images, boxes, labels) -> int:
    """Ground-truth boxes that no anchor is positive for (the force-matcher should make this 0)."""
    import tensorflow as tf

    from components.training import detection

    library = detection.to_library_boxes(tf.constant(boxes), tf.constant(labels), IMAGE_SIZE)
    anchors = model.anchor_generator(tf.constant(images[:1]))
    anchors = np.concatenate([a.numpy() for a in anchors.values()])
    _, encoded = model.label_encoder(images=tf.constant(images), gt_boxes=library["boxes"], gt_classes=library["labels"])
    encoded = encoded.numpy()
    missing = 0
    for index in range(len(images)):
        gt = library["boxes"].numpy()[index]
        for box in gt[gt[:, 0] >= 0]:
            inter_w = np.clip(np.minimum(anchors[:, 2], box[2]) - np.maximum(anchors[:, 0], box[0]), 0, None)
            inter_h = np.clip(np.minimum(anchors[:, 3], box[3]) - np.maximum(anchors[:, 1], box[1]), 0, None)
            inter = inter_w * inter_h
            union = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter
            best = int(np.argmax(inter / union))
            missing += int(encoded[index, best] < 0)
    return missing


def train_and_score(variant, train, score_sets, steps, seed, augment: bool) -> dict:
    import keras

    from components.training import detection, trainer
    from components.training.detection_defaults import DEFAULT_POLICY
    from components.training.spec import TrainingConfig

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    plan = detection.plan_anchors(train[1], train[2], IMAGE_SIZE)
    model = build(variant, plan, seed)
    model.compile(optimizer=make_optimizer(variant, steps, seed))
    dataset = detection.training_dataset(*train, BATCH, seed, DEFAULT_POLICY if augment else None, repeat=True)
    started = time.perf_counter()
    history = model.fit(dataset, steps_per_epoch=LOG_EVERY, epochs=max(1, steps // LOG_EVERY), verbose=0).history
    seconds = time.perf_counter() - started
    # The training loss on the train scenes in inference mode (BatchNorm moving statistics, no augmentation): far
    # above the last training loss would mean the scored model is not the one the loss describes.
    plain = detection.training_dataset(*(a[:256] for a in train), BATCH, seed, None)
    inference_loss = model.evaluate(plain, verbose=0, return_dict=True)
    scores = {}
    from components.evaluation import detection_metrics

    for name, (images, boxes, labels) in score_sets.items():
        predicted = detection.predict_detections(model, images)
        metrics = detection_metrics.coco_detection_metrics(
            boxes, labels, predicted["boxes"], predicted["scores"], predicted["classes"], IMAGE_SIZE,
            [str(d) for d in range(NUM_CLASSES)],
        )["metrics"]
        scores[name] = {k: round(float(v), 4) for k, v in metrics.items()}
        # Class-agnostic: every object and detection one class. High here but low above = boxes found, digits confused.
        agnostic = detection_metrics.coco_detection_metrics(
            boxes, np.where(labels >= 0, 0, labels), predicted["boxes"], predicted["scores"],
            np.where(predicted["classes"] >= 0, 0, predicted["classes"]), IMAGE_SIZE, ["object"],
        )["metrics"]
        scores[name]["agnostic_map_50"] = round(float(agnostic["map_50"]), 4)
    return {
        "variant": variant, "steps": max(1, steps // LOG_EVERY) * LOG_EVERY, "batch": BATCH, "seed": seed,
        "augmentation": "detection_default" if augment else None, "train_scenes": len(train[0]),
        "loss_every_25_steps": [round(v, 4) for v in history["loss"]],
        "cls_loss_every_25_steps": [round(v, 4) for v in history["cls_logits_loss"]],
        "box_loss_every_25_steps": [round(v, 4) for v in history["bbox_regression_loss"]],
        "inference_mode_loss_on_train_scenes": {k: round(float(v), 4) for k, v in inference_loss.items()},
        "scores": scores, "train_seconds": round(seconds, 1), "seconds_per_step": round(seconds / steps, 3),
        "load_average_1min_after": os.getloadavg()[0],
    }


def write_markdown(results) -> None:
    lines = ["# Detection under-fitting diagnosis (CPU, synthetic MNIST-digit scenes)", "",
             "Generated by benchmarks/detection_underfit_diagnosis.py; see the notes below the tables.", ""]
    for r in results:
        if r["experiment"] == "targets":
            lines += ["## Targets and initial losses (no training)", "", "```", json.dumps(r, indent=1), "```", ""]
    trained = [r for r in results if r["experiment"] != "targets"]
    if trained:
        lines += ["## Short trainings", "",
                  "| experiment | variant | train scenes | aug | steps x 16 | scored on | mAP@.5 | mAP@[.5:.95] | AR@100 | "
                  "class-agnostic AP@.5 | "
                  "loss first -> last (cls / box last) | s/step |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in trained:
            for split, m in r["scores"].items():
                lines.append(
                    f"| {r['experiment']} | {r['variant']} | {r['train_scenes']} | {r['augmentation'] or 'none'} | "
                    f"{r['steps']} | {split} | {m['map_50']:.3f} | {m['map']:.3f} | {m['mar_100']:.3f} | "
                    f"{m['agnostic_map_50'] if 'agnostic_map_50' in m else '-'} | "
                    f"{r['loss_every_25_steps'][0]:.2f} -> {r['loss_every_25_steps'][-1]:.3f} "
                    f"({r['cls_loss_every_25_steps'][-1]:.3f} / {r['box_loss_every_25_steps'][-1]:.3f}) | "
                    f"{r['seconds_per_step']:.2f} |"
                )
        lines += ["", "Loss curves (mean loss of each block of 25 steps):", ""]
        for r in trained:
            lines.append(f"* {r['experiment']} / {r['variant']}: " + ", ".join(f"{v:.3g}" for v in r["loss_every_25_steps"]))
    notes = os.path.join(os.path.dirname(OUT), "detection_underfit_diagnosis_notes.md")
    if os.path.exists(notes):
        lines += ["", open(notes).read()]
    with open(OUT + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", choices=("targets", "overfit", "confirm"), required=True)
    parser.add_argument("--variants", nargs="+", default=["current", "head_init"], help="e.g. current head_init+p5")
    parser.add_argument("--scenes", type=int, default=64, help="train scenes of the overfit experiment")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = []
    if os.path.exists(OUT + ".json"):
        with open(OUT + ".json") as handle:
            results = json.load(handle)["results"]
    if args.markdown_only:
        write_markdown(results)
        return
    runs = []
    if args.experiment == "targets":
        runs.append(lambda: targets(args.seed, args.scenes))
    else:
        if args.experiment == "overfit":
            train, _ = scenes(args.seed, args.scenes, 0)
            score_sets, augment = {"train (same scenes)": train}, False
        else:
            train, held_out = scenes(args.seed, 600, 200)
            score_sets = {"eval 200": held_out, "train 200": tuple(a[:200] for a in train)}
            augment = True
        for variant in args.variants:
            runs.append(lambda variant=variant: {"experiment": args.experiment, **train_and_score(
                variant, train, score_sets, args.steps, args.seed, augment)})
    for make in runs:
        result = make()
        print(json.dumps(result), flush=True)
        results.append(result)
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        with open(OUT + ".json", "w") as handle:
            json.dump({"cpu_count": os.cpu_count(), "results": results}, handle, indent=1)
        write_markdown(results)


if __name__ == "__main__":
    main()
