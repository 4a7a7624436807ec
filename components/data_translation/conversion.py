"""One record's conversion, without Beam: decode and validate it, then build its example.

`RecordDecoder` works record by record; `ExampleBuilder` also needs the
dataset-wide class list and channel count, which the pipeline computes first.
"""

from __future__ import annotations

import hashlib
from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf

from components.data_translation import images
from components.data_translation.records import DecodedRecord, SourceRecord
from components.data_translation.spec import TranslationConfig
from components.types import examples_io, features


def hash_split(source_id: str, seed: int, eval_fraction: float, test_fraction: float) -> str:
    """Deterministic split from a salted hash of the source id (stable across runs and runners)."""
    digest = hashlib.sha256(f"{seed}:{source_id}".encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    if position < eval_fraction:
        return features.EVAL_SPLIT
    if position < eval_fraction + test_fraction:
        return features.TEST_SPLIT
    return features.TRAIN_SPLIT


class RecordDecoder:
    """SourceRecord -> DecodedRecord: reads and validates the image, boxes and mask of one record.

    Args:
      class_names: the class list when the source fixes it (masks need it).
    """

    def __init__(self, config: TranslationConfig, class_names: Optional[Sequence[str]]):
        self._config = config
        self._class_index = {name: index for index, name in enumerate(class_names or ())}

    @staticmethod
    def _read(path: str, what: str) -> bytes:
        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                return handle.read()
        except tf.errors.NotFoundError:
            raise images.RecordError(f"missing {what} file {path}") from None
        except tf.errors.OpError as error:
            raise images.RecordError(f"unreadable {what} file {path} ({error.message})") from None

    def decode(self, record: SourceRecord) -> DecodedRecord:
        """Raises RecordError naming what is wrong with the record."""
        data = record.image_bytes if record.image_bytes is not None else self._read(record.image_path, "image")
        image = images.check_image(data)
        size = (image.height, image.width)
        if record.annotated_size is not None and tuple(record.annotated_size) != size:
            height, width = record.annotated_size
            raise images.RecordError(
                f"annotation says {width}x{height} but the image is {image.width}x{image.height}"
            )
        boxes = None
        if record.boxes is not None:
            pivot = images.check_boxes(record.boxes, record.box_format, size, self._config.box_tolerance)
            boxes = tuple(tuple(float(value) for value in box) for box in pivot)
        encoded_mask, mask_classes = None, ()
        if record.mask_path is not None:
            mask = self._read(record.mask_path, "mask")
            encoded_mask, mask_classes = images.check_mask(mask, len(self._class_index), size)
        elif record.polygons is not None:
            encoded_mask, mask_classes = images.rasterize(record.polygons, self._class_index, size)
        return DecodedRecord(
            source_id=record.source_id,
            origin=record.origin,
            encoded_image=image.encoded,
            height=image.height,
            width=image.width,
            channels=image.channels,
            labels=record.labels,
            boxes=boxes,
            box_labels=record.box_labels,
            encoded_mask=encoded_mask,
            mask_classes=mask_classes,
            split=record.split,
        )


class ExampleBuilder:
    """DecodedRecord -> (split, tf.train.Example, counted class names), given the dataset-wide choices.

    Counted per class: classification, the image's class; multilabel, each of
    its labels; detection, each box; segmentation, each class in the mask.
    """

    def __init__(self, config: TranslationConfig):
        self._config = config

    def _split(self, record: DecodedRecord) -> str:
        config = self._config
        if not record.is_labeled:
            if not config.include_unlabeled:
                raise images.RecordError("unlabeled record (include_unlabeled is false)")
            return features.UNLABELED_SPLIT
        if config.honor_source_splits and record.split is not None:
            return record.split
        return hash_split(record.source_id, config.split_seed, config.eval_fraction, config.test_fraction)

    @staticmethod
    def _ids(names: Sequence[str], class_index) -> Tuple[int, ...]:
        unknown = sorted({name for name in names if name not in class_index})
        if unknown:
            raise images.RecordError(f"unknown class {unknown[0]!r} (not in the class list)")
        return tuple(class_index[name] for name in names)

    def build(self, record: DecodedRecord, class_index: Dict[str, int], channels: int):
        """Raises RecordError for channel mismatches, unknown classes and label-count errors."""
        encoded = record.encoded_image
        if record.channels != channels:
            if not self._config.convert_channels:
                raise images.RecordError(
                    f"image has {record.channels} channels but the dataset has {channels} "
                    "(convert_channels is false: set it true to convert)"
                )
            encoded = images.convert_channels(encoded, channels)
        split = self._split(record)
        task = self._config.task
        arguments, counted = {}, ()
        if record.labels is not None:
            ids = self._ids(record.labels, class_index)
            if task == features.TASK_CLASSIFICATION:
                if len(ids) != 1:
                    raise images.RecordError(f"{len(ids)} labels {list(record.labels)}; task classification takes one")
                arguments["label"] = ids[0]
            else:
                ids = tuple(sorted(set(ids)))
                arguments["labels"] = ids
            counted = tuple(sorted(set(record.labels)))
        if record.boxes is not None:
            arguments["boxes"] = record.boxes
            arguments["box_labels"] = self._ids(record.box_labels, class_index)
            counted = tuple(record.box_labels)
        if record.encoded_mask is not None:
            arguments["encoded_mask"] = record.encoded_mask
            name_of = {index: name for name, index in class_index.items()}
            counted = tuple(name_of[index] for index in record.mask_classes if index in name_of)
        example = examples_io.make_example(
            encoded, record.height, record.width, channels, record.source_id, **arguments
        )
        return split, example, counted
