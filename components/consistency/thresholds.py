"""Confidence thresholds for pseudo-labels (FixMatch, FlexMatch, FreeMatch) and distribution alignment.

Every class here keeps its state in `tf.Variable`s so the train step updates
it in-graph and the per-epoch checkpoint saves it (`variables()`), and
computes per-class thresholds `[K]` from that state:

* fixed (FixMatch, Sohn et al. 2020): every class uses `threshold`.
* flexmatch (Curriculum Pseudo Labeling, Zhang et al. 2021): a class's
  threshold scales with how many unlabeled images the model already
  predicts confidently as that class: `T_c = M(beta_c) * threshold`,
  `beta_c = sigma_c / max(max_k sigma_k, unused)` (threshold warm-up),
  `M(x) = x / (2 - x)`; sigma_c counts unlabeled images whose latest
  confident (> threshold) prediction is c; `unused` counts images never
  predicted confidently. Hard classes get low thresholds early, so they
  get pseudo-labels at all.
* freematch (self-adaptive thresholds, Wang et al. 2023): a global
  threshold tau = EMA of the mean max confidence, class-wise
  `T_c = tau * p_c / max_k p_k` with p = EMA of the mean predicted
  class distribution. No fixed threshold; it rises as the model learns.
  (FreeMatch's self-adaptive fairness loss is not part of this.)

Distribution alignment (ReMixMatch, Berthelot et al. 2020) rescales weak
predictions by `target / running mean of predictions` and renormalizes,
so pseudo-labels follow the labeled class distribution.
"""

from __future__ import annotations

from typing import List, Sequence

import tensorflow as tf

FIXED = "fixed"
FLEXMATCH = "flexmatch"
FREEMATCH = "freematch"
MODES = (FIXED, FLEXMATCH, FREEMATCH)


def flexmatch_mapping(beta: tf.Tensor) -> tf.Tensor:
    """FlexMatch's convex mapping M(x) = x / (2 - x): M(0)=0, M(1)=1, below x in between."""
    return beta / (2.0 - beta)


def confidence_and_labels(probabilities: tf.Tensor):
    """(max probability `[B]`, argmax class `[B]` int32) of probabilities `[B, K]`."""
    return tf.reduce_max(probabilities, axis=-1), tf.argmax(probabilities, axis=-1, output_type=tf.int32)


