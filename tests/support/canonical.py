"""Tiny learnable datasets in the canonical form, for component and pipeline tests.

Each class is a stripe pattern of its own plus noise, so a
small model learns it in a couple of epochs and accuracy tells a trained
model from an untrained one.
"""

from __future__ import annotations

import os
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from components.types import examples_io, features
from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, write_data_spec


def class_image(label: int, num_classes: int, size: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """Stripes whose orientation (label % 2) and stripe width (1 + label // 2) name the class."""
    del num_classes  # Every label gets its own pattern.
    rows, cols = np.mgrid[0:size, 0:size]
    coordinate = rows if label % 2 == 0 else cols
    width = 1 + label // 2
    stripes = ((coordinate + rng.integers(0, 2 * width)) // width) % 2
    image = rng.uniform(0, 60, size=(size, size, channels)) + 170 * stripes[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def write_classification_examples(
    examples_uri: str,
    data_spec_uri: str,
    split_sizes: Dict[str, int],
    num_classes: int = 3,
    size: int = 12,
    channels: int = 1,
    seed: int = 0,
) -> DataSpecContent:
    """Writes GZIP TFRecords under `Split-<name>/` and a DataSpec; returns the DataSpec."""
    rng = np.random.default_rng(seed)
    class_names = [f"class_{index}" for index in range(num_classes)]
    splits = {}
    for split, count in split_sizes.items():
        directory = examples_io.split_directory(examples_uri, split)
        tf.io.gfile.makedirs(directory)
        per_class = {name: 0 for name in class_names}
        path = os.path.join(directory, "data-00000-of-00001.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for index in range(count):
                label = index % num_classes
                image = class_image(label, num_classes, size, rng, channels)
                encoded = tf.io.encode_png(image).numpy()
                labeled = split != features.UNLABELED_SPLIT
                example = examples_io.make_example(
                    encoded, size, size, channels, f"{split}/{index}.png", label=label if labeled else None
                )
                writer.write(example.SerializeToString())
                if labeled:
                    per_class[class_names[label]] += 1
        splits[split] = SplitStats(count=count, per_class=per_class if split != features.UNLABELED_SPLIT else {})
    total = sum(split_sizes.values())
    content = DataSpecContent(
        task=features.TASK_CLASSIFICATION,
        class_names=class_names,
        channels=channels,
        source_format="synthetic",
        height=SizeStats(size, size, float(size)),
        width=SizeStats(size, size, float(size)),
        splits=splits,
        records_read=total,
        records_written=total,
    )
    write_data_spec(content, data_spec_uri)
    return content


def artifact_pair(tmp_path, split_sizes: Dict[str, int], **kwargs) -> Tuple["object", "object", DataSpecContent]:
    """Examples and DataSpec artifacts (with URIs and split names) over fresh tiny data."""
    from tfx.types import artifact_utils, standard_artifacts

    from components.types.artifacts import DataSpec

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(list(split_sizes))
    data_spec = DataSpec()
    data_spec.uri = str(tmp_path / "data_spec")
    content = write_classification_examples(examples.uri, data_spec.uri, split_sizes, **kwargs)
    return examples, data_spec, content


def write_image_folder(root: str, per_class: int = 24, num_classes: int = 3, size: int = 12, seed: int = 0) -> str:
    """An image-folder dataset (one folder of PNGs per class) of the stripe patterns."""
    rng = np.random.default_rng(seed)
    for label in range(num_classes):
        directory = os.path.join(root, f"class_{label}")
        os.makedirs(directory, exist_ok=True)
        for index in range(per_class):
            image = class_image(label, num_classes, size, rng)
            tf.io.write_file(os.path.join(directory, f"{index:03d}.png"), tf.io.encode_png(image))
    return root
