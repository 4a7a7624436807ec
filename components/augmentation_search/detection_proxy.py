"""A small center-point detector that scores box priors for the search.

Choosing the box prior (how boxes follow a rotation or shear) needs a
detection score: train with the policy under each prior, measure held-out
COCO mAP on clean images, keep the best. A wrong prior teaches wrong box
sizes: a rotated disc looks like the disc, but the rectangle prior gives it
a box up to 1.4x too wide, so the model learns inflated boxes.

The model is a CenterNet-style head on a few convolutions (one heatmap per
class at stride 4, box size and sub-cell offset per cell), trained from
scratch in a few epochs on CPU: a proxy for ranking priors, not a
production detector.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Tuple

import numpy as np
import tensorflow as tf

from augment_ops import boxes as box_ops
from augment_ops import seeds
from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy, apply_policy

logger = logging.getLogger(__name__)

HEATMAP_SIGMA = 1.0  # grid cells
SIZE_LOSS_WEIGHT = 0.1  # CenterNet's weight for sizes in grid units
_EPSILON = 1e-6


@dataclasses.dataclass(frozen=True)
class DetectionProxyConfig:
    """Training budget of one proxy run (one per box prior).

    Attributes:
      epochs, batch_size, learning_rate: the short training (Adam).
      stride: output grid stride in pixels (image side must divide by it).
      max_detections: kept per image, highest scores first.
      seed: weights, shuffling and augmentation draws; every prior gets the
        same seed so their runs differ only in the prior.
    """

    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 3e-3
    stride: int = 4
    max_detections: int = 20
    seed: int = 0


Arrays = Tuple[np.ndarray, np.ndarray, np.ndarray]  # images [N,H,W,C], boxes [N,M,4], labels [N,M]


def build_detector(image_shape, num_classes: int, stride: int, seed: int):
    """Conv backbone to stride `stride`, then heatmap (sigmoid), size and offset heads: [B,S,S,K+4]."""
    import keras

    if stride not in (2, 4, 8):
        raise ValueError(f"stride must be 2, 4 or 8; got {stride}.")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(image_shape)
    x = inputs
    width = 16
    for _ in range(int(np.log2(stride))):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
        width *= 2
    for dilation in (1, 2, 4):  # receptive field covering objects up to ~half the image
        x = keras.layers.Conv2D(width, 3, padding="same", dilation_rate=dilation, activation="relu")(x)
    prior_bias = keras.initializers.Constant(-2.19)  # initial objectness 0.1 (CenterNet)
    heat = keras.layers.Conv2D(num_classes, 1, activation="sigmoid", bias_initializer=prior_bias)(x)
    size = keras.layers.Conv2D(2, 1, activation="softplus")(x)
    offset = keras.layers.Conv2D(2, 1, activation="sigmoid")(x)
    return keras.Model(inputs, keras.layers.Concatenate()([heat, size, offset]), name="detection_proxy")


def encode_targets(boxes: tf.Tensor, labels: tf.Tensor, grid: int, num_classes: int):
    """Heatmap, per-object cell indices and size/offset targets from boxes.

    Args:
      boxes: [B,M,4] normalized, padded rows -1.
      labels: [B,M] int, padded -1.

    Returns:
      heatmap [B,S,S,K] (1 at each object's cell, gaussian around it),
      cells int32 [B,M,2], sizes [B,M,2] (grid units), offsets [B,M,2],
      valid bool [B,M].
    """
    valid = box_ops.valid_boxes(boxes) & (labels >= 0)
    scale = tf.cast(grid, tf.float32)
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    center = tf.stack([(ymin + ymax) / 2.0, (xmin + xmax) / 2.0], axis=-1) * scale
    cells = tf.clip_by_value(tf.cast(tf.floor(center), tf.int32), 0, grid - 1)
    offsets = center - tf.cast(cells, tf.float32)
    sizes = tf.stack([ymax - ymin, xmax - xmin], axis=-1) * scale
    coordinates = tf.range(scale, dtype=tf.float32)
    dy = coordinates[None, None, :, None] - tf.cast(cells[..., 0], tf.float32)[..., None, None]
    dx = coordinates[None, None, None, :] - tf.cast(cells[..., 1], tf.float32)[..., None, None]
    bumps = tf.exp(-(dy**2 + dx**2) / (2.0 * HEATMAP_SIGMA**2))  # [B,M,S,S]
    bumps *= tf.cast(valid, tf.float32)[..., None, None]
    one_hot = tf.one_hot(tf.maximum(labels, 0), num_classes) * tf.cast(valid, tf.float32)[..., None]  # [B,M,K]
    heatmap = tf.reduce_max(bumps[..., None] * one_hot[:, :, None, None, :], axis=1)
    return heatmap, cells, sizes, offsets, valid


def detection_loss(outputs: tf.Tensor, boxes: tf.Tensor, labels: tf.Tensor, num_classes: int) -> tf.Tensor:
    """CenterNet loss: penalty-reduced focal loss on the heatmap, L1 on size and offset at object cells."""
    grid = tf.shape(outputs)[1]
    heatmap, cells, sizes, offsets, valid = encode_targets(boxes, labels, grid, num_classes)
    predicted = tf.clip_by_value(outputs[..., :num_classes], _EPSILON, 1.0 - _EPSILON)
    positive = tf.cast(heatmap >= 1.0 - _EPSILON, tf.float32)
    focal_positive = positive * tf.square(1.0 - predicted) * tf.math.log(predicted)
    focal_negative = (1.0 - positive) * tf.pow(1.0 - heatmap, 4.0) * tf.square(predicted) * tf.math.log(1.0 - predicted)
    num_objects = tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)
    focal = -tf.reduce_sum(focal_positive + focal_negative) / num_objects
    at_cells = tf.gather_nd(outputs[..., num_classes:], cells, batch_dims=1)  # [B,M,4]
    weight = tf.cast(valid, tf.float32)[..., None]
    size_l1 = tf.reduce_sum(weight * tf.abs(at_cells[..., :2] - sizes)) / num_objects
    offset_l1 = tf.reduce_sum(weight * tf.abs(at_cells[..., 2:] - offsets)) / num_objects
    return focal + SIZE_LOSS_WEIGHT * size_l1 + offset_l1


def decode(outputs: tf.Tensor, num_classes: int, max_detections: int):
    """Peaks of the heatmap (3x3 max) to boxes.

    Returns:
      boxes [B,D,4] normalized (ymin, xmin, ymax, xmax), scores [B,D], classes int32 [B,D].
    """
    grid = tf.shape(outputs)[1]
    heat = outputs[..., :num_classes]
    peaks = tf.where(tf.equal(heat, tf.nn.max_pool2d(heat, 3, 1, "SAME")), heat, 0.0)
    flat = tf.reshape(peaks, [tf.shape(heat)[0], -1])
    scores, indices = tf.math.top_k(flat, k=max_detections)
    classes = indices % num_classes
    cell = indices // num_classes
    row, col = cell // grid, cell % grid
    extras = tf.gather(tf.reshape(outputs[..., num_classes:], [tf.shape(heat)[0], -1, 4]), cell, batch_dims=1)
    center_y = (tf.cast(row, tf.float32) + extras[..., 2]) / tf.cast(grid, tf.float32)
    center_x = (tf.cast(col, tf.float32) + extras[..., 3]) / tf.cast(grid, tf.float32)
    half_h = extras[..., 0] / tf.cast(grid, tf.float32) / 2.0
    half_w = extras[..., 1] / tf.cast(grid, tf.float32) / 2.0
    boxes = tf.clip_by_value(tf.stack([center_y - half_h, center_x - half_w, center_y + half_h, center_x + half_w], -1), 0.0, 1.0)
    return boxes, scores, tf.cast(classes, tf.int32)


def coco_map(true_boxes, true_labels, pred_boxes, pred_scores, pred_classes, height: int, width: int) -> float:
    """COCO mAP@[.5:.95] of predictions against ground truth (pycocotools, via detection_metrics), in [0,1]."""
    from components.evaluation import detection_metrics

    true_labels, pred_classes = np.asarray(true_labels), np.asarray(pred_classes)
    num_classes = int(max(true_labels.max(initial=-1), pred_classes.max(initial=-1))) + 1
    return detection_metrics.coco_detection_metrics(
        true_boxes, true_labels, pred_boxes, pred_scores, pred_classes, (height, width),
        [str(k) for k in range(max(num_classes, 1))],
    )["metrics"][detection_metrics.MAP]


@dataclasses.dataclass(frozen=True)
class ProxyResult:
    """Held-out COCO mAP of one proxy training, and its per-image evidence for paired comparisons."""

    map: float
    evidence: object  # components.evaluation.resampled_metrics.DetectionEvidence


def train_and_score(
    train: Arrays, held_out: Arrays, num_classes: int, policy: Policy, options: AugmentOptions,
    config: DetectionProxyConfig = DetectionProxyConfig(),
) -> float:
    """Trains a fresh proxy with `policy` under `options` and returns held-out COCO mAP on clean images."""
    return train_and_evaluate(train, held_out, num_classes, policy, options, config).map


def train_and_evaluate(
    train: Arrays, held_out: Arrays, num_classes: int, policy: Policy, options: AugmentOptions,
    config: DetectionProxyConfig = DetectionProxyConfig(),
) -> ProxyResult:
    """`train_and_score`'s training, returning the mAP with the evidence it was computed from."""
    import keras

    from components.evaluation import resampled_metrics

    images, boxes, labels = (np.asarray(part) for part in train)
    if images.ndim != 4 or boxes.ndim != 3 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(
            f"train must be images [N,H,W,C], boxes [N,M,4], labels [N,M]; got {images.shape}, {boxes.shape}, {labels.shape}."
        )
    height, width = images.shape[1:3]
    if height % config.stride or width % config.stride:
        raise ValueError(f"Image size {height}x{width} must divide by the proxy stride {config.stride}.")
    model = build_detector(images.shape[1:], num_classes, config.stride, config.seed)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    base_seed = seeds.as_seed(config.seed)

    @tf.function
    def step(batch_images, batch_boxes, batch_labels, step_index):
        augmented = apply_policy(
            policy, {"images": batch_images, "boxes": batch_boxes, "box_labels": batch_labels},
            seeds.fold_in(base_seed, step_index), options,
        )
        with tf.GradientTape() as tape:
            outputs = model(augmented["images"], training=True)
            loss = detection_loss(outputs, augmented["boxes"], augmented["box_labels"], num_classes)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    rng = np.random.default_rng(config.seed)
    step_index = 0
    for epoch in range(config.epochs):
        order = rng.permutation(len(images))
        losses = []
        for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
            chosen = order[start : start + config.batch_size]
            losses.append(float(step(images[chosen], boxes[chosen], labels[chosen].astype(np.int32), tf.constant(step_index))))
            step_index += 1
        logger.info("detection proxy (%s prior) epoch %d/%d: loss %.4f", options.box_prior, epoch + 1, config.epochs, np.mean(losses))
    held_images, held_boxes, held_labels = (np.asarray(part) for part in held_out)
    outputs = model.predict(held_images, batch_size=config.batch_size, verbose=0)
    pred_boxes, pred_scores, pred_classes = (t.numpy() for t in decode(tf.constant(outputs), num_classes, config.max_detections))
    evidence = resampled_metrics.detection_evidence(
        held_boxes, held_labels, pred_boxes, pred_scores, pred_classes, (height, width), num_classes)
    return ProxyResult(resampled_metrics.split_map(evidence), evidence)  # coco_map's value, one pycocotools pass


def detection_scorer(
    train: Arrays, held_out: Arrays, num_classes: int, policy: Policy, config: DetectionProxyConfig = DetectionProxyConfig()
) -> Callable[[AugmentOptions], float]:
    """The `scorer(options) -> held-out mAP` that box_prior.choose_box_prior takes."""
    return lambda options: train_and_score(train, held_out, num_classes, policy, options, config)
