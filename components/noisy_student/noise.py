"""Model noise for noisy-student students: dropout before the head and stochastic depth.

The student is a fresh clone of the teacher's architecture. Stochastic depth
replaces each `Add` (a residual join) by `StochasticDepthAdd`, which drops
the residual branch of a sample with probability `rate` during training and
rescales survivors, so at inference it is a plain sum; `strip_noise` swaps
the plain `Add` back before saving, so saved students load without custom
objects.
"""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from components.contrastive import backbone

STUDENT_DROPOUT_NAME = "student_dropout"


@keras.saving.register_keras_serializable(package="tfx_autofit")
class StochasticDepthAdd(keras.layers.Layer):
    """Sums its inputs; in training, the FIRST input (the residual branch) is dropped per sample.

    Residual blocks in the built-in architectures call `Add()([branch,
    shortcut])`, which is the order this layer assumes.

    Call args:
      inputs: list of same-shape tensors `[B, ...]`, the branch first.
      training: drop only when True.
    """

    def __init__(self, rate: float = 0.1, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Stochastic depth rate must be in [0, 1); got {rate}.")
        self.rate = float(rate)
        self.seed = int(seed)
        self._seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=None):
        branch, rest = inputs[0], inputs[1:]
        shortcut = tf.add_n(list(rest)) if len(rest) > 1 else rest[0]
        if training and self.rate > 0:
            keep = 1.0 - self.rate
            shape = [tf.shape(branch)[0]] + [1] * (len(branch.shape) - 1)
            survive = keras.random.uniform(shape, seed=self._seed_generator) < keep
            branch = tf.where(survive, branch / keep, tf.zeros_like(branch))
        return branch + shortcut

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


def _fresh_copy(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config(layer.get_config())


def noisy_clone(model: keras.Model, dropout: float = 0.0, stochastic_depth: float = 0.0, seed: int = 0) -> keras.Model:
    """A freshly initialised copy of `model`'s architecture with student noise.

    Args:
      model: functional classifier (the teacher); layer names are kept.
      dropout: rate of a Dropout inserted before the head (0 = none).
      stochastic_depth: drop rate of residual branches (0 = none).

    Raises:
      ValueError: for models `keras.models.clone_model` cannot rebuild
        (subclassed models): give the student its own architecture then.
    """
    head_name = backbone.head_layer(model).name
    has_student_dropout = any(layer.name == STUDENT_DROPOUT_NAME for layer in model.layers)

    def clone_layer(layer):
        if stochastic_depth > 0 and isinstance(layer, keras.layers.Add):
            return StochasticDepthAdd(stochastic_depth, seed=seed, name=layer.name)
        if layer.name == STUDENT_DROPOUT_NAME:  # A former student as teacher: reset its rate.
            return keras.layers.Dropout(dropout, seed=seed, name=STUDENT_DROPOUT_NAME)
        return _fresh_copy(layer)

    def call_layer(layer, *args, **kwargs):
        if dropout > 0 and layer.name == head_name and not has_student_dropout:
            noisy_input = keras.layers.Dropout(dropout, seed=seed, name=STUDENT_DROPOUT_NAME)(args[0])
            return layer(noisy_input, *args[1:], **kwargs)
        return layer(*args, **kwargs)

    try:
        return keras.models.clone_model(model, clone_function=clone_layer, call_function=call_layer)
    except Exception as error:  # clone_model raises several types for models it cannot rebuild.
        raise ValueError(
            f"Cannot clone the teacher {model.name!r} into a noisy student ({error}); set "
            "student_architecture or student_module_file in the NoisyStudentConfig."
        ) from error


def strip_noise(model: keras.Model) -> keras.Model:
    """The same model with `StochasticDepthAdd` back as `Add`, weights copied (dropout is kept: inert at inference)."""
    if not any(isinstance(layer, StochasticDepthAdd) for layer in model.layers):
        return model

    def clone_layer(layer):
        if isinstance(layer, StochasticDepthAdd):
            return keras.layers.Add(name=layer.name)
        return _fresh_copy(layer)

    plain = keras.models.clone_model(model, clone_function=clone_layer)
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return plain


def copy_matching_weights(source: keras.Model, target: keras.Model) -> int:
    """Copies weights of layers with the same name and weight shapes; returns how many layers."""
    copied = 0
    for layer in target.layers:
        if not layer.weights or layer.name not in {other.name for other in source.layers}:
            continue
        match = source.get_layer(layer.name)
        if [tuple(w.shape) for w in layer.weights] == [tuple(w.shape) for w in match.weights]:
            layer.set_weights(match.get_weights())
            copied += 1
    return copied


def count_noise_layers(model: keras.Model, kind: Optional[type] = None) -> int:
    """Number of StochasticDepthAdd (or `kind`) layers, for logs and tests."""
    kind = kind or StochasticDepthAdd
    return sum(isinstance(layer, kind) for layer in model.layers)
