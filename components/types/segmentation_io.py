"""Reading segmentation Examples: images with their `mask/encoded` class-id PNGs.

The loader sits next to `examples_io.load_split` (classification) and
`examples_io.load_detection_split` (detection). Masks are resized with
nearest-neighbour sampling so class ids are never blended; 255
(MASK_IGNORE_VALUE) stays "ignore".
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from components.types import features
from components.types.data_spec import DataSpecContent
from components.types.examples_io import decode_image, default_image_size, split_files


def decode_mask(encoded: tf.Tensor, image_size: Tuple[int, int]) -> tf.Tensor:
    """Class-id PNG -> `[H, W, 1]` uint8 at `image_size` (nearest neighbour)."""
    mask = tf.io.decode_png(encoded, channels=1)
    mask = tf.image.resize(mask, image_size, method="nearest")
    return tf.ensure_shape(tf.cast(mask, tf.uint8), [image_size[0], image_size[1], 1])


def segmentation_dataset(
    examples_uri: str, split: str, data_spec: DataSpecContent, image_size: Tuple[int, int]
) -> tf.data.Dataset:
    """Unbatched `(image [H,W,C] float in [0,1], mask [H,W,1] uint8, source id, has_mask bool)`."""
    spec = {
        features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string),
        features.IMAGE_SOURCE_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        features.MASK_ENCODED: tf.io.FixedLenFeature([], tf.string, default_value=""),
    }

    def parse(serialized):
        parsed = tf.io.parse_single_example(serialized, spec)
        image = decode_image(parsed[features.IMAGE_ENCODED], data_spec.channels, image_size)
        encoded_mask = parsed[features.MASK_ENCODED]
        has_mask = tf.strings.length(encoded_mask) > 0
        mask = tf.cond(
            has_mask,
            lambda: decode_mask(encoded_mask, image_size),
            lambda: tf.fill([image_size[0], image_size[1], 1], tf.constant(features.MASK_IGNORE_VALUE, tf.uint8)),
        )
        return image, mask, parsed[features.IMAGE_SOURCE_ID], has_mask

    dataset = tf.data.TFRecordDataset(split_files(examples_uri, split), compression_type="GZIP")
    return dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_segmentation_split(
    examples_uri: str, split: str, data_spec: DataSpecContent, image_size: Optional[Tuple[int, int]] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A segmentation split in memory.

    Returns:
      images float32 `[N,H,W,C]` in [0,1] at `image_size`; masks uint8
      `[N,H,W]` class ids (255 = ignore); source ids `[N]` (bytes).

    Raises:
      ValueError: for a non-segmentation DataSpec, a record without
        `mask/encoded` or with class ids beyond the DataSpec's classes
        (named by its source id).
    """
    if data_spec.task != features.TASK_SEGMENTATION:
        raise ValueError(f"load_segmentation_split reads segmentation data; task is {data_spec.task!r}.")
    image_size = tuple(int(v) for v in (image_size or default_image_size(data_spec)))
    images, masks, sources = [], [], []
    for image, mask, source, has_mask in segmentation_dataset(
        examples_uri, split, data_spec, image_size
    ).as_numpy_iterator():
        name = source.decode("utf-8", "replace")
        if not has_mask:
            raise ValueError(
                f"Record {name!r} in split {split!r} of {examples_uri} has no {features.MASK_ENCODED!r}; "
                "segmentation examples need a class-id mask."
            )
        labelled = mask[mask != features.MASK_IGNORE_VALUE]
        if labelled.size and int(labelled.max()) >= data_spec.num_classes:
            raise ValueError(
                f"Record {name!r} in split {split!r} of {examples_uri}: mask class id {int(labelled.max())} is "
                f"outside the DataSpec's {data_spec.num_classes} classes {data_spec.class_names}."
            )
        images.append(image)
        masks.append(mask[..., 0])
        sources.append(source)
    if not images:
        raise ValueError(f"Split {split!r} of {examples_uri} has no records.")
    return np.stack(images), np.stack(masks), np.asarray(sources, dtype=object)
