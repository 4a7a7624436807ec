"""Semantic segmentation training: a U-Net on images and their class-id masks.

Model: a compact U-Net (Ronneberger et al. 2015; batch-normalized conv
pairs, max-pool down, transposed-conv up, skip concatenation), softmax per
pixel over the DataSpec's classes. keras-hub's DeepLabV3 was the library
option; its ASPP head and 4x bilinear decoder are built for >= 256 px inputs
and pretrained encoders, where the small images this suite trains from
scratch on CPU lose thin structures, so the U-Net is the default and a user
module file (`build_model(data_spec, image_size)` returning `[B,H,W,K]`
probabilities) can bring DeepLabV3 or any other model.

Masks come from `mask/encoded` (components/types/segmentation_io.py);
pixels marked 255 (ignore) get zero loss weight. Augmentation moves the
masks with the pixels (augment_ops warps them with nearest-neighbour
sampling and marks uncovered pixels 255, which the loss then ignores).
"""

from __future__ import annotations

import logging
import math
from typing import Dict, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from augment_ops import seeds
from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy, apply_policy
from components.evaluation import segmentation_metrics
from components.training import trainer
from components.training.spec import TrainingConfig
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent
from components.types.segmentation_io import load_segmentation_split

logger = logging.getLogger(__name__)

UNET_DEPTH = 3
UNET_BASE_FILTERS = 16


def _conv_pair(x, filters: int, name: str):
    for index in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{index}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{index}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{index}")(x)
    return x


