"""Segmentation loss and metric: class-balanced cross-entropy plus soft Dice, with an ignore value.

Why not plain cross-entropy: in most segmentation data the background fills
80-95% of the pixels and each object class a few percent, so the gradient
of an unweighted per-pixel cross-entropy is dominated by "background vs
anything" and a model that finds objects but not their class already sits
near the loss floor (the synthetic digit benchmark: foreground IoU 0.79,
mean IoU 0.09). Two standard remedies, combined:

* class weights from the train masks' pixel frequencies, softened median
  frequency balancing (Eigen & Fergus 2015): w_k = sqrt(median_f / f_k),
  clipped, rescaled so the average pixel weight is 1 (the learning rate
  keeps its meaning);
* a soft Dice term (Milletari et al. 2016), the mean over classes of
  1 - 2|P∩Y| / (|P| + |Y|) on the batch: each class counts equally, like
  mean IoU, whatever its pixel count.

Targets are `[B,H,W]` int class ids where `features.MASK_IGNORE_VALUE` (255)
marks pixels with no label (outside an augmented warp, VOC's void border);
they get no loss and no accuracy.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from components.types import features

MAX_CLASS_WEIGHT_RATIO = 10.0  # clip w_k to [median / 10, median * 10] before normalizing
DICE_WEIGHT = 1.0


def class_pixel_weights(masks: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-class loss weights `[K]` from train masks `[N,H,W]` (255 ignored).

    Classes with no pixels get weight 1 before normalizing (they contribute
    nothing to the cross-entropy anyway, and a fixed value keeps the
    normalization defined).

    Raises:
      ValueError: when the masks hold class ids >= num_classes (other than 255)
        or no labelled pixel at all.
    """
    values = np.asarray(masks).reshape(-1)
    counted = values[values != features.MASK_IGNORE_VALUE].astype(np.int64)
    if counted.size == 0:
        raise ValueError("Segmentation train masks have no labelled pixel (all 255 = ignore).")
    if counted.max() >= num_classes:
        raise ValueError(
            f"Segmentation train masks hold class id {int(counted.max())}, but the DataSpec has {num_classes} classes."
        )
    frequency = np.bincount(counted, minlength=num_classes) / counted.size
    present = frequency > 0
    median = float(np.median(frequency[present]))
    weights = np.ones(num_classes)
    weights[present] = np.sqrt(median / frequency[present])
    weights = np.clip(weights, 1.0 / np.sqrt(MAX_CLASS_WEIGHT_RATIO), np.sqrt(MAX_CLASS_WEIGHT_RATIO))
    mean_pixel_weight = float(np.sum(frequency * weights))
    return (weights / mean_pixel_weight).astype(np.float32)


@keras.saving.register_keras_serializable(package="tfx_autofit")
class BalancedSegmentationLoss(keras.losses.Loss):
    """Class-weighted cross-entropy + `dice_weight` x soft Dice on `[B,H,W,K]` probabilities.

    Args:
      class_weights: `[K]` per-class cross-entropy weights (None: all 1).
      dice_weight: weight of the soft Dice term (0: cross-entropy only).
    """

    def __init__(self, class_weights: Optional[np.ndarray] = None, dice_weight: float = DICE_WEIGHT,
                 name: str = "balanced_segmentation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in np.asarray(class_weights)]
        self.dice_weight = float(dice_weight)

    def call(self, y_true, y_pred):
        probabilities = tf.cast(y_pred, tf.float32)
        num_classes = tf.shape(probabilities)[-1]
        targets = tf.cast(y_true, tf.int32)
        counted = tf.cast(tf.not_equal(targets, features.MASK_IGNORE_VALUE), tf.float32)
        targets = tf.where(targets == features.MASK_IGNORE_VALUE, 0, targets)
        one_hot = tf.one_hot(targets, num_classes) * counted[..., None]
        log_p = tf.math.log(tf.clip_by_value(probabilities, 1e-7, 1.0))
        pixel_ce = -tf.reduce_sum(one_hot * log_p, axis=-1)
        if self.class_weights is not None:
            pixel_ce *= tf.gather(tf.constant(self.class_weights, tf.float32), targets) * counted
        loss = tf.reduce_sum(pixel_ce) / tf.maximum(tf.reduce_sum(counted), 1.0)
        if self.dice_weight:
            predicted = probabilities * counted[..., None]
            intersection = tf.reduce_sum(predicted * one_hot, axis=[0, 1, 2])
            sizes = tf.reduce_sum(predicted, axis=[0, 1, 2]) + tf.reduce_sum(one_hot, axis=[0, 1, 2])
            dice = (2.0 * intersection + 1.0) / (sizes + 1.0)
            loss += self.dice_weight * (1.0 - tf.reduce_mean(dice))
        return loss

    def get_config(self):
        return dict(super().get_config(), class_weights=self.class_weights, dice_weight=self.dice_weight)


@keras.saving.register_keras_serializable(package="tfx_autofit")
class LabelledPixelAccuracy(keras.metrics.Mean):
    """Share of labelled pixels (target != 255) whose argmax class is right."""

    def __init__(self, name: str = "pixel_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        targets = tf.cast(y_true, tf.int32)
        counted = tf.cast(tf.not_equal(targets, features.MASK_IGNORE_VALUE), tf.float32)
        correct = tf.cast(tf.equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), targets), tf.float32)
        return super().update_state(correct, sample_weight=counted)
