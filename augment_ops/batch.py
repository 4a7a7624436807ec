"""The batch dictionary every op takes and returns, and its checks.

A batch is a plain dict so it nests through `tf.function`, `tf.data` and Keras
without a custom type. Only `images` is required; ops carry the other keys
along and transform the ones they affect.
"""

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf

IMAGES = "images"
LABELS = "labels"
BOXES = "boxes"
BOX_LABELS = "box_labels"
MASKS = "masks"
BATCH_KEYS = (IMAGES, LABELS, BOXES, BOX_LABELS, MASKS)

# Written into masks where the class is unknown (occluded or outside the image).
# Equal to components.types.features.MASK_IGNORE_VALUE; augment_ops imports
# nothing from components/, so the value is repeated here and a test keeps
# the two equal.
MASK_IGNORE_VALUE = 255

# Coordinate value of a padded or dropped box row.
BOX_PADDING_VALUE = -1.0

Batch = Dict[str, tf.Tensor]


def as_batch(inputs: Any) -> Batch:
    """Wraps an image tensor in a batch dict, or checks and copies a dict.

    Args:
      inputs: images `[B,H,W,C]` float in [0,1], or a mapping with key
        `images` and optional `labels [B,K]`, `boxes [B,N,4]`,
        `box_labels [B,N]`, `masks [B,H,W,1]`.

    Returns:
      A new dict with tensors; the caller's mapping is not modified.

    Raises:
      ValueError: on unknown keys or shapes that cannot belong together.
    """
    if isinstance(inputs, Mapping):
        unknown = set(inputs) - set(BATCH_KEYS)
        if unknown:
            raise ValueError(f"Unknown batch keys {sorted(unknown)}; expected a subset of {BATCH_KEYS}.")
        if IMAGES not in inputs:
            raise ValueError(f"A batch needs the key {IMAGES!r}; got keys {sorted(inputs)}.")
        batch = {key: tf.convert_to_tensor(value) for key, value in inputs.items() if value is not None}
    else:
        batch = {IMAGES: tf.convert_to_tensor(inputs)}
    _check_shapes(batch)
    return batch


def _check_shapes(batch: Batch) -> None:
    images = batch[IMAGES]
    if images.shape.rank != 4:
        raise ValueError(f"{IMAGES} must be [B,H,W,C]; got shape {images.shape}.")
    if not images.dtype.is_floating:
        raise ValueError(f"{IMAGES} must be float in [0,1]; got dtype {images.dtype.name}. Divide uint8 by 255.")
    if BOXES in batch:
        boxes = batch[BOXES]
        if boxes.shape.rank != 3 or boxes.shape[-1] != 4:
            raise ValueError(f"{BOXES} must be [B,N,4] (ymin, xmin, ymax, xmax normalized); got {boxes.shape}.")
        if BOX_LABELS in batch and batch[BOX_LABELS].shape.rank != 2:
            raise ValueError(f"{BOX_LABELS} must be [B,N]; got {batch[BOX_LABELS].shape}.")
    elif BOX_LABELS in batch:
        raise ValueError(f"{BOX_LABELS} given without {BOXES}.")
    if MASKS in batch:
        masks = batch[MASKS]
        if masks.shape.rank != 4 or masks.shape[-1] != 1:
            raise ValueError(f"{MASKS} must be [B,H,W,1] class ids; got {masks.shape}.")
        if masks.shape[1:3].is_fully_defined() and images.shape[1:3].is_fully_defined():
            if masks.shape[1:3] != images.shape[1:3]:
                raise ValueError(f"{MASKS} {masks.shape} and {IMAGES} {images.shape} differ in height/width.")
    if LABELS in batch:
        labels = batch[LABELS]
        if labels.shape.rank != 2 or not labels.dtype.is_floating:
            raise ValueError(
                f"{LABELS} must be float [B,K] (one-hot or soft); got {labels.dtype.name} {labels.shape}. "
                "Mixing ops return soft labels, so integer class ids must be one-hot encoded first."
            )


def unwrap(batch: Batch, like: Any) -> Any:
    """Returns images alone when the caller passed images alone."""
    return batch if isinstance(like, Mapping) else batch[IMAGES]


def per_sample(value: Any, batch_size: tf.Tensor, name: str) -> tf.Tensor:
    """Broadcasts a scalar or `[B]` value to a float32 `[B]` vector.

    Raises:
      ValueError: when a static shape is neither scalar nor `[B]`.
    """
    value = tf.cast(tf.convert_to_tensor(value), tf.float32)
    if value.shape.rank not in (None, 0, 1):
        raise ValueError(f"{name} must be a scalar or a [B] vector; got shape {value.shape}.")
    return tf.broadcast_to(tf.reshape(value, [-1]) if value.shape.rank == 1 else value, [batch_size])


def image_size(images: tf.Tensor):
    """Returns (height, width) as Python ints when static, else scalar tensors."""
    shape = tf.shape(images)
    height = images.shape[1] if images.shape[1] is not None else shape[1]
    width = images.shape[2] if images.shape[2] is not None else shape[2]
    return height, width


def select_rows(active: tf.Tensor, new: tf.Tensor, old: tf.Tensor) -> tf.Tensor:
    """Per-sample choice: row b of `new` where `active[b]`, else of `old`."""
    active = tf.reshape(active, [-1] + [1] * (new.shape.rank - 1))
    return tf.where(active, new, old)


def with_updates(batch: Batch, **updates: Optional[tf.Tensor]) -> Batch:
    """Returns a copy of `batch` with the given keys replaced."""
    out = dict(batch)
    out.update({key: value for key, value in updates.items() if value is not None})
    return out
