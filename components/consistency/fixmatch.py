"""FixMatch's math: losses, the weight EMA, the learning-rate schedule and one train step (no TFX).

One step (Sohn et al. 2020, Algorithm 1) on B labeled and mu*B unlabeled images:
  1. weak views of both, a strong view of the unlabeled ones (augment_ops, in-graph);
  2. the model (training mode) predicts the weak unlabeled views, without
     gradient; optional distribution alignment; the argmax is the
     pseudo-label, kept where its confidence passes its class's threshold;
  3. loss = CE(labels, p(weak labeled)) + lambda_u * mean(mask * CE(pseudo, p(strong)));
  4. optimizer step, then the EMA of the weights moves toward the new weights.

Models output probabilities (the suite's convention), so cross-entropies
are taken on log-probabilities clipped away from 0.
"""

from __future__ import annotations

import contextlib
import math
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf

from augment_ops import seeds
from components.consistency.thresholds import DistributionAlignment, Thresholds
from components.consistency.views import Views

EPSILON = 1e-7
# Decoupled weight decay skips these (biases and normalization scales/offsets), as is usual for SGD + BN.
NO_DECAY_NAMES = ("bias", "gamma", "beta")


def cross_entropy(probabilities: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Per-sample `-log p[label]` `[B]` from probabilities `[B, K]` and int labels `[B]`."""
    picked = tf.gather(probabilities, tf.cast(labels, tf.int32), axis=-1, batch_dims=1)
    return -tf.math.log(tf.clip_by_value(picked, EPSILON, 1.0))


def masked_cross_entropy(probabilities: tf.Tensor, labels: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """FixMatch's unlabeled loss: mean over ALL B samples of `mask * CE` (masked samples count as zero)."""
    return tf.reduce_mean(tf.cast(mask, probabilities.dtype) * cross_entropy(probabilities, labels))


def ema_decay_at(decay: float, step) -> tf.Tensor:
    """min(decay, (1 + step) / (10 + step)): the EMA follows the weights closely early on (short runs)."""
    step = tf.cast(step, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + step) / (10.0 + step))


class FixMatchCosine(keras.optimizers.schedules.LearningRateSchedule):
    """FixMatch's decay `lr * cos(7 pi k / (16 K))`: ends at ~0.2 lr rather than 0."""

    def __init__(self, learning_rate: float, total_steps: int):
        self.learning_rate = float(learning_rate)
        self.total_steps = max(int(total_steps), 1)

    def __call__(self, step):
        progress = tf.minimum(tf.cast(step, tf.float32) / float(self.total_steps), 1.0)
        return self.learning_rate * tf.cos(7.0 * math.pi * progress / 16.0)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps}


