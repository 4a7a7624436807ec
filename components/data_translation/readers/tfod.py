"""TF Object Detection API TFRecords (its standard feature keys).

`path` is a TFRecord file, a glob, or a directory of them (GZIP detected from
the file's magic bytes). Class names come from `image/object/class/text`;
records with only 1-based `image/object/class/label` ids need `class_list`.
A record without the bbox keys is unlabeled; empty bbox lists are a labeled
negative. A truncated file rejects the rest of that file, named by record.
"""

from __future__ import annotations

import os
import warnings
from typing import Iterator, List, Optional, Tuple

import tensorflow as tf
from google.protobuf.message import DecodeError

from augment_ops import box_formats
from components.data_translation.readers import common
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig

ENCODED = "image/encoded"
HEIGHT, WIDTH = "image/height", "image/width"
FILENAME, SOURCE_ID = "image/filename", "image/source_id"
BOX_KEYS = ("image/object/bbox/ymin", "image/object/bbox/xmin", "image/object/bbox/ymax", "image/object/bbox/xmax")
CLASS_LABEL, CLASS_TEXT = "image/object/class/label", "image/object/class/text"
_GZIP_MAGIC = b"\x1f\x8b"


def record_files(path: str) -> List[str]:
    if tf.io.gfile.isdir(path):
        paths = [os.path.join(path, name) for name in common.list_dir(path)]
        return [file_path for file_path in paths if not tf.io.gfile.isdir(file_path)]
    return sorted(tf.io.gfile.glob(path))


def plan(config: TranslationConfig) -> common.ReaderPlan:
    files = record_files(config.path)
    if not files:
        raise FileNotFoundError(f"No TFRecord files at {config.path}.")
    return common.ReaderPlan(shards=tuple(files), class_names=common.read_class_list(config.class_list))


def _compression(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as handle:
        return "GZIP" if handle.read(2) == _GZIP_MAGIC else ""


def _values(feature_map, key: str) -> Optional[list]:
    if key not in feature_map:
        return None
    feature = feature_map[key]
    kind = feature.WhichOneof("kind")
    return list(getattr(feature, kind).value) if kind else []


def _text(values: Optional[list]) -> Optional[str]:
    return values[0].decode("utf-8") if values else None


def _record(path: str, index: int, serialized: bytes, class_list: Optional[Tuple[str, ...]]) -> SourceRecord:
    example = tf.train.Example()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # Partial parses are caught by the length check.
            parsed = example.ParseFromString(serialized)
    except DecodeError:
        parsed = -1
    if parsed != len(serialized):
        raise ValueError("malformed record: not a tf.train.Example")
    feature_map = example.features.feature
    encoded = _values(feature_map, ENCODED)
    if not encoded:
        raise ValueError(f"malformed record: no {ENCODED}")
    height, width = _values(feature_map, HEIGHT), _values(feature_map, WIDTH)
    source_id = _text(_values(feature_map, SOURCE_ID)) or _text(_values(feature_map, FILENAME))
    record = dict(
        source_id=source_id or f"{os.path.basename(path)}#record {index}",
        origin=f"{path}#record {index}",
        image_bytes=encoded[0],
        annotated_size=(int(height[0]), int(width[0])) if height and width else None,
    )
    coordinates = [_values(feature_map, key) for key in BOX_KEYS]
    if all(values is None for values in coordinates):
        return SourceRecord(**record)
    if any(values is None for values in coordinates) or len({len(values) for values in coordinates}) != 1:
        raise ValueError("malformed record: bbox coordinate lists differ in length")
    count = len(coordinates[0])
    texts = [value.decode("utf-8") for value in _values(feature_map, CLASS_TEXT) or []]
    ids = _values(feature_map, CLASS_LABEL) or []
    if len(texts) == count:
        names = tuple(texts)
    elif len(ids) == count and class_list is not None:
        bad = [value for value in ids if not 1 <= value <= len(class_list)]
        if bad:
            raise ValueError(f"unknown class id {bad[0]} (1-based; class_list has {len(class_list)} classes)")
        names = tuple(class_list[value - 1] for value in ids)
    elif len(ids) == count:
        raise ValueError(f"record has {CLASS_LABEL} ids but no {CLASS_TEXT}; set class_list to name them")
    else:
        raise ValueError(f"malformed record: {count} boxes but {len(texts)} class texts and {len(ids)} class ids")
    boxes = tuple(zip(*coordinates))
    return SourceRecord(**record, boxes=boxes, box_labels=names, box_format=box_formats.TF)


def read(config: TranslationConfig, shard: str) -> Iterator[SourceRecord | Rejection]:
    class_list = common.read_class_list(config.class_list)
    dataset = tf.data.TFRecordDataset(shard, compression_type=_compression(shard))
    iterator = iter(dataset)
    index = 0
    while True:
        try:
            serialized = next(iterator).numpy()
        except StopIteration:
            return
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            reason = (
                f"truncated or corrupt TFRecord file: records from {index} on are unreadable "
                f"({type(error).__name__})"
            )
            yield Rejection(source=shard, record=f"record {index}", reason=reason)
            return
        try:
            yield _record(shard, index, serialized, class_list)
        except ValueError as error:
            yield Rejection(source=shard, record=f"record {index}", reason=str(error))
        index += 1
