"""The reusable training loop (training, distillation, noisy student, search).

Labels enter as one-hot / soft targets `[B, K]` so label smoothing, mixup
and pseudo-labels share one loss. Per-step target work (mixup/cutmix soft
labels, class weights, a teacher's predictions) happens inside the train
step (`SoftTargetModel`), so it runs in-graph on the accelerator.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from components.common import progress, resume
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


class ProgressLogger(progress.KerasProgress):
    """Progress of a plain `model.fit` (callers outside `fit`): per-epoch log lines, bar, progress file."""

    def __init__(self, epochs: int, prefix: str = "training"):
        super().__init__(epochs, label=prefix)


def with_augmentation(model: keras.Model, augmentation: Optional[keras.layers.Layer]) -> keras.Model:
    """The scaffold: augmentation in front of the model, active in training only."""
    if augmentation is None:
        return model
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    return keras.Model(inputs, model(augmentation(inputs)), name=f"{model.name}_scaffold")


def balanced_class_weights(counts: Sequence[int]) -> List[float]:
    """`N / (K * n_k)` per class, K counting classes present, so the mean weight per example is 1.

    Classes without examples get weight 1 (they never occur in training).
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if not np.any(present):
        raise ValueError("Balanced class weights need per-class training counts; all counts are zero.")
    weights = np.ones_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return [float(value) for value in weights]


def per_sample_class_weights(targets: tf.Tensor, class_weights: tf.Tensor) -> tf.Tensor:
    """Weight of each sample `[B]` from its (soft) targets `[B, K]` and class weights `[K]`.

    A soft row gets its expected class weight (mixup of a rare and a common
    class is weighted in between); a multi-hot row the mean over its labels;
    an all-zero row (unlabeled) weight 1.
    """
    mass = tf.reduce_sum(targets, axis=-1)
    weighted = tf.reduce_sum(targets * class_weights, axis=-1)
    return tf.where(mass > 0, weighted / tf.maximum(mass, 1e-12), tf.ones_like(mass))


def mix_batch(
    images: tf.Tensor, targets: tf.Tensor, mixup_alpha: float, cutmix_alpha: float, seed: int, step
) -> Tuple[tf.Tensor, tf.Tensor]:
    """Mixup and/or cutmix from augment_ops with soft labels, per sample, seeded by (seed, step).

    Args:
      images: `[B,H,W,C]` float in [0,1].
      targets: `[B,K]` float one-hot or soft.
      mixup_alpha, cutmix_alpha: op magnitudes in [0,1]; 0 turns an op off.
        With both on, each sample takes one of the two with even odds.
      step: int scalar (tensor) folded into the seed, so each batch draws anew
        and the same (seed, step) gives the same batch.

    Returns:
      (mixed images `[B,H,W,C]`, mixed targets `[B,K]`).
    """
    from augment_ops import registry, seeds  # Only when mixing is on.

    base = seeds.fold_in(seeds.derive(seeds.as_seed(int(seed)), "soft_label_mixing"), step)
    batch = {"images": images, "labels": tf.cast(targets, images.dtype)}
    batch_size = tf.shape(images)[0]
    mixup_magnitude = tf.fill([batch_size], float(mixup_alpha))
    cutmix_magnitude = tf.fill([batch_size], float(cutmix_alpha))
    if mixup_alpha > 0 and cutmix_alpha > 0:
        use_cutmix = seeds.bernoulli(seeds.derive(base, "choice"), tf.fill([batch_size], 0.5))
        mixup_magnitude = tf.where(use_cutmix, 0.0, mixup_magnitude)
        cutmix_magnitude = tf.where(use_cutmix, cutmix_magnitude, 0.0)
    if mixup_alpha > 0:
        batch = registry.apply_op("mixup", batch, mixup_magnitude, 1.0, seeds.derive(base, "mixup"))
    if cutmix_alpha > 0:
        batch = registry.apply_op("cutmix", batch, cutmix_magnitude, 1.0, seeds.derive(base, "cutmix"))
    return batch["images"], tf.cast(batch["labels"], targets.dtype)


TargetFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


