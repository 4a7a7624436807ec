"""YOLO: `images/**/<name>.<ext>` with `labels/**/<name>.txt` of `class cx cy w h` lines.

Coordinates are normalized; class ids index the class list (`class_list`, or
`classes.txt` / `data.yaml` in the root). A first path component named
train/val/test under images/ is the split (the Ultralytics layout). An image
without a label file is unlabeled; an empty label file is a labeled negative.
"""

from __future__ import annotations

import os
from typing import Iterator, List, Optional, Tuple

import tensorflow as tf

from augment_ops import box_formats
from components.data_translation.readers import common
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig

IMAGES_DIR, LABELS_DIR = "images", "labels"
CLASS_FILES = ("classes.txt", "data.yaml", "dataset.yaml")
SHARD_SIZE = 256

# (image path relative to images/ or None, label path relative to labels/ or None, split)
Item = Tuple[Optional[str], Optional[str], Optional[str]]


def class_names(config: TranslationConfig) -> Tuple[str, ...]:
    if config.class_list is not None:
        return common.read_class_list(config.class_list)
    for name in CLASS_FILES:
        path = os.path.join(config.path, name)
        if tf.io.gfile.exists(path):
            return common.read_class_list(path)
    raise ValueError(
        f"YOLO data at {config.path} needs class names: set class_list or add one of {CLASS_FILES} to the root."
    )


def _split_of(relative: str, honor: bool) -> Optional[str]:
    parts = relative.split(os.sep)
    return common.canonical_split(parts[0]) if honor and len(parts) > 1 else None


def plan(config: TranslationConfig) -> common.ReaderPlan:
    images_dir = os.path.join(config.path, IMAGES_DIR)
    common.require_exists(images_dir, "YOLO images directory")
    names = class_names(config)
    images = {os.path.splitext(path)[0]: path for path in common.walk_files(images_dir) if common.is_image_file(path)}
    if not images:
        raise ValueError(f"YOLO images directory {images_dir} has no images.")
    labels_dir = os.path.join(config.path, LABELS_DIR)
    labels = {}
    if tf.io.gfile.isdir(labels_dir):
        labels = {os.path.splitext(path)[0]: path for path in common.walk_files(labels_dir) if path.endswith(".txt")}
    items: List[Item] = []
    for stem in sorted(set(images) | set(labels)):
        image, label = images.get(stem), labels.get(stem)
        if label is None and not config.include_unlabeled:
            continue
        items.append((image, label, _split_of(image or label, config.honor_source_splits)))
    shards = tuple(tuple(items[start : start + SHARD_SIZE]) for start in range(0, len(items), SHARD_SIZE))
    return common.ReaderPlan(shards=shards, class_names=names)


def parse_labels(text: str, names: Tuple[str, ...]):
    """Label file text -> (boxes [N, 4] cxcywh, class names); raises ValueError naming the line."""
    boxes, labels = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise ValueError(f"line {number}: expected 'class cx cy w h', got {len(fields)} values")
        try:
            class_id, box = int(fields[0]), tuple(float(value) for value in fields[1:])
        except ValueError:
            raise ValueError(f"line {number}: malformed numbers {line.strip()!r}") from None
        if not 0 <= class_id < len(names):
            raise ValueError(f"line {number}: unknown class id {class_id} (class list has {len(names)} classes)")
        boxes.append(box)
        labels.append(names[class_id])
    return tuple(boxes), tuple(labels)


def read(config: TranslationConfig, shard: Tuple[Item, ...]) -> Iterator[SourceRecord | Rejection]:
    names = class_names(config)
    images_dir = os.path.join(config.path, IMAGES_DIR)
    labels_dir = os.path.join(config.path, LABELS_DIR)
    for image, label, split in shard:
        if image is None:
            label_path = os.path.join(labels_dir, label)
            yield Rejection(label_path, label, "annotation names unknown image: no matching file under images/")
            continue
        image_path = os.path.join(images_dir, image)
        source_id = f"{IMAGES_DIR}/{image}"
        if label is None:
            yield SourceRecord(source_id=source_id, origin=image_path, image_path=image_path, split=split)
            continue
        label_path = os.path.join(labels_dir, label)
        try:
            boxes, box_labels = parse_labels(common.read_text(label_path), names)
        except ValueError as error:
            yield Rejection(label_path, source_id, f"malformed YOLO label file: {error}")
            continue
        yield SourceRecord(
            source_id=source_id,
            origin=label_path,
            image_path=image_path,
            boxes=boxes,
            box_labels=box_labels,
            box_format=box_formats.YOLO,
            split=split,
        )