def make_optimizer(
    name: str, learning_rate: float, weight_decay: float, total_steps: int
) -> keras.optimizers.Optimizer:
    """SGD (Nesterov, momentum 0.9) or Adam with FixMatch's cosine decay and decoupled weight decay on kernels."""
    schedule = FixMatchCosine(learning_rate, total_steps)
    decay = weight_decay or None
    if name == "sgd":
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=decay)
    elif name == "adam":
        optimizer = keras.optimizers.Adam(schedule, weight_decay=decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {name!r}.")
    if decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


def averaged_weights(model: keras.Model) -> List:
    """The model variables an EMA follows: every float weight (trainable ones and normalization statistics)."""
    return [weight for weight in model.weights if weight.dtype in ("float16", "bfloat16", "float32", "float64")]


class WeightAverage:
    """Exponential moving average of a model's weights; the EMA model is what gets evaluated and exported.

    Args:
      model: a built Keras model; its current weights start the average.
      decay: the EMA decay (0.999 in FixMatch), warmed up by `ema_decay_at`.
    """

    def __init__(self, model: keras.Model, decay: float):
        self.model = model
        self.decay = float(decay)
        self.weights = averaged_weights(model)
        self.shadow = [tf.Variable(tf.convert_to_tensor(w), trainable=False, name="ema") for w in self.weights]

    def variables(self) -> List[tf.Variable]:
        return list(self.shadow)

    def update(self, step) -> None:
        """shadow <- d * shadow + (1 - d) * weights, with d = ema_decay_at(decay, step)."""
        decay = ema_decay_at(self.decay, step)
        for shadow, weight in zip(self.shadow, self.weights):
            shadow.assign(decay * shadow + (1.0 - decay) * tf.cast(tf.convert_to_tensor(weight), shadow.dtype))

    def copy_to_model(self) -> None:
        """Writes the averaged weights into the model (for export)."""
        for shadow, weight in zip(self.shadow, self.weights):
            weight.assign(shadow.numpy())

    @contextlib.contextmanager
    def applied(self):
        """The model holds the averaged weights inside the block and its own weights again after it."""
        saved = [np.array(weight) for weight in self.weights]
        self.copy_to_model()
        try:
            yield self.model
        finally:
            for weight, value in zip(self.weights, saved):
                weight.assign(value)


class FixMatchStep:
    """One compiled FixMatch step over (labeled, unlabeled) batches; owns no data.

    Args:
      model: the classifier (probabilities out), trained in place.
      optimizer: from `make_optimizer`; its `iterations` seeds the views, so a
        resumed run draws the same augmentations at the same step.
      views: weak/strong views.
      thresholds: pseudo-label threshold state (fixed, FlexMatch, FreeMatch).
      ema: the weight average, updated after every optimizer step.
      alignment: distribution alignment, or None.
      lambda_u: weight of the unlabeled loss.
      seed: base seed of the views.

    Call args:
      labeled: `[B,H,W,C]` float images in [0,1]; labels: `[B]` int class ids;
      unlabeled: `[mu B,H,W,C]`; indices: `[mu B]` int positions of the
      unlabeled images in their pool (FlexMatch's per-image state).

    Returns:
      Scalars: loss, supervised_loss, unsupervised_loss, mask_rate.
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        views: Views,
        thresholds: Thresholds,
        ema: WeightAverage,
        alignment: Optional[DistributionAlignment] = None,
        lambda_u: float = 1.0,
        seed: int = 0,
    ):
        self.model = model
        self.optimizer = optimizer
        self.views = views
        self.thresholds = thresholds
        self.ema = ema
        self.alignment = alignment
        self.lambda_u = float(lambda_u)
        self.seed = int(seed)
        self._step = tf.function(self._train_step)

    def pseudo_labels(self, weak_probabilities: tf.Tensor, indices: tf.Tensor, update: bool = True):
        """(pseudo-labels `[B]`, mask `[B]`) from weak-view probabilities; with `update`, the state learns the batch."""
        if self.alignment is not None:
            weak_probabilities = self.alignment.align(weak_probabilities, update=update)
        mask = self.thresholds.step(weak_probabilities, indices) if update else self.thresholds.mask(weak_probabilities)
        return tf.argmax(weak_probabilities, axis=-1, output_type=tf.int32), mask

    def _train_step(self, labeled, labels, unlabeled, indices):
        step = self.optimizer.iterations
        seed = seeds.fold_in(seeds.as_seed(self.seed), step)
        labeled_weak = self.views.weak_view(labeled, seeds.derive(seed, "labeled"))
        unlabeled_weak = self.views.weak_view(unlabeled, seeds.derive(seed, "unlabeled"))
        unlabeled_strong = self.views.strong_view(unlabeled, seeds.derive(seed, "unlabeled"))
        weak_probabilities = tf.stop_gradient(self.model(unlabeled_weak, training=True))
        pseudo, mask = self.pseudo_labels(weak_probabilities, indices)
        num_labeled = tf.shape(labeled)[0]
        with tf.GradientTape() as tape:
            probabilities = self.model(tf.concat([labeled_weak, unlabeled_strong], axis=0), training=True)
            supervised = tf.reduce_mean(cross_entropy(probabilities[:num_labeled], labels))
            unsupervised = masked_cross_entropy(probabilities[num_labeled:], pseudo, mask)
            loss = supervised + self.lambda_u * unsupervised
            if self.model.losses:
                loss += tf.add_n([tf.cast(extra, loss.dtype) for extra in self.model.losses])
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.ema.update(self.optimizer.iterations)
        return {"loss": loss, "supervised_loss": supervised, "unsupervised_loss": unsupervised,
                "mask_rate": tf.reduce_mean(mask)}

    def retrace(self) -> None:
        """A fresh compiled step: the next call traces again (after the trainable set or learning rate changed).

        The trace fixes which variables get gradients, whether BatchNorm
        layers run in training mode and the learning-rate computation, so the
        fine-tune schedule (components/training/fine_tuning.py) calls this at
        each switch.
        """
        self._step = tf.function(self._train_step)

    def __call__(self, labeled, labels, unlabeled, indices) -> Dict[str, tf.Tensor]:
        return self._step(labeled, labels, unlabeled, indices)
