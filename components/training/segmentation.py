"""Semantic segmentation training: a U-Net on images and their class-id masks.

Model: a compact U-Net (Ronneberger et al. 2015; batch-normalized conv
pairs, max-pool down, transposed-conv up, skip concatenation), softmax per
pixel over the DataSpec's classes. keras-hub's DeepLabV3 was the library
option: it runs on our stack, but the smallest encoder keras-hub accepts
costs ~2.75x the U-Net's CPU time per image and did worse at equal CPU time on
the digit-scene benchmark (docs/detection_segmentation.md), so the U-Net is
the default and a user module file (`build_model(data_spec, image_size)`
returning `[B,H,W,K]` probabilities) can bring DeepLabV3 or any other model.

Masks come from `mask/encoded` (components/types/segmentation_io.py);
pixels marked 255 (ignore) get zero loss weight. Augmentation moves the
masks with the pixels (augment_ops warps them with nearest-neighbour
sampling and marks uncovered pixels 255, which the loss then ignores).

Defaults that make a segmenter useful without tuning (`SegmentationRecipe`;
the digit-scene benchmark went from mean IoU 0.09 to the figures in
docs/detection_segmentation.md):
  * loss: class-balanced cross-entropy + soft Dice (segmentation_loss.py),
    because background dominates the pixels;
  * depth from the image size: the U-Net halves until the bottleneck is
    about MIN_BOTTLENECK_SIDE pixels, so its receptive field spans the image
    (objects are recognised by their whole shape, not a 68-px window);
  * a step budget: when the config leaves epochs / batch_size at the
    TrainingConfig defaults (tuned for classification), training runs about
    TARGET_TRAINING_STEPS steps of DEFAULT_BATCH_SIZE images, as many
    epochs as that takes on this data (a few hundred images: many epochs;
    thousands: few);
  * mask-aware scale / shift / colour jitter (DEFAULT_POLICY) when no
    searched policy is given.
"""

from __future__ import annotations

import dataclasses
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
from components.training import segmentation_loss, trainer
from components.training.spec import TrainingConfig
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent
from components.types.segmentation_io import load_segmentation_split

logger = logging.getLogger(__name__)

UNET_DEPTH = 3  # build_unet's default when called directly; training picks the depth from the image size
UNET_BASE_FILTERS = 16
MIN_UNET_DEPTH, MAX_UNET_DEPTH = 2, 5
MIN_BOTTLENECK_SIDE = 6  # pixels left at the bottleneck: its receptive field then covers the whole image
TARGET_TRAINING_STEPS = 1500
DEFAULT_BATCH_SIZE = 8  # per-pixel labels make small batches informative; keeps CPU steps cheap
MAX_PLANNED_EPOCHS = 100
# Label-preserving for any class: scale, shift and colour jitter, each on half the samples with a per-sample
# strength in U(0, magnitude). No flips or rotations: those change classes whose orientation matters (text,
# digits, left/right anatomy); a searched policy can add them where they help.
DEFAULT_POLICY = Policy.from_ops(
    [("zoom_in", 0.5, 0.5), ("zoom_out", 0.5, 0.5), ("translate_x", 0.33, 0.5), ("translate_y", 0.33, 0.5),
     ("brightness", 0.3, 0.5), ("contrast", 0.3, 0.5)],
    magnitude_sampling="uniform", name="segmentation_default",
)


@dataclasses.dataclass(frozen=True)
class SegmentationRecipe:
    """What train_segmenter does beyond the TrainingConfig; the defaults are the recommended ones.

    Attributes:
      balanced_loss: class-weighted cross-entropy + soft Dice (False: plain
        per-pixel cross-entropy, the pre-fix behaviour).
      depth: U-Net depth; None picks it from the image size (unet_depth_for).
      default_augmentation: DEFAULT_POLICY when no policy is given.
      plan_schedule: replace TrainingConfig-default epochs / batch_size by
        the step budget (planned_schedule).
    """

    balanced_loss: bool = True
    depth: Optional[int] = None
    default_augmentation: bool = True
    plan_schedule: bool = True


# The recipe before these defaults (plain cross-entropy, depth 3, no default augmentation, the config's schedule):
# benchmarks/segmentation_benchmark.py compares against it.
PRE_FIX_RECIPE = SegmentationRecipe(
    balanced_loss=False, depth=UNET_DEPTH, default_augmentation=False, plan_schedule=False
)


def unet_depth_for(image_size: Tuple[int, int]) -> int:
    """Deepest U-Net (within [MIN_UNET_DEPTH, MAX_UNET_DEPTH]) whose bottleneck keeps >= MIN_BOTTLENECK_SIDE px."""
    side = min(image_size)
    depth = MIN_UNET_DEPTH
    while depth < MAX_UNET_DEPTH and side / 2 ** (depth + 1) >= MIN_BOTTLENECK_SIDE:
        depth += 1
    return depth


