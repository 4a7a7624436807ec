"""The small picklable values that flow between the Beam stages.

Readers yield `SourceRecord`s (paths and annotations, no pixels) or
`Rejection`s. Inside the MakeExample DoFn a SourceRecord becomes a
`DecodedRecord` (validated encoded image, pivot boxes, mask PNG) and then a
serialized tf.train.Example.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional, Tuple

# Stages that can reject a record, in the rejected-records report.
STAGE_READ = "read"
STAGE_DECODE = "decode"
STAGE_BUILD = "build"
STAGE_LINK = "link"  # a directory link the walk does not follow
STAGE_DUPLICATE = "duplicate"  # a second path (a file link) to an image file already read


@dataclasses.dataclass(frozen=True)
class SourceRecord:
    """One image as the source describes it.

    Attributes:
      source_id: stable id of the record (relative path, or file#index); it
        seeds the hash split and becomes `image/source_id`.
      origin: where a person finds the record (file, and line/record number).
      image_path: file to read lazily in the decode stage, or None when
        `image_bytes` carries the image inline (TFRecord sources).
      labels: class names; None means unlabeled (classification/multilabel).
      boxes: `[N, 4]` boxes in `box_format`; None means unlabeled (detection).
      box_labels: class name of each box.
      mask_path: PNG of class ids (VOC SegmentationClass).
      polygons: COCO segmentations as (class name, segmentation) pairs.
      annotated_size: (height, width) the annotation claims, checked against
        the decoded image.
      split: split the source assigns (train/eval/test), or None.
    """

    source_id: str
    origin: str
    image_path: Optional[str] = None
    image_bytes: Optional[bytes] = None
    labels: Optional[Tuple[str, ...]] = None
    boxes: Optional[Tuple[Tuple[float, float, float, float], ...]] = None
    box_labels: Tuple[str, ...] = ()
    box_format: str = "tf"
    mask_path: Optional[str] = None
    polygons: Optional[Tuple[Tuple[str, Any], ...]] = None
    annotated_size: Optional[Tuple[int, int]] = None
    split: Optional[str] = None

    def class_names(self) -> Tuple[str, ...]:
        return tuple(self.labels or ()) + tuple(self.box_labels)


@dataclasses.dataclass(frozen=True)
class DecodedRecord:
    """A record whose image decoded and whose annotations are valid.

    `boxes` are normalized (ymin, xmin, ymax, xmax); `labels` and `box_labels`
    are still class names (ids need the dataset-wide class list).
    """

    source_id: str
    origin: str
    encoded_image: bytes
    height: int
    width: int
    channels: int
    labels: Optional[Tuple[str, ...]] = None
    boxes: Optional[Tuple[Tuple[float, float, float, float], ...]] = None
    box_labels: Tuple[str, ...] = ()
    encoded_mask: Optional[bytes] = None
    mask_classes: Tuple[int, ...] = ()
    split: Optional[str] = None

    @property
    def is_labeled(self) -> bool:
        return self.labels is not None or self.boxes is not None or self.encoded_mask is not None


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A record that was not written, and why."""

    source: str
    record: str
    reason: str
    stage: str = STAGE_READ

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def reject(record: SourceRecord | DecodedRecord, reason: str, stage: str) -> Rejection:
    """A Rejection whose source/record come from the record's origin ('file' or 'file#record')."""
    source, _, where = record.origin.partition("#")
    return Rejection(source=source, record=where or record.source_id, reason=reason, stage=stage)
