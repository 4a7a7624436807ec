"""Synthetic detection images: discs, squares or diamonds with exact boxes.

The shape decides which box prior is right under rotation (ellipse for discs,
rectangle for squares, diamond for diamonds), which is what the box-prior
search has to find.
"""

from typing import Tuple

import numpy as np

SHAPES = ("disc", "square", "diamond")


def shape_detection_set(
    num_images: int, shape: str, size: int = 48, max_objects: int = 3, max_rotation: float = 45.0, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images with 1..max_objects filled shapes on a noisy background.

    Each shape is turned by a random angle up to +-max_rotation degrees, as
    objects in real data come in many orientations, and its box is the exact
    extent of the turned shape.

    Returns:
      images float32 [N,size,size,3] in [0,1]; boxes float32 [N,max_objects,4]
      normalized (ymin, xmin, ymax, xmax), padded rows -1; labels int32
      [N,max_objects] (0, padded -1).
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}; got {shape!r}.")
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.25, (num_images, size, size, 3)).astype(np.float32)
    boxes = np.full((num_images, max_objects, 4), -1.0, np.float32)
    labels = np.full((num_images, max_objects), -1, np.int32)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    for index in range(num_images):
        for slot in range(rng.integers(1, max_objects + 1)):
            radius = rng.uniform(0.08, 0.16) * size
            angle = np.radians(rng.uniform(-max_rotation, max_rotation))
            cos, sin = abs(np.cos(angle)), abs(np.sin(angle))
            # Half-extent of the turned shape: the outline's farthest point along each axis.
            half = {"disc": radius, "square": radius * (cos + sin), "diamond": radius * max(cos, sin)}[shape]
            cy, cx = rng.uniform(half, size - half, 2)
            u = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)  # pixel in the shape's own frame
            v = -(xs - cx) * np.sin(angle) + (ys - cy) * np.cos(angle)
            if shape == "disc":
                inside = u**2 + v**2 <= radius**2
            elif shape == "square":
                inside = (np.abs(u) <= radius) & (np.abs(v) <= radius)
            else:
                inside = np.abs(u) + np.abs(v) <= radius
            images[index][inside] = rng.uniform(0.5, 1.0, 3)
            boxes[index, slot] = np.array([cy - half, cx - half, cy + half, cx + half]) / size
            labels[index, slot] = 0
    return images, np.clip(boxes, -1.0, 1.0), labels


def write_shape_detection_examples(examples_uri: str, data_spec_uri: str, split_sizes, shape: str = "disc", size: int = 32, seed: int = 0):
    """Canonical detection Examples (GZIP TFRecords per split) and a DataSpec; returns the DataSpec."""
    import os

    import tensorflow as tf

    from components.types import examples_io, features
    from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, write_data_spec

    splits = {}
    for offset, (split, count) in enumerate(split_sizes.items()):
        images, boxes, labels = shape_detection_set(count, shape, size=size, seed=seed + offset)
        directory = examples_io.split_directory(examples_uri, split)
        tf.io.gfile.makedirs(directory)
        with tf.io.TFRecordWriter(os.path.join(directory, "data-00000-of-00001.gz"), options="GZIP") as writer:
            for index in range(count):
                kept = labels[index] >= 0
                encoded = tf.io.encode_png((images[index] * 255).round().astype(np.uint8)).numpy()
                example = examples_io.make_example(
                    encoded, size, size, 3, f"{split}/{index}.png",
                    boxes=boxes[index][kept].tolist(), box_labels=labels[index][kept].tolist(),
                )
                writer.write(example.SerializeToString())
        splits[split] = SplitStats(count=count, per_class={shape: int((labels >= 0).sum())})
    total = sum(split_sizes.values())
    content = DataSpecContent(
        task=features.TASK_DETECTION, class_names=[shape], channels=3, source_format="synthetic",
        height=SizeStats(size, size, float(size)), width=SizeStats(size, size, float(size)),
        splits=splits, records_read=total, records_written=total,
    )
    write_data_spec(content, data_spec_uri)
    return content