def planned_schedule(config: TrainingConfig, train_count: int) -> Tuple[int, int, str]:
    """(epochs, batch_size, reason): the config's own values, or the step budget where it kept the defaults.

    A field counts as set by the user when it is in `config.explicit_fields`
    or differs from the TrainingConfig default. The defaults (5 epochs of
    64) suit classification; a segmenter trained from scratch needs on the
    order of a thousand steps, so unset fields become DEFAULT_BATCH_SIZE and
    ceil(TARGET_TRAINING_STEPS / steps per epoch) epochs, at most
    MAX_PLANNED_EPOCHS (at least one pass over the data).
    """
    batch_size = config.batch_size if config.user_set("batch_size") else DEFAULT_BATCH_SIZE
    if config.user_set("epochs") or config.steps_per_epoch:
        return config.epochs, batch_size, "epochs from the config"
    steps_per_epoch = max(1, train_count // batch_size)
    epochs = int(min(MAX_PLANNED_EPOCHS, max(1, math.ceil(TARGET_TRAINING_STEPS / steps_per_epoch))))
    return epochs, batch_size, (
        f"{epochs} epochs x {steps_per_epoch} steps of {batch_size}: about {TARGET_TRAINING_STEPS} steps "
        f"for {train_count} train images (epochs not set in the config)"
    )


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


def training_dataset(
    images: np.ndarray, masks: np.ndarray, batch_size: int, seed: int,
    policy: Optional[Policy] = None, options: Optional[AugmentOptions] = None, repeat: bool = False,
) -> tf.data.Dataset:
    """Shuffled batches `(images, int32 targets [B,H,W])`, masks augmented with the pixels (255 = ignore)."""
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
        return batch_images, tf.cast(batch_masks[..., 0], tf.int32)

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
    recipe: SegmentationRecipe = SegmentationRecipe(),
) -> Tuple[keras.Model, Dict[str, list], Dict[str, float], Dict[str, object]]:
    """Trains on `train`, scores mIoU on `eval`.

    Inside a TFX execution every finished epoch is checkpointed, so a rerun
    after a kill resumes from the last one, and TensorBoard scalars go under
    the execution scope (`trainer.standard_callbacks`).

    Args:
      policy, options: augmentation from the AugmentationPolicy artifact (None:
        DEFAULT_POLICY, unless the recipe turns default augmentation off).
      build_model: optional `(num_classes, image_shape) -> keras.Model` with
        `[B,H,W,K]` probabilities (a user's module file); default `build_unet`
        with the depth the image size calls for.
      extra_callbacks: appended after the standard ones (resume, progress, TensorBoard).
      recipe: loss, depth, default augmentation and schedule planning (the
        defaults are the recommended ones; benchmarks pass PRE_FIX_RECIPE).

    Returns:
      (model, history (per epoch, including epochs run before a kill), metrics {eval_mean_iou,
      eval_pixel_accuracy, eval_foreground_iou}, details {image_size, unet_depth, schedule,
      class_weights, augmentation, eval per-class IoU}).
    """
    if data_spec.task != features.TASK_SEGMENTATION:
        raise ValueError(f"train_segmenter trains segmentation data; this DataSpec's task is {data_spec.task!r}.")
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    requested = tuple(config.image_size) if config.image_size else examples_io.default_image_size(data_spec)
    depth = recipe.depth or unet_depth_for(requested)
    image_size = segmentation_image_size(requested, depth)
    train_images, train_masks, _ = load_segmentation_split(examples_uri, features.TRAIN_SPLIT, data_spec, image_size)
    eval_images, eval_masks, _ = load_segmentation_split(examples_uri, features.EVAL_SPLIT, data_spec, image_size)
    class_weights = segmentation_loss.class_pixel_weights(train_masks, data_spec.num_classes)
    epochs, batch_size, schedule_reason = (
        planned_schedule(config, len(train_images)) if recipe.plan_schedule
        else (config.epochs, config.batch_size, "epochs from the config")
    )
    if policy is None and recipe.default_augmentation:
        policy, options = DEFAULT_POLICY, AugmentOptions(xla=False)  # tf.data cannot run jit-compiled functions
    logger.info("segmentation schedule: %s; %s at %s; augmentation %s", schedule_reason,
                "a module-file model" if build_model else f"U-Net depth {depth}", image_size,
                policy.name or policy.op_names if policy else None)
    image_shape = (*image_size, data_spec.channels)
    build = build_model or (lambda num_classes, shape: build_unet(num_classes, shape, depth=depth))
    model = build(data_spec.num_classes, image_shape)
    if tuple(model.output_shape[1:]) != (*image_size, data_spec.num_classes):
        raise ValueError(
            f"Segmentation model {model.name!r} outputs {model.output_shape}; expected [B, {image_size[0]}, "
            f"{image_size[1]}, {data_spec.num_classes}] class probabilities."
        )
    steps = config.steps_per_epoch or max(1, len(train_images) // batch_size)
    loss = (
        segmentation_loss.BalancedSegmentationLoss(class_weights) if recipe.balanced_loss
        else segmentation_loss.BalancedSegmentationLoss(None, dice_weight=0.0)
    )
    model.compile(
        optimizer=trainer.make_optimizer(config, steps * epochs), loss=loss,
        metrics=[segmentation_loss.LabelledPixelAccuracy()],
    )
    dataset = training_dataset(
        train_images, train_masks, batch_size, config.seed, policy, options,
        repeat=config.steps_per_epoch is not None,
    )
    # Resume checkpoints and TensorBoard under the execution's scope (none outside a TFX execution).
    callbacks, resumable = trainer.standard_callbacks(
        epochs, "segmentation training", steps, distribution=config.distribution
    )
    fitted = model.fit(
        dataset, epochs=epochs, steps_per_epoch=config.steps_per_epoch, verbose=config.verbose,
        callbacks=callbacks + list(extra_callbacks),
    )
    history = trainer.fitted_history(fitted, resumable)
    result = evaluate_segmenter(model, eval_images, eval_masks, data_spec.class_names, batch_size)
    metrics = {f"eval_{name}": value for name, value in result["metrics"].items()}
    logger.info("segmentation training finished: %s", metrics)
    details = {
        "image_size": list(image_size), "unet_depth": None if build_model else depth,
        "schedule": {"epochs": epochs, "batch_size": batch_size, "steps_per_epoch": steps, "reason": schedule_reason},
        "class_weights": [float(w) for w in class_weights] if recipe.balanced_loss else None,
        "default_augmentation": policy is DEFAULT_POLICY,
        "eval_per_class": result["per_class"],
    }
    return model, history, metrics, details