class SoftTargetModel(keras.Model):
    """Training wrapper: mixes each batch, weights classes and derives targets inside the step.

    Order per training step: mixup/cutmix on (images, targets) (the config's
    alphas, then a policy's mixing ops), class weights from the mixed targets, then `target_fn(images, targets)` (e.g. appends a
    teacher's predictions on the very images the student sees). Evaluation
    steps apply only `target_fn`. The wrapped model holds all the weights;
    the wrapper itself is never saved.
    """

    def __init__(
        self,
        model: keras.Model,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        seed: int = 0,
        class_weights: Optional[Sequence[float]] = None,
        target_fn: Optional[TargetFn] = None,
        mixing_policy=None,
    ):
        super().__init__(name=f"{model.name}_soft_targets")
        self.inner = model
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.mixing_seed = int(seed)
        self.mixing_policy = mixing_policy
        self.class_weight_values = None if class_weights is None else [float(v) for v in class_weights]
        self.target_fn = target_fn
        # The wrapper has no weights of its own: built when the wrapped model is (Keras' BackupAndRestore,
        # used to resume after a kill, refuses to restore into an unbuilt model).
        self.built = bool(model.built)

    def call(self, inputs, training=False):
        return self.inner(inputs, training=training)

    def mixed(self, images: tf.Tensor, targets: tf.Tensor, step) -> Tuple[tf.Tensor, tf.Tensor]:
        """The batch after the config's mixup/cutmix and then the policy's mixing ops, at train step `step`."""
        if self.mixup_alpha > 0 or self.cutmix_alpha > 0:
            images, targets = mix_batch(images, targets, self.mixup_alpha, self.cutmix_alpha, self.mixing_seed, step)
        if self.mixing_policy is not None:
            from components.common.augmentation import apply_mixing

            images, targets = apply_mixing(self.mixing_policy, images, targets, self.mixing_seed, step)
        return images, targets

    def train_step(self, data):
        images, targets, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        images, targets = self.mixed(images, targets, self.optimizer.iterations)
        if self.class_weight_values is not None:
            weights = per_sample_class_weights(targets, tf.constant(self.class_weight_values, targets.dtype))
            sample_weight = weights if sample_weight is None else sample_weight * weights
        if self.target_fn is not None:
            targets = self.target_fn(images, targets)
        return super().train_step((images, targets) if sample_weight is None else (images, targets, sample_weight))

    def test_step(self, data):
        images, targets, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self.target_fn is not None:
            targets = self.target_fn(images, targets)
        return super().test_step((images, targets) if sample_weight is None else (images, targets, sample_weight))


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
    class_weights: Optional[Sequence[float]] = None,
    target_fn: Optional[TargetFn] = None,
    metrics: Optional[Sequence] = None,
    log_dir: Optional[str] = None,
    checkpoint_dir: Optional[str] = None,
    mixing_policy=None,
) -> tuple:
    """Trains a model built inside the distribution strategy's scope.

    Args:
      build_model: returns the bare model (called under the strategy scope).
      train_dataset: batched `(images [B,H,W,C], targets [B,K])`, repeated
        if `config.steps_per_epoch` is set.
      eval_dataset: batched like train_dataset, or None.
      num_train_examples: sets steps per epoch and the schedule length.
      class_weights: `[K]` loss weight per class (see `balanced_class_weights`).
      target_fn: `(images [B,H,W,C], targets [B,K]) -> targets` applied in
        every train and eval step after mixing (distillation appends the
        teacher's probabilities); `loss` and `metrics` must accept its output.
      metrics: replaces the default metrics (accuracy).
      log_dir: TensorBoard log folder (any tf.io.gfile path; epoch-level
        scalars, no profiling). None: inside a TFX execution
        `<pipeline_root>/_tensorboard/<component>/<run key>/<fit label>`,
        else no logs. "" turns them off.
      checkpoint_dir: where to back up every finished epoch so a killed run
        resumes (see `components.common.resume`). None: inside a TFX
        execution a folder stable across the killed execution and its rerun,
        else no checkpoints. "" turns them off. Removed when training ends.
      mixing_policy: the label-mixing part of an augmentation policy
        (`components.common.augmentation.load_augmentation(...).mixing`): its
        ops mix images and soft targets in every train step, each sample with
        each op's probability, seeded by (config.seed, step); `augmentation`
        then holds the policy's image ops.

    `config.mixup_alpha` / `config.cutmix_alpha` mix each training batch
    in-graph (see `mix_batch`). Progress goes to a bar (terminal), log lines
    and the execution's progress file (`components.common.progress`).

    Returns:
      (bare_model, history dict of per-epoch lists; after a resume it
      includes the epochs run before the kill).
    """
    keras.utils.set_random_seed(config.seed)
    if mixing_policy is not None and (config.mixup_alpha > 0 or config.cutmix_alpha > 0):
        logger.warning(
            "%s: both the config's mixup/cutmix alphas and the policy's mixing ops %s mix each batch (in that order)",
            log_prefix, list(mixing_policy.op_names),
        )
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(num_train_examples / config.batch_size))
    strategy = make_strategy(config.distribution)
    with strategy.scope():
        bare_model = build_model()
        training_model = with_augmentation(bare_model, augmentation)
        mixing = config.mixup_alpha > 0 or config.cutmix_alpha > 0 or mixing_policy is not None
        if mixing or class_weights is not None or target_fn is not None:
            training_model = SoftTargetModel(
                training_model, config.mixup_alpha, config.cutmix_alpha, config.seed, class_weights, target_fn,
                mixing_policy=mixing_policy,
            )
        training_model.compile(
            optimizer=make_optimizer(config, steps_per_epoch * config.epochs),
            loss=loss or make_loss(task, config.label_smoothing),
            metrics=list(metrics) if metrics is not None else make_metrics(task),
        )
    callbacks, resumable = standard_callbacks(
        config.epochs, log_prefix, steps_per_epoch, log_dir, checkpoint_dir, config.distribution
    )
    callbacks.extend(extra_callbacks)
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
    return bare_model, fitted_history(history, resumable)


