"""Reading and writing canonical examples (DESIGN.md section 4).

Writers (data translation, pseudo-labelling, synthesis) build examples with
`make_example`; readers (training, evaluation, search) get batched float
images through `load_split`.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.types import features
from components.types.data_spec import DataSpecContent

SPLIT_DIR_PREFIX = "Split-"
TFRECORD_SUFFIX = ".gz"


def split_directory(examples_uri: str, split: str) -> str:
    return os.path.join(examples_uri, f"{SPLIT_DIR_PREFIX}{split}")


def split_files(examples_uri: str, split: str) -> List[str]:
    """GZIP TFRecord files of one split; raises if the split has none."""
    pattern = os.path.join(split_directory(examples_uri, split), "*")
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"Examples at {examples_uri} have no files for split {split!r} ({pattern}).")
    return files


def _bytes(values: Iterable[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _ints(values: Iterable[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values: Iterable[float]) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def make_example(
    encoded_image: bytes,
    height: int,
    width: int,
    channels: int,
    source_id: str,
    label: Optional[int] = None,
    labels: Optional[Sequence[int]] = None,
    boxes: Optional[Sequence[Sequence[float]]] = None,
    box_labels: Optional[Sequence[int]] = None,
    encoded_mask: Optional[bytes] = None,
    provenance: Optional[Dict[str, object]] = None,
) -> tf.train.Example:
    """Builds one canonical example.

    Args:
      boxes: `[N, 4]` normalized (ymin, xmin, ymax, xmax).
      provenance: optional {'kind': str, 'model': str, 'confidence': float}.
    """
    feature = {
        features.IMAGE_ENCODED: _bytes([encoded_image]),
        features.IMAGE_HEIGHT: _ints([height]),
        features.IMAGE_WIDTH: _ints([width]),
        features.IMAGE_CHANNELS: _ints([channels]),
        features.IMAGE_SOURCE_ID: _bytes([source_id.encode("utf-8")]),
    }
    if label is not None:
        feature[features.LABEL] = _ints([label])
    if labels is not None:
        feature[features.LABELS] = _ints(labels)
    if boxes is not None:
        boxes = list(boxes)
        for index, key in enumerate(features.BOX_COORDINATE_KEYS):
            feature[key] = _floats(box[index] for box in boxes)
        feature[features.BOXES_LABEL] = _ints(box_labels or [])
    if encoded_mask is not None:
        feature[features.MASK_ENCODED] = _bytes([encoded_mask])
    if provenance:
        feature[features.PROVENANCE] = _bytes([str(provenance.get("kind", "")).encode("utf-8")])
        feature[features.PROVENANCE_MODEL] = _bytes([str(provenance.get("model", "")).encode("utf-8")])
        feature[features.PROVENANCE_CONFIDENCE] = _floats([float(provenance.get("confidence", 1.0))])
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _parse_spec(task: str) -> Dict[str, object]:
    spec = {
        features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string),
        features.IMAGE_SOURCE_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
    }
    if task == features.TASK_CLASSIFICATION:
        spec[features.LABEL] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
    elif task == features.TASK_MULTILABEL:
        spec[features.LABELS] = tf.io.VarLenFeature(tf.int64)
    return spec


def decode_image(encoded: tf.Tensor, channels: int, image_size: Tuple[int, int]) -> tf.Tensor:
    """Encoded PNG/JPEG -> `[H, W, C]` float32 in [0, 1] at `image_size`."""
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.image.resize(image, image_size, antialias=True)
    return tf.ensure_shape(image, [image_size[0], image_size[1], channels])


def default_image_size(data_spec: DataSpecContent) -> Tuple[int, int]:
    """(height, width) images are resized to when a component sets no `image_size`.

    The size translation chose and recorded with its reason
    (`data_spec.image_size`, `image_size_reason`): the median height and
    width, so a few large images do not make every step pay for their size.
    DataSpecs written before that field existed fall back to the median, then
    to the largest image.
    """
    if len(data_spec.image_size) == 2 and min(data_spec.image_size) > 0:
        return (int(data_spec.image_size[0]), int(data_spec.image_size[1]))
    if data_spec.height.median > 0 and data_spec.width.median > 0:
        return (int(data_spec.height.median), int(data_spec.width.median))
    return (max(int(data_spec.height.maximum), 1), max(int(data_spec.width.maximum), 1))


def load_split(
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    batch_size: int,
    image_size: Optional[Tuple[int, int]] = None,
    shuffle: bool = False,
    seed: int = 0,
    with_source_ids: bool = False,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Batched `(images [B,H,W,C] float in [0,1], labels)` of one split.

    Labels are int class ids `[B]` for classification and multi-hot `[B, K]`
    for multilabel; unlabeled records get -1 (classification). With
    `with_source_ids`, a third element `[B]` string is added.
    """
    image_size = tuple(image_size or default_image_size(data_spec))
    task = data_spec.task
    num_classes = data_spec.num_classes
    parse_spec = _parse_spec(task)

    def parse(serialized):
        parsed = tf.io.parse_single_example(serialized, parse_spec)
        image = decode_image(parsed[features.IMAGE_ENCODED], data_spec.channels, image_size)
        if task == features.TASK_MULTILABEL:
            ids = tf.sparse.to_dense(parsed[features.LABELS])
            label = tf.reduce_max(tf.one_hot(ids, num_classes), axis=0)
            label = tf.ensure_shape(label, [num_classes])
        elif task == features.TASK_CLASSIFICATION:
            label = tf.cast(parsed[features.LABEL], tf.int32)
        else:
            raise ValueError(f"load_split reads classification data; task is {task!r}.")
        if with_source_ids:
            return image, label, parsed[features.IMAGE_SOURCE_ID]
        return image, label

    files = split_files(examples_uri, split)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if shuffle:
        dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _detection_records(
    examples_uri: str, split: str, data_spec: DataSpecContent, image_size: Tuple[int, int]
) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One detection record at a time: (image `[H,W,C]` float32, boxes `[M,4]`, box labels `[M]` int32)."""
    if data_spec.task != features.TASK_DETECTION:
        raise ValueError(f"load_detection_split reads detection data; task is {data_spec.task!r}.")
    spec = {
        features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string),
        features.IMAGE_SOURCE_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        features.BOXES_LABEL: tf.io.VarLenFeature(tf.int64),
        **{key: tf.io.VarLenFeature(tf.float32) for key in features.BOX_COORDINATE_KEYS},
    }

    def parse(serialized):
        parsed = tf.io.parse_single_example(serialized, spec)
        coordinates = tuple(tf.sparse.to_dense(parsed[key]) for key in features.BOX_COORDINATE_KEYS)
        image = decode_image(parsed[features.IMAGE_ENCODED], data_spec.channels, image_size)
        return image, coordinates, tf.sparse.to_dense(parsed[features.BOXES_LABEL]), parsed[features.IMAGE_SOURCE_ID]

    dataset = tf.data.TFRecordDataset(split_files(examples_uri, split), compression_type="GZIP")
    # Decoding runs in parallel in tf.data; the per-record checks stay here, where the record can be named.
    for image, coordinates, box_labels, source in dataset.map(
        parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    ).as_numpy_iterator():
        if len({len(values) for values in coordinates} | {len(box_labels)}) != 1:
            raise ValueError(
                f"Record {source.decode('utf-8', 'replace')!r} in split {split!r} of {examples_uri}: box coordinate "
                f"and label lists differ in length ({[len(values) for values in coordinates]} coordinates, "
                f"{len(box_labels)} labels)."
            )
        yield image, np.stack(coordinates, axis=-1).reshape(-1, 4), box_labels.astype(np.int32)


def _padded_detection_arrays(images, boxes, labels, image_size, channels):
    most = max([len(row) for row in labels] + [1])
    padded_boxes = np.full((len(images), most, 4), -1.0, np.float32)
    padded_labels = np.full((len(images), most), -1, np.int32)
    for index, (row_boxes, row_labels) in enumerate(zip(boxes, labels)):
        padded_boxes[index, : len(row_labels)] = row_boxes
        padded_labels[index, : len(row_labels)] = row_labels
    empty = np.zeros((0, image_size[0], image_size[1], channels), np.float32)
    return (np.stack(images) if images else empty), padded_boxes, padded_labels


def load_detection_split(
    examples_uri: str, split: str, data_spec: DataSpecContent, image_size: Optional[Tuple[int, int]] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A detection split in memory: images, boxes padded to the most boxes of any image, box labels.

    Holds every image (N*H*W*C*4 bytes); `detection_batches` streams the same
    records a batch at a time, for splits that do not fit in memory.

    Returns:
      images float32 `[N,H,W,C]` in [0,1] at `image_size`; boxes float32
      `[N,M,4]` normalized (ymin, xmin, ymax, xmax), padded rows -1; labels
      int32 `[N,M]`, padded -1. Normalized boxes need no change on resizing.

    Raises:
      ValueError: for a non-detection DataSpec, or a record whose box
        coordinate lists differ in length (named by its source id).
    """
    image_size = tuple(image_size or default_image_size(data_spec))
    whole = list(detection_batches(examples_uri, split, data_spec, sys.maxsize, image_size))  # one batch: the split
    return whole[0] if whole else _padded_detection_arrays([], [], [], image_size, data_spec.channels)


def detection_batches(
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    batch_size: int,
    image_size: Optional[Tuple[int, int]] = None,
) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`load_detection_split` a batch at a time: memory holds one batch of images, not the split.

    Yields:
      (images `[B,H,W,C]`, boxes `[B,M,4]`, labels `[B,M]`), M the most boxes
      of any image in that batch (padded -1); the last batch may be smaller.
    """
    if batch_size < 1:
        raise ValueError(f"detection_batches: batch_size must be >= 1; got {batch_size}.")
    image_size = tuple(image_size or default_image_size(data_spec))
    images, boxes, labels = [], [], []
    for image, row_boxes, row_labels in _detection_records(examples_uri, split, data_spec, image_size):
        images.append(image)
        boxes.append(row_boxes)
        labels.append(row_labels)
        if len(images) == batch_size:
            yield _padded_detection_arrays(images, boxes, labels, image_size, data_spec.channels)
            images, boxes, labels = [], [], []
    if images:
        yield _padded_detection_arrays(images, boxes, labels, image_size, data_spec.channels)


def count_records(examples_uri: str, split: str) -> int:
    files = split_files(examples_uri, split)
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
