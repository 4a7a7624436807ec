"""Knowledge-distillation loss and the in-step teacher targets (Hinton et al. 2015).

Targets travel to the loss packed as `[B, 2K]`: the hard (one-hot, or
mixed) labels, then the teachers' probabilities on the very images the
student sees in that step. Models output probabilities, so logits are
recovered as log-probabilities (exact up to a per-row constant, which the
tempered softmax ignores).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import keras
import tensorflow as tf

# Probabilities are floored here before the log (as calibration and evaluation do).
PROBABILITY_FLOOR = 1e-12


def _log_probabilities(probabilities: tf.Tensor) -> tf.Tensor:
    return tf.math.log(tf.clip_by_value(probabilities, PROBABILITY_FLOOR, 1.0))


class DistillationLoss(keras.losses.Loss):
    """`w * T^2 * CE(softmax(t/T), softmax(s/T)) + (1 - w) * CE(y, p_s)` per example.

    The soft term is the cross-entropy form of the KL divergence (same
    gradient; the teacher's entropy is a constant), scaled by T^2 so its
    gradient size does not shrink with the temperature. Rows without a hard
    label (all-zero, i.e. unlabeled images) use the soft term alone.

    Args:
      num_classes: K; y_true is `[B, 2K]` (hard labels, teacher probabilities).
      temperature: T > 0 of both tempered softmaxes.
      soft_weight: w in [0, 1], the weight of the teacher's soft targets.
    """

    def __init__(self, num_classes: int, temperature: float = 4.0, soft_weight: float = 0.9, name="distillation"):
        super().__init__(name=name)
        if not temperature > 0:
            raise ValueError(f"Distillation temperature must be > 0, got {temperature}.")
        if not 0.0 <= soft_weight <= 1.0:
            raise ValueError(f"Distillation soft_weight must be in [0, 1], got {soft_weight}.")
        self.num_classes = int(num_classes)
        self.temperature = float(temperature)
        self.soft_weight = float(soft_weight)

    def call(self, y_true, y_pred):
        hard, teacher = split_targets(y_true, self.num_classes)
        student_log = _log_probabilities(tf.cast(y_pred, tf.float32))
        teacher_soft = tf.nn.softmax(_log_probabilities(teacher) / self.temperature, axis=-1)
        student_soft_log = tf.nn.log_softmax(student_log / self.temperature, axis=-1)
        soft = -tf.reduce_sum(teacher_soft * student_soft_log, axis=-1) * self.temperature**2
        hard_term = -tf.reduce_sum(hard * student_log, axis=-1)
        labeled = tf.reduce_sum(hard, axis=-1) > 0
        mixed = self.soft_weight * soft + (1.0 - self.soft_weight) * hard_term
        return tf.where(labeled, mixed, soft)

    def get_config(self):
        return dict(
            super().get_config(),
            num_classes=self.num_classes,
            temperature=self.temperature,
            soft_weight=self.soft_weight,
        )


def split_targets(y_true: tf.Tensor, num_classes: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """`[B, 2K]` -> (hard `[B, K]`, teacher `[B, K]`), float32."""
    y_true = tf.cast(y_true, tf.float32)
    return y_true[:, :num_classes], y_true[:, num_classes:]


def hard_label_accuracy(num_classes: int) -> Callable:
    """Accuracy of the student against the hard half of packed targets (unlabeled rows count as class 0)."""

    def accuracy(y_true, y_pred):
        hard, _ = split_targets(y_true, num_classes)
        return keras.metrics.categorical_accuracy(hard, y_pred)

    return accuracy


def teacher_probabilities(teachers: Sequence[keras.Model], images: tf.Tensor) -> tf.Tensor:
    """Mean of the teachers' probabilities `[B, K]`; images are resized to each teacher's input size."""
    outputs = []
    for teacher in teachers:
        height, width = teacher.input_shape[1:3]
        teacher_images = images
        if height is not None and width is not None and tuple(images.shape[1:3]) != (height, width):
            teacher_images = tf.image.resize(images, (height, width), antialias=True)
        outputs.append(tf.cast(teacher(teacher_images, training=False), tf.float32))
    return tf.add_n(outputs) / float(len(outputs))


def teacher_target_fn(teachers: Sequence[keras.Model]) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """`(images, hard [B,K]) -> [B, 2K]` for `trainer.fit(target_fn=...)`."""
    teachers = list(teachers)
    if not teachers:
        raise ValueError("Distillation needs at least one teacher model.")

    def targets(images: tf.Tensor, hard: tf.Tensor) -> tf.Tensor:
        return tf.concat([tf.cast(hard, tf.float32), teacher_probabilities(teachers, images)], axis=-1)

    return targets


def check_teachers(teachers: Sequence[keras.Model], num_classes: int, channels: int, names: Optional[Sequence[str]]):
    """Every teacher takes `[B,H,W,channels]` images and outputs `[B, num_classes]` (names the one that does not)."""
    for index, teacher in enumerate(teachers):
        name = names[index] if names else f"teacher {index}"
        shape, output = teacher.input_shape, teacher.output_shape
        if not isinstance(shape, tuple) or len(shape) != 4 or shape[3] != channels:
            raise ValueError(f"{name}: input shape {shape} is not [B,H,W,{channels}] images.")
        if output[-1] != num_classes:
            raise ValueError(f"{name}: outputs {output[-1]} classes; the DataSpec has {num_classes}.")
