"""AdaBN and target self-training (no TFX).

AdaBN (Li et al., 2016) keeps every learned weight and replaces each batch
normalization layer's moving mean and variance by the statistics of its
input on target images. Layers are re-estimated in network order, each on
inputs computed with the earlier layers already adapted, so the statistics
are exact for the adapted network (not a running average).
"""

from __future__ import annotations

import logging
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from components.pseudo_labels import selection

logger = logging.getLogger(__name__)


def copy_model(model: keras.Model) -> keras.Model:
    """Same architecture, names and weights; the original is left untouched."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def batch_norm_layers(model: keras.Model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def _input_statistics(probe: keras.Model, images: tf.data.Dataset, axis: int):
    """Mean and (population) variance of `probe`'s output per channel `axis`, over all target images."""
    total = total_squares = None
    count = 0
    for batch in images:
        values = np.asarray(probe(batch, training=False), dtype=np.float64)
        values = np.moveaxis(values, axis, -1).reshape(-1, values.shape[axis])
        total = values.sum(0) if total is None else total + values.sum(0)
        total_squares = (values**2).sum(0) if total_squares is None else total_squares + (values**2).sum(0)
        count += len(values)
    if not count:
        raise ValueError("AdaBN needs target images; the target dataset is empty.")
    mean = total / count
    return mean, np.maximum(total_squares / count - mean**2, 0.0)


def adabn(model: keras.Model, target_images: tf.data.Dataset) -> keras.Model:
    """A copy of `model` whose batch-norm moving statistics are the target domain's.

    Args:
      model: functional Keras model with BatchNormalization layers.
      target_images: batched `[B,H,W,C]` float target images (no labels).

    Returns:
      The adapted copy; only `moving_mean` / `moving_variance` differ from `model`.

    Raises:
      ValueError: when the model has no batch normalization.
    """
    adapted = copy_model(model)
    layers = batch_norm_layers(adapted)
    if not layers:
        raise ValueError(f"AdaBN needs BatchNormalization layers; model {model.name!r} has none.")
    for index, layer in enumerate(layers):
        probe = keras.Model(adapted.inputs, layer.input)
        axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
        mean, variance = _input_statistics(probe, target_images, axis % len(layer.input.shape))
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(variance.astype("float32"))
        logger.info("AdaBN: %s re-estimated (%d/%d)", layer.name, index + 1, len(layers))
    return adapted


def predict_probabilities(model: keras.Model, images: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([np.asarray(model(batch, training=False)) for batch in images])


def self_training_targets(
    model: keras.Model, target_images_unbatched: tf.data.Dataset, batch_size: int, threshold: float, balance: bool
) -> Optional[tf.data.Dataset]:
    """Unbatched `(image, one-hot target)` of target images the model labels with confidence >= threshold.

    Returns None when no image passes the threshold.
    """
    probabilities = predict_probabilities(model, target_images_unbatched.batch(batch_size))
    chosen = selection.select_pseudo_labels(probabilities, threshold, selection.HARD, balance)
    if not len(chosen):
        logger.warning("self-training: no target image reached confidence %.3f", threshold)
        return None
    images = np.concatenate(list(target_images_unbatched.batch(batch_size).as_numpy_iterator()))
    return tf.data.Dataset.from_tensor_slices((images[chosen.indices], chosen.targets))


def accuracy(model: keras.Model, dataset: tf.data.Dataset) -> float:
    """Top-1 accuracy on batched `(images, int labels)`; unlabeled (-1) records are ignored."""
    correct = total = 0
    for images, labels, *_ in dataset:
        labels = np.asarray(labels)
        predictions = np.argmax(np.asarray(model(images, training=False)), axis=1)
        keep = labels >= 0
        correct += int(np.sum(predictions[keep] == labels[keep]))
        total += int(np.sum(keep))
    if not total:
        raise ValueError("No labeled records to score.")
    return correct / total
