"""Training a classifier on canonical examples, without TFX (the executor's math)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from components.training import backbones, fine_tuning, models, module_file, surgery, trainer
from components.training.spec import TrainingConfig
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


def resolve_image_size(config: TrainingConfig, data_spec: DataSpecContent) -> Tuple[int, int]:
    if config.image_size:
        return (int(config.image_size[0]), int(config.image_size[1]))
    return examples_io.default_image_size(data_spec)


def model_builder(config: TrainingConfig, data_spec: DataSpecContent, image_size: Tuple[int, int]):
    """A zero-argument builder (called inside the strategy scope); loads `pretrained_weights` into the backbone."""
    if config.architecture_changes:  # After the weights are in: surgery copies them into the rebuilt model.
        build = model_builder(dataclasses.replace(config, architecture_changes=()), data_spec, image_size)
        return lambda: surgery.apply_changes(build(), config.architecture_changes, config.seed)
    if config.pretrained_weights:
        build = model_builder(dataclasses.replace(config, pretrained_weights=None), data_spec, image_size)
        return lambda: backbones.with_pretrained_weights(build(), config.pretrained_weights)
    if config.module_file:
        return lambda: module_file.build_model_from_module_file(
            config.module_file, data_spec, image_size, trust_module_code=config.trust_module_code
        )
    return lambda: models.build_architecture(config.architecture, data_spec, image_size)


def labeled_dataset(
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    config: TrainingConfig,
    image_size: Tuple[int, int],
    training: bool,
) -> tf.data.Dataset:
    """Batched `(images, one-hot targets)`; training batches are shuffled with the config seed."""
    dataset = examples_io.load_split(
        examples_uri,
        split,
        data_spec,
        batch_size=config.batch_size,
        image_size=image_size,
        shuffle=training,
        seed=config.seed,
        repeat=training and config.steps_per_epoch is not None,
    )
    return trainer.one_hot_labels(dataset, data_spec.task, data_spec.num_classes)


def class_weights_for(config: TrainingConfig, data_spec: DataSpecContent) -> Optional[List[float]]:
    """Loss weights per class from the DataSpec's train counts (None when `class_weighting` is 'none')."""
    if config.class_weighting == "none":
        return None
    counts = data_spec.class_counts(features.TRAIN_SPLIT)
    if sum(counts) == 0:
        raise ValueError(
            f"class_weighting={config.class_weighting!r} needs per-class counts of the train split, "
            "but the DataSpec has none (splits.train.per_class is empty)."
        )
    weights = trainer.balanced_class_weights(counts)
    logger.info("class weights (%s): %s", config.class_weighting, dict(zip(data_spec.class_names, weights)))
    return weights


def train_classifier(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: TrainingConfig,
    augmentation: Optional[keras.layers.Layer] = None,
    warm_start: Optional[keras.Model] = None,
    synthetic_uris: Sequence[str] = (),
    log_dir: Optional[str] = None,
    mixing_policy=None,
) -> Tuple[keras.Model, Dict[str, list], Dict[str, float]]:
    """Trains on `train`, validates on `eval`; returns (bare model, history, eval metrics).

    `augmentation` / `mixing_policy`: a policy's image layer and its label-mixing part
    (`components.common.augmentation.load_augmentation`); see `trainer.fit`.
    `log_dir`: TensorBoard logs (see `trainer.fit`; None: the run's `_tensorboard/` folder inside a pipeline).
    """
    start_classifier_training(config, data_spec)
    image_size = resolve_image_size(config, data_spec)
    train_dataset = labeled_dataset(examples_uri, features.TRAIN_SPLIT, data_spec, config, image_size, True)
    eval_dataset = labeled_dataset(examples_uri, features.EVAL_SPLIT, data_spec, config, image_size, False)
    build = model_builder(config, data_spec, image_size)
    if warm_start is not None:
        build = warm_started(build, warm_start)
    num_train = data_spec.split_count(features.TRAIN_SPLIT) or examples_io.count_records(
        examples_uri, features.TRAIN_SPLIT
    )
    if config.synthetic_ratio > 0:
        # Real train split plus synthetic_ratio x its size of synthetic examples per epoch; eval stays real.
        if not synthetic_uris:
            raise ValueError(f"synthetic_ratio={config.synthetic_ratio} but no synthetic examples were given.")
        from components.common import synthetic_blend as blend  # Only when synthetic data is wired in.

        blended, num_train = blend.train_dataset_with_synthetic(
            examples_uri, synthetic_uris, data_spec, config.batch_size, image_size, config.synthetic_ratio,
            config.seed, repeat=config.steps_per_epoch is not None, real_count=num_train,
        )
        train_dataset = trainer.one_hot_labels(blended, data_spec.task, data_spec.num_classes)
    return fit_and_score(build, train_dataset, eval_dataset, config, data_spec, num_train, augmentation, log_dir,
                         mixing_policy)


def start_classifier_training(config: TrainingConfig, data_spec: DataSpecContent) -> None:
    """Checks the task and resets Keras state and seeds; call before building datasets and models."""
    if data_spec.task not in (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL):
        raise ValueError(f"The training component trains classifiers; this DataSpec's task is {data_spec.task!r}.")
    # Fresh automatic layer names (conv2d, conv2d_1, ...) as in a new process: warm start matches
    # layers by name, and LocalDagRunner runs every component in one process.
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)  # Before the datasets: tf.data shuffle reads the global seed.


def fit_and_score(build, train_dataset, eval_dataset, config: TrainingConfig, data_spec: DataSpecContent,
                  num_train: int, augmentation=None, log_dir: Optional[str] = None, mixing_policy=None):
    """`trainer.fit` with Training's class weights and fine-tune schedule, then the eval metrics.

    Returns (bare model, history, {"eval_<metric>": value}); shared by every classifier training path
    (the plain input pipeline here, the tf.Transform one in components/transform/training_hook.py).
    """
    model, history = trainer.fit(
        build,
        train_dataset,
        eval_dataset,
        config,
        data_spec.task,
        num_train,
        augmentation,
        class_weights=class_weights_for(config, data_spec),
        extra_callbacks=fine_tuning.schedule_callbacks(config.fine_tune, config.epochs),
        log_dir=log_dir,
        mixing_policy=mixing_policy,
    )
    metrics = {f"eval_{key}": value for key, value in trainer.evaluate(model, eval_dataset, data_spec.task).items()}
    logger.info("training finished: %s", metrics)
    return model, history, metrics


def warm_started(build, warm_start: keras.Model):
    """Copies weights of layers whose names and shapes match (a pretrained backbone)."""

    def build_and_copy():
        model = build()
        source = {layer.name: layer for layer in warm_start.layers}
        copied = 0
        for layer in model.layers:
            match = source.get(layer.name)
            if match is None or not layer.weights:
                continue
            if [w.shape for w in layer.weights] == [w.shape for w in match.weights]:
                layer.set_weights(match.get_weights())
                copied += 1
        if copied == 0:
            raise ValueError("Warm start model shares no layer (same name and shapes) with the model being trained.")
        weighted = sum(1 for layer in model.layers if layer.weights)
        logger.info("warm start: copied weights of %d of %d weighted layers", copied, weighted)
        if copied < weighted / 2:
            logger.warning("warm start matched only %d of %d weighted layers by name and shape", copied, weighted)
        return model

    return build_and_copy
