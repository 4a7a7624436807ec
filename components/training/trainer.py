"""The reusable training loop (training, distillation, noisy student, search).

Labels enter as one-hot / soft targets `[B, K]` so label smoothing, mixup
and pseudo-labels share one loss.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Dict, List, Optional, Sequence

import keras
import tensorflow as tf

from components.training.spec import TrainingConfig
from components.types import features

logger = logging.getLogger(__name__)


def make_strategy(distribution: str) -> tf.distribute.Strategy:
    """`auto`: MirroredStrategy across visible GPUs if more than one, else default."""
    gpus = tf.config.list_logical_devices("GPU")
    if distribution == "mirrored" or (distribution == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if distribution == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def make_optimizer(config: TrainingConfig, total_steps: int) -> keras.optimizers.Optimizer:
    learning_rate = config.learning_rate
    if config.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=max(total_steps, 1))
    elif config.schedule == "step":
        boundaries = [int(total_steps * 0.5), int(total_steps * 0.75)]
        learning_rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [config.learning_rate, config.learning_rate * 0.1, config.learning_rate * 0.01]
        )
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay or 1e-4)
    return keras.optimizers.Adam(learning_rate)


def make_loss(task: str, label_smoothing: float = 0.0) -> keras.losses.Loss:
    if task == features.TASK_MULTILABEL:
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)


def make_metrics(task: str) -> List[keras.metrics.Metric]:
    if task == features.TASK_MULTILABEL:
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc", multi_label=True)]
    return [keras.metrics.CategoricalAccuracy(name="accuracy")]


def one_hot_labels(dataset: tf.data.Dataset, task: str, num_classes: int) -> tf.data.Dataset:
    """Maps int labels `[B]` to one-hot `[B, K]`; multi-hot labels pass through."""
    if task == features.TASK_MULTILABEL:
        return dataset
    return dataset.map(
        lambda images, labels, *rest: (images, tf.one_hot(labels, num_classes), *rest),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


class ProgressLogger(keras.callbacks.Callback):
    """One log line per epoch, so runs under TFX/Beam show progress in their logs."""

    def __init__(self, epochs: int, prefix: str = "training"):
        super().__init__()
        self._epochs = epochs
        self._prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        shown = ", ".join(f"{key}={value:.4f}" for key, value in sorted((logs or {}).items()))
        logger.info("%s epoch %d/%d: %s", self._prefix, epoch + 1, self._epochs, shown)


def with_augmentation(model: keras.Model, augmentation: Optional[keras.layers.Layer]) -> keras.Model:
    """The scaffold: augmentation in front of the model, active in training only."""
    if augmentation is None:
        return model
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    return keras.Model(inputs, model(augmentation(inputs)), name=f"{model.name}_scaffold")


def fit(
    build_model: Callable[[], keras.Model],
    train_dataset: tf.data.Dataset,
    eval_dataset: Optional[tf.data.Dataset],
    config: TrainingConfig,
    task: str,
    num_train_examples: int,
    augmentation: Optional[keras.layers.Layer] = None,
    loss: Optional[keras.losses.Loss] = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    log_prefix: str = "training",
) -> tuple:
    """Trains a model built inside the distribution strategy's scope.

    Args:
      build_model: returns the bare model (called under the strategy scope).
      train_dataset: batched `(images [B,H,W,C], targets [B,K])`, repeated
        if `config.steps_per_epoch` is set.
      eval_dataset: batched like train_dataset, or None.
      num_train_examples: sets steps per epoch and the schedule length.

    Returns:
      (bare_model, history dict of per-epoch lists).
    """
    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(num_train_examples / config.batch_size))
    strategy = make_strategy(config.distribution)
    with strategy.scope():
        bare_model = build_model()
        training_model = with_augmentation(bare_model, augmentation)
        training_model.compile(
            optimizer=make_optimizer(config, steps_per_epoch * config.epochs),
            loss=loss or make_loss(task, config.label_smoothing),
            metrics=make_metrics(task),
        )
    callbacks: List[keras.callbacks.Callback] = [ProgressLogger(config.epochs, log_prefix), *extra_callbacks]
    if config.early_stopping_patience and eval_dataset is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True
            )
        )
    history = training_model.fit(
        train_dataset,
        validation_data=eval_dataset,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
        callbacks=callbacks,
        verbose=config.verbose,
    )
    return bare_model, {key: [float(v) for v in values] for key, values in history.history.items()}


def evaluate(model: keras.Model, dataset: tf.data.Dataset, task: str) -> Dict[str, float]:
    """Loss and accuracy of a bare model on a batched one-hot dataset."""
    model.compile(loss=make_loss(task), metrics=make_metrics(task))
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {key: float(value) for key, value in results.items()}
