"""Reading real images into arrays and writing synthetic examples and image grids.

Synthetic examples go to the `train` split only: generated images must never
be scored as held-out data, so a synthetic Examples artifact has no
eval/test split for anything to pick up by mistake.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

SYNTHETIC_SPLITS = (features.TRAIN_SPLIT,)
RECORDS_FILE_NAME = "data-00000-of-00001.gz"


def read_split_arrays(
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    image_size: Tuple[int, int],
    limit: Optional[int] = None,
    with_source_ids: bool = False,
    batch_size: int = 256,
):
    """(images `[N,H,W,C]` float32 in [0,1], labels `[N]` int[, source ids `[N]` str]) of one split, in file order."""
    dataset = examples_io.load_split(
        examples_uri, split, data_spec, batch_size=batch_size, image_size=image_size, with_source_ids=with_source_ids
    )
    if limit is not None:
        dataset = dataset.unbatch().take(limit).batch(batch_size)
    images, labels, source_ids = [], [], []
    for element in dataset:
        images.append(element[0].numpy())
        labels.append(element[1].numpy())
        if with_source_ids:
            source_ids.extend(value.decode("utf-8") for value in element[2].numpy())
    height, width = image_size
    stacked = np.concatenate(images) if images else np.zeros((0, height, width, data_spec.channels), np.float32)
    label_array = np.concatenate(labels).astype(np.int64) if labels else np.zeros((0,), np.int64)
    if with_source_ids:
        return stacked, label_array, source_ids
    return stacked, label_array


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def write_synthetic_examples(
    examples_uri: str,
    images: np.ndarray,
    labels: Sequence[int],
    source_ids: Sequence[str],
    provenance: Dict[str, object],
) -> int:
    """Writes `[N,H,W,C]` float images in [0,1] as PNG examples under `Split-train/`; returns N.

    Every record carries `provenance` (kind, model, confidence) and its own
    `image/source_id`, so a synthetic image is traceable to what made it.
    """
    if len(images) != len(labels) or len(images) != len(source_ids):
        raise ValueError(f"{len(images)} images, {len(labels)} labels and {len(source_ids)} source ids differ.")
    if not str(provenance.get("kind", "")).startswith("synthetic"):
        raise ValueError(f"Synthetic examples need a provenance kind starting with 'synthetic'; got {provenance}.")
    directory = examples_io.split_directory(examples_uri, features.TRAIN_SPLIT)
    tf.io.gfile.makedirs(directory)
    pixels = to_uint8(images)
    height, width, channels = pixels.shape[1:4] if len(pixels) else (0, 0, 0)
    with tf.io.TFRecordWriter(os.path.join(directory, RECORDS_FILE_NAME), options="GZIP") as writer:
        for image, label, source_id in zip(pixels, labels, source_ids):
            encoded = tf.io.encode_png(image).numpy()
            example = examples_io.make_example(
                encoded, height, width, channels, source_id, label=int(label), provenance=provenance
            )
            writer.write(example.SerializeToString())
    return len(pixels)


def read_provenance(examples_uri: str, split: str = features.TRAIN_SPLIT) -> List[Dict[str, object]]:
    """Provenance of every record of a split (empty kind for real records)."""
    spec = {
        features.PROVENANCE: tf.io.FixedLenFeature([], tf.string, default_value=""),
        features.PROVENANCE_MODEL: tf.io.FixedLenFeature([], tf.string, default_value=""),
        features.PROVENANCE_CONFIDENCE: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
        features.LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    }
    rows = []
    files = examples_io.split_files(examples_uri, split)
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        parsed = tf.io.parse_single_example(record, spec)
        rows.append(
            {
                "kind": parsed[features.PROVENANCE].numpy().decode("utf-8"),
                "model": parsed[features.PROVENANCE_MODEL].numpy().decode("utf-8"),
                "confidence": float(parsed[features.PROVENANCE_CONFIDENCE].numpy()),
                "label": int(parsed[features.LABEL].numpy()),
            }
        )
    return rows


def image_grid_png(rows: Sequence[np.ndarray], scale: int = 2, gap: int = 1) -> bytes:
    """PNG of image rows: each row `[n,H,W,C]` float in [0,1]; shorter rows are padded white."""
    rows = [np.asarray(row) for row in rows if len(row)]
    if not rows:
        raise ValueError("image_grid_png needs at least one non-empty row.")
    height, width, channels = rows[0].shape[1:4]
    columns = max(len(row) for row in rows)
    canvas = np.ones(((height + gap) * len(rows) + gap, (width + gap) * columns + gap, channels), np.float32)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = gap + r * (height + gap), gap + c * (width + gap)
            canvas[top : top + height, left : left + width] = image
    canvas = np.kron(canvas, np.ones((scale, scale, 1), np.float32)) if scale > 1 else canvas
    return tf.io.encode_png(to_uint8(canvas)).numpy()
