"""Synthetic segmentation Examples: discs and squares on noise, with class-id masks."""

import os

import numpy as np
import tensorflow as tf

from components.types import examples_io, features
from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, write_data_spec

CLASS_NAMES = ["background", "disc", "square"]


def shape_masks(count: int, size: int, seed: int):
    """images float32 [N,S,S,3] in [0,1], masks uint8 [N,S,S] (0 background, 1 disc, 2 square)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.3, (count, size, size, 3)).astype(np.float32)
    masks = np.zeros((count, size, size), np.uint8)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    for index in range(count):
        for _ in range(rng.integers(1, 3)):
            class_id = int(rng.integers(1, 3))
            radius = rng.uniform(0.12, 0.22) * size
            cy, cx = rng.uniform(radius, size - radius, 2)
            if class_id == 1:
                inside = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2
            else:
                inside = (np.abs(ys - cy) <= radius) & (np.abs(xs - cx) <= radius)
            images[index][inside] = [0.9, 0.8, 0.2] if class_id == 1 else [0.2, 0.6, 0.9]
            masks[index][inside] = class_id
    return images, masks


def write_segmentation_examples(examples_uri, data_spec_uri, split_sizes, size=32, seed=0, drop_mask_of=None):
    """Canonical segmentation Examples and DataSpec; `drop_mask_of` names a record written without its mask."""
    splits = {}
    for offset, (split, count) in enumerate(split_sizes.items()):
        images, masks = shape_masks(count, size, seed + offset)
        directory = examples_io.split_directory(examples_uri, split)
        tf.io.gfile.makedirs(directory)
        per_class = {name: 0 for name in CLASS_NAMES}
        with tf.io.TFRecordWriter(os.path.join(directory, "data-00000-of-00001.gz"), options="GZIP") as writer:
            for index in range(count):
                source = f"{split}/{index}.png"
                encoded = tf.io.encode_png((images[index] * 255).round().astype(np.uint8)).numpy()
                mask = None if source == drop_mask_of else tf.io.encode_png(masks[index][..., None]).numpy()
                example = examples_io.make_example(encoded, size, size, 3, source, encoded_mask=mask)
                writer.write(example.SerializeToString())
                for class_id in np.unique(masks[index]):
                    per_class[CLASS_NAMES[class_id]] += 1
        splits[split] = SplitStats(count=count, per_class=per_class)
    total = sum(split_sizes.values())
    content = DataSpecContent(
        task=features.TASK_SEGMENTATION, class_names=list(CLASS_NAMES), channels=3, source_format="synthetic",
        height=SizeStats(size, size, float(size)), width=SizeStats(size, size, float(size)),
        splits=splits, records_read=total, records_written=total,
    )
    write_data_spec(content, data_spec_uri)
    return content