def build_unet(
    num_classes: int, image_shape: Tuple[int, int, int], depth: int = UNET_DEPTH, base_filters: int = UNET_BASE_FILTERS
) -> keras.Model:
    """U-Net `[B,H,W,C]` float in [0,1] -> `[B,H,W,K]` softmax; H and W must divide by 2**depth."""
    if image_shape[0] % 2**depth or image_shape[1] % 2**depth:
        raise ValueError(f"U-Net image size {image_shape[:2]} must divide by 2**depth = {2**depth}.")
    inputs = keras.Input(image_shape, name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = _conv_pair(x, base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(name=f"pool{level}")(x)
    x = _conv_pair(x, base_filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _conv_pair(x, filters, f"decode{level}")
    outputs = keras.layers.Conv2D(num_classes, 1, activation="softmax", dtype="float32", name="class_probabilities")(x)
    return keras.Model(inputs, outputs, name="unet")


def segmentation_image_size(image_size: Tuple[int, int], depth: int = UNET_DEPTH) -> Tuple[int, int]:
    """`image_size` rounded up so every U-Net level halves evenly."""
    multiple = 2**depth
    return tuple(int(math.ceil(side / multiple) * multiple) for side in image_size)


def targets_and_weights(masks: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """`[B,H,W,1]` class ids (255 = ignore) -> (int32 targets `[B,H,W]`, float weights `[B,H,W]`)."""
    masks = tf.cast(masks[..., 0], tf.int32)
    counted = tf.not_equal(masks, features.MASK_IGNORE_VALUE)
    return tf.where(counted, masks, 0), tf.cast(counted, tf.float32)


def training_dataset(
    images: np.ndarray, masks: np.ndarray, batch_size: int, seed: int,
    policy: Optional[Policy] = None, options: Optional[AugmentOptions] = None, repeat: bool = False,
) -> tf.data.Dataset:
    """Shuffled batches `(images, targets, pixel weights)`, masks augmented with the pixels."""
    dataset = tf.data.Dataset.from_tensor_slices((images, masks[..., None]))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=len(images) >= batch_size)
    base_seed = seeds.derive(seeds.as_seed(seed), "segmentation_augmentation")

    def augment(step, batch):
        batch_images, batch_masks = batch
        if policy is not None:
            out = apply_policy(policy, {"images": batch_images, "masks": batch_masks}, seeds.fold_in(base_seed, step), options)
            batch_images, batch_masks = out["images"], out["masks"]
        targets, weights = targets_and_weights(batch_masks)
        return batch_images, targets, weights

    return dataset.enumerate().map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def predict_class_ids(model: keras.Model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """`[N,H,W]` int32 argmax class ids."""
    parts = []
    for start in range(0, len(images), batch_size):
        probabilities = model.predict_on_batch(images[start : start + batch_size])
        parts.append(np.argmax(np.asarray(probabilities), axis=-1).astype(np.int32))
    return np.concatenate(parts)


def evaluate_segmenter(
    model: keras.Model, images: np.ndarray, masks: np.ndarray, class_names: Sequence[str], batch_size: int = 32
) -> dict:
    """segmentation_metrics' result of `model` on in-memory images and masks."""
    predicted = predict_class_ids(model, images, batch_size)
    confusion = segmentation_metrics.confusion_matrix(masks, predicted, len(class_names))
    return segmentation_metrics.segmentation_metrics(confusion, class_names)


def train_segmenter(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: TrainingConfig,
    policy: Optional[Policy] = None,
    options: Optional[AugmentOptions] = None,
    build_model=None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> Tuple[keras.Model, Dict[str, list], Dict[str, float], Dict[str, object]]:
    """Trains on `train`, scores mIoU on `eval`.

    Inside a TFX execution every finished epoch is checkpointed, so a rerun
    after a kill resumes from the last one, and TensorBoard scalars go under
    the execution scope (`trainer.standard_callbacks`).

    Args:
      policy, options: augmentation from the AugmentationPolicy artifact (None: none).
      build_model: optional `(num_classes, image_shape) -> keras.Model` with
        `[B,H,W,K]` probabilities (a user's module file); default `build_unet`.
      extra_callbacks: appended after the standard ones (resume, progress, TensorBoard).

    Returns:
      (model, history (per epoch, including epochs run before a kill), metrics {eval_mean_iou,
      eval_pixel_accuracy, eval_foreground_iou}, details {image_size, eval per-class IoU}).
    """
    if data_spec.task != features.TASK_SEGMENTATION:
        raise ValueError(f"train_segmenter trains segmentation data; this DataSpec's task is {data_spec.task!r}.")
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    requested = tuple(config.image_size) if config.image_size else examples_io.default_image_size(data_spec)
    image_size = segmentation_image_size(requested)
    train_images, train_masks, _ = load_segmentation_split(examples_uri, features.TRAIN_SPLIT, data_spec, image_size)
    eval_images, eval_masks, _ = load_segmentation_split(examples_uri, features.EVAL_SPLIT, data_spec, image_size)
    image_shape = (*image_size, data_spec.channels)
    build = build_model or (lambda num_classes, shape: build_unet(num_classes, shape))
    model = build(data_spec.num_classes, image_shape)
    if tuple(model.output_shape[1:]) != (*image_size, data_spec.num_classes):
        raise ValueError(
            f"Segmentation model {model.name!r} outputs {model.output_shape}; expected [B, {image_size[0]}, "
            f"{image_size[1]}, {data_spec.num_classes}] class probabilities."
        )
    steps = config.steps_per_epoch or max(1, len(train_images) // config.batch_size)
    model.compile(
        optimizer=trainer.make_optimizer(config, steps * config.epochs),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy")],
    )
    dataset = training_dataset(
        train_images, train_masks, config.batch_size, config.seed, policy, options,
        repeat=config.steps_per_epoch is not None,
    )
    # Resume checkpoints and TensorBoard under the execution's scope (none outside a TFX execution).
    callbacks, resumable = trainer.standard_callbacks(
        config.epochs, "segmentation training", steps, distribution=config.distribution
    )
    fitted = model.fit(
        dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, verbose=config.verbose,
        callbacks=callbacks + list(extra_callbacks),
    )
    history = trainer.fitted_history(fitted, resumable)
    result = evaluate_segmenter(model, eval_images, eval_masks, data_spec.class_names, config.batch_size)
    metrics = {f"eval_{name}": value for name, value in result["metrics"].items()}
    logger.info("segmentation training finished: %s", metrics)
    return model, history, metrics, {"image_size": list(image_size), "eval_per_class": result["per_class"]}
