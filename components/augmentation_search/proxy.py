"""The proxy model of the search: briefly trained, with trustworthy batch-norm statistics.

A few epochs are too few for batch-norm moving averages (momentum 0.99) to
forget their initial values, so inference-mode outputs of a briefly trained
model are unreliable. `BatchNormRecalibrator` replaces them with the
statistics of clean training images ("precise BN"), before pass 1 and before
every pass-2 trial is scored.
"""

from __future__ import annotations

import logging
from typing import Callable, List, Optional

import keras
import numpy as np
import tensorflow as tf

from components.training import trainer
from components.training.spec import TrainingConfig

logger = logging.getLogger(__name__)

RECALIBRATION_IMAGES = 512  # Clean training images whose statistics replace the BN moving averages.


def batch_norm_layers(layer: keras.layers.Layer) -> List[keras.layers.BatchNormalization]:
    """All BatchNormalization layers nested anywhere in `layer`."""
    found = []
    for child in getattr(layer, "layers", []):
        if isinstance(child, keras.layers.BatchNormalization):
            found.append(child)
        else:
            found.extend(batch_norm_layers(child))
    return found


class BatchNormRecalibrator:
    """Sets every BN moving mean/variance to the statistics of one batch of clean images.

    The training-mode forward pass is traced once with the layers' momentum at
    0 (the momentum is a constant of the traced graph), then the momentum is
    restored, so the model's own training is unaffected. Dropout is active in
    that pass; batch norm after dropout would see dropped units.
    """

    def __init__(self, model: keras.Model):
        self._model = model
        self._layers = batch_norm_layers(model)
        self._forward = None

    def _trace(self, image_shape) -> None:
        momenta = [layer.momentum for layer in self._layers]
        try:
            for layer in self._layers:
                layer.momentum = 0.0
            forward = tf.function(lambda images: self._model(images, training=True), autograph=False)
            self._forward = forward.get_concrete_function(tf.TensorSpec([None, *image_shape], tf.float32))
        finally:
            for layer, momentum in zip(self._layers, momenta):
                layer.momentum = momentum

    def __call__(self, images: np.ndarray) -> int:
        """Recalibrates on `images` [N,H,W,C] (one batch); returns the number of BN layers."""
        if not self._layers or len(images) == 0:
            return 0
        if self._forward is None:
            self._trace(tuple(images.shape[1:]))
        self._forward(tf.convert_to_tensor(images, tf.float32))
        return len(self._layers)


def array_batches(
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    seed: int,
    augment: Optional[Callable] = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Shuffled (seeded, reshuffled per epoch) batches `(images [B,H,W,C], targets [B,K])`.

    `augment(images, targets, seed [2]) -> (images, targets)` runs per batch
    with a seed derived from the batch's position in the (repeated) stream,
    so runs repeat exactly and each epoch draws new augmentations.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images.astype("float32"), targets.astype("float32")))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if repeat:
        dataset = dataset.repeat()
    if augment is not None:
        dataset = dataset.enumerate().map(
            lambda index, batch: augment(batch[0], batch[1], tf.stack([tf.cast(index, tf.int32), seed])),
            num_parallel_calls=1,
            deterministic=True,
        )
    return dataset.prefetch(2)


def train_proxy(
    build_model: Callable[[], keras.Model],
    images: np.ndarray,
    targets: np.ndarray,
    config: TrainingConfig,
    task: str,
) -> keras.Model:
    """Trains the proxy without augmentation through the suite's training loop, then recalibrates BN."""
    dataset = array_batches(images, targets, config.batch_size, config.seed)
    model, history = trainer.fit(build_model, dataset, None, config, task, len(images), log_prefix="search proxy")
    BatchNormRecalibrator(model)(images[:RECALIBRATION_IMAGES])
    logger.info("proxy trained %d epochs: final train accuracy %.4f", config.epochs, history["accuracy"][-1])
    return model
