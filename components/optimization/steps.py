"""One plain optimizer step, shared by the memory probe and the LR range test.

Both need a forward and backward pass with full control of the learning rate
between steps and no Keras metric state, so they use a small compiled step
instead of `Model.fit`.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

TrainStep = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, loss: keras.losses.Loss) -> TrainStep:
    """A compiled `(images [B,H,W,C], targets [B,K]) -> scalar loss` step that updates the model."""

    @tf.function(reduce_retracing=True)
    def step(images, targets):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            value = loss(targets, predictions)
            if model.losses:
                value = value + tf.add_n(model.losses)
        gradients = tape.gradient(value, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return value

    return step


def set_learning_rate(optimizer: keras.optimizers.Optimizer, learning_rate: float) -> None:
    """Sets a constant learning rate in place (the optimizer must not hold a schedule)."""
    optimizer.learning_rate = float(learning_rate)