def standard_callbacks(
    epochs: int,
    label: str = "training",
    steps_per_epoch: Optional[int] = None,
    log_dir: Optional[str] = None,
    checkpoint_dir: Optional[str] = None,
    distribution: str = "auto",
) -> Tuple[List[keras.callbacks.Callback], Optional[resume.ResumableTraining]]:
    """Resume checkpoints, progress and TensorBoard for any `model.fit` (what `fit` uses).

    `log_dir` / `checkpoint_dir` as in `fit` (None: from the current
    execution scope; "": off). Put the returned callbacks first in the
    list: restoring must precede what reads the starting epoch. Pass the
    returned `ResumableTraining` (or None) to `fitted_history`.

    Example:
      callbacks, resumable = trainer.standard_callbacks(config.epochs, "detection training")
      fitted = model.fit(dataset, epochs=config.epochs, callbacks=callbacks)
      history = trainer.fitted_history(fitted, resumable)
    """
    scope = resume.current_scope()
    fit_label = scope.next_fit_label(label) if scope else label
    from_scope = checkpoint_dir is None and scope is not None and distribution != "multi_worker"
    if from_scope:
        # (Keras' BackupAndRestore has every worker write the same files; multi-worker runs rely on retries.)
        checkpoint_dir = scope.checkpoint_dir(fit_label)
    if log_dir is None and scope is not None:
        log_dir = scope.tensorboard_dir(fit_label)
    resumable = resume.ResumableTraining(checkpoint_dir, remove_empty_parent=from_scope) if checkpoint_dir else None
    callbacks: List[keras.callbacks.Callback] = [] if resumable is None else [resumable]
    callbacks.append(progress.KerasProgress(epochs, label, steps_per_epoch))
    if log_dir:
        callbacks.append(
            keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", profile_batch=0, write_graph=False)
        )
    return callbacks, resumable


def fitted_history(history: keras.callbacks.History, resumable: Optional[resume.ResumableTraining]) -> Dict[str, list]:
    """Per-epoch lists of floats; after a resume they include the epochs run before the kill."""
    per_epoch = resumable.full_history() if resumable is not None else history.history
    return {key: [float(v) for v in values] for key, values in per_epoch.items()}


def evaluate(model: keras.Model, dataset: tf.data.Dataset, task: str) -> Dict[str, float]:
    """Loss and accuracy of a bare model on a batched one-hot dataset."""
    model.compile(loss=make_loss(task), metrics=make_metrics(task))
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {key: float(value) for key, value in results.items()}