class Thresholds:
    """Base: the fixed FixMatch threshold; subclasses adapt it per class.

    Args:
      num_classes: K.
      threshold: the fixed confidence threshold tau in (0, 1].
    """

    mode = FIXED

    def __init__(self, num_classes: int, threshold: float):
        self.num_classes = int(num_classes)
        self.threshold = float(threshold)

    def variables(self) -> List[tf.Variable]:
        """State saved in checkpoints (none for the fixed threshold)."""
        return []

    def class_thresholds(self) -> tf.Tensor:
        """Per-class thresholds `[K]` float32 from the current state."""
        return tf.fill([self.num_classes], tf.constant(self.threshold, tf.float32))

    def update(self, probabilities: tf.Tensor, indices: tf.Tensor) -> None:
        """Folds one batch of weak-view probabilities `[B, K]` (of unlabeled images `indices` `[B]`) into the state."""
        del probabilities, indices

    def mask(self, probabilities: tf.Tensor) -> tf.Tensor:
        """1.0 where an image's confidence reaches its predicted class's threshold, else 0.0, `[B]` float32."""
        confidence, labels = confidence_and_labels(probabilities)
        return tf.cast(confidence >= tf.gather(self.class_thresholds(), labels), tf.float32)

    # The order FlexMatch and FreeMatch prescribe: FlexMatch masks with the state before the batch,
    # FreeMatch updates its EMAs with the batch first.
    updates_before_mask = False

    def step(self, probabilities: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
        """Update and mask in the method's order; returns the mask `[B]`."""
        if self.updates_before_mask:
            self.update(probabilities, indices)
            return self.mask(probabilities)
        mask = self.mask(probabilities)
        self.update(probabilities, indices)
        return mask

    def stats(self) -> dict:
        """Min, mean and max of the current class thresholds (Python floats, for logs and MLMD)."""
        values = self.class_thresholds().numpy()
        return {"threshold_min": float(values.min()), "threshold_mean": float(values.mean()),
                "threshold_max": float(values.max())}


class FlexMatchThresholds(Thresholds):
    """Curriculum pseudo-labelling thresholds from each unlabeled image's latest confident prediction.

    Args:
      num_unlabeled: N, the number of unlabeled images (indices are 0..N-1).
      warmup: divide by max(max_k sigma_k, unused) (threshold warm-up), not by max_k sigma_k alone.
    """

    mode = FLEXMATCH

    def __init__(self, num_classes: int, threshold: float, num_unlabeled: int, warmup: bool = True):
        super().__init__(num_classes, threshold)
        if num_unlabeled < 1:
            raise ValueError(f"FlexMatch thresholds need at least one unlabeled image, got {num_unlabeled}.")
        self.warmup = bool(warmup)
        self.selected = tf.Variable(tf.fill([int(num_unlabeled)], -1), trainable=False, name="flexmatch_selected")

    def variables(self) -> List[tf.Variable]:
        return [self.selected]

    def class_thresholds(self) -> tf.Tensor:
        selected = tf.convert_to_tensor(self.selected)
        counts = tf.cast(tf.math.bincount(tf.maximum(selected, 0), weights=tf.cast(selected >= 0, tf.int32),
                                          minlength=self.num_classes, maxlength=self.num_classes), tf.float32)
        largest = tf.reduce_max(counts)
        if self.warmup:
            largest = tf.maximum(largest, tf.reduce_sum(tf.cast(selected < 0, tf.float32)))
        beta = tf.math.divide_no_nan(counts, largest)
        return flexmatch_mapping(beta) * self.threshold

    def update(self, probabilities: tf.Tensor, indices: tf.Tensor) -> None:
        confidence, labels = confidence_and_labels(probabilities)
        confident = confidence > self.threshold
        self.selected.scatter_nd_update(
            tf.cast(tf.boolean_mask(indices, confident), tf.int32)[:, None], tf.boolean_mask(labels, confident)
        )


class FreeMatchThresholds(Thresholds):
    """Self-adaptive global and class-wise thresholds from EMAs of the model's confidence.

    Args:
      momentum: EMA momentum lambda of both estimates (0.999 in the paper).
    """

    mode = FREEMATCH
    updates_before_mask = True

    def __init__(self, num_classes: int, threshold: float, momentum: float = 0.999):
        super().__init__(num_classes, threshold)
        self.momentum = float(momentum)
        uniform = 1.0 / self.num_classes
        self.global_threshold = tf.Variable(uniform, trainable=False, dtype=tf.float32, name="freematch_tau")
        self.class_distribution = tf.Variable(
            tf.fill([self.num_classes], uniform), trainable=False, name="freematch_p"
        )

    def variables(self) -> List[tf.Variable]:
        return [self.global_threshold, self.class_distribution]

    def class_thresholds(self) -> tf.Tensor:
        distribution = tf.convert_to_tensor(self.class_distribution)
        return self.global_threshold * distribution / tf.reduce_max(distribution)

    def update(self, probabilities: tf.Tensor, indices: tf.Tensor) -> None:
        del indices
        confidence, _ = confidence_and_labels(probabilities)
        keep = self.momentum
        self.global_threshold.assign(keep * self.global_threshold + (1.0 - keep) * tf.reduce_mean(confidence))
        self.class_distribution.assign(
            keep * self.class_distribution + (1.0 - keep) * tf.reduce_mean(probabilities, axis=0)
        )


def make_thresholds(
    mode: str, num_classes: int, threshold: float, num_unlabeled: int, momentum: float = 0.999
) -> Thresholds:
    """The threshold state for `mode` (one of MODES)."""
    if mode == FIXED:
        return Thresholds(num_classes, threshold)
    if mode == FLEXMATCH:
        return FlexMatchThresholds(num_classes, threshold, num_unlabeled)
    if mode == FREEMATCH:
        return FreeMatchThresholds(num_classes, threshold, momentum)
    raise ValueError(f"threshold_mode must be one of {MODES}, got {mode!r}.")


class DistributionAlignment:
    """Aligns weak-view predictions with a target class distribution (ReMixMatch).

    `aligned = normalize(p * target / running_mean(p))`; the running mean is
    an EMA over batches, started at the target (so the first batches are
    barely changed).

    Args:
      target: class prior `[K]` (e.g. the labeled class frequencies); normalized here.
      momentum: EMA momentum of the running mean of predictions.
    """

    def __init__(self, target: Sequence[float], momentum: float = 0.999):
        target = tf.constant(target, tf.float32)
        if target.shape.rank != 1 or float(tf.reduce_sum(target)) <= 0.0:
            raise ValueError(f"Distribution alignment needs a non-empty, positive class prior; got {list(target)}.")
        self.target = target / tf.reduce_sum(target)
        self.momentum = float(momentum)
        self.running_mean = tf.Variable(self.target, trainable=False, name="alignment_running_mean")

    def variables(self) -> List[tf.Variable]:
        return [self.running_mean]

    def align(self, probabilities: tf.Tensor, update: bool = True) -> tf.Tensor:
        """Aligned probabilities `[B, K]`; with `update`, the batch first enters the running mean."""
        if update:
            self.running_mean.assign(
                self.momentum * self.running_mean + (1.0 - self.momentum) * tf.reduce_mean(probabilities, axis=0)
            )
        scaled = probabilities * self.target / tf.maximum(self.running_mean, 1e-6)
        return scaled / tf.reduce_sum(scaled, axis=-1, keepdims=True)


def labeled_prior(class_counts: Sequence[int], num_classes: int, smoothing: float = 1.0) -> List[float]:
    """Class frequencies of the labeled split (+ `smoothing` per class); uniform when there are no counts."""
    counts = list(class_counts or [])
    if len(counts) != num_classes or sum(counts) <= 0:
        return [1.0 / num_classes] * num_classes
    total = sum(counts) + smoothing * num_classes
    return [(count + smoothing) / total for count in counts]
