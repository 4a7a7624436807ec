"""Vertex AI AutoML image import files (CSV and JSONL), classification and detection.

CSV (documented schema):
  classification: `[ML_USE,]GCS_FILE_PATH[,LABEL[,LABEL...]]`
  detection:      `[ML_USE,]GCS_FILE_PATH,LABEL,X_MIN,Y_MIN,,,X_MAX,Y_MAX,,`
                  (or the four-vertex form `LABEL,X1,Y1,X2,Y2,X3,Y3,X4,Y4`),
                  one box per row, coordinates normalized.
JSONL: `{"imageGcsUri": ..., "classificationAnnotation": {"displayName": ...}}`
  (or `classificationAnnotations: [...]` for multi-label), or
  `"boundingBoxAnnotations": [{"displayName", "xMin", "yMin", "xMax", "yMax"}]`,
  with the split in `dataItemResourceLabels["aiplatform.googleapis.com/ml_use"]`.
A row/line with an image but no annotation is unlabeled. Detection CSV rows are
grouped by image (annotations only, no pixels, are held in memory).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, Iterator, List, Optional, Tuple

from augment_ops import box_formats
from components.data_translation.readers import common, csv_labels
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig
from components.types import features

ML_USE_LABEL = "aiplatform.googleapis.com/ml_use"
ML_USE_VALUES = {"training": "train", "validation": "eval", "test": "test", "unassigned": None}
BOX_KEYS = ("xMin", "yMin", "xMax", "yMax")


def plan(config: TranslationConfig) -> common.ReaderPlan:
    common.require_exists(config.path, "Vertex import file")
    if not any(True for _ in csv_labels.numbered_lines(config.path)):
        raise ValueError(f"Vertex import file {config.path} has no rows.")
    return common.ReaderPlan(shards=(config.path,), class_names=common.read_class_list(config.class_list))


def read(config: TranslationConfig, shard: str) -> Iterator[SourceRecord | Rejection]:
    if shard.lower().endswith(".jsonl"):
        yield from _read_jsonl(config, shard)
    elif config.task == features.TASK_DETECTION:
        yield from _read_detection_csv(shard)
    else:
        yield from _read_classification_csv(shard)


def _ml_use(value: Optional[str]) -> Tuple[bool, Optional[str]]:
    """(is an ML_USE value, canonical split)."""
    key = (value or "").strip().lower()
    return key in ML_USE_VALUES, ML_USE_VALUES.get(key)


def _split_ml_use(fields: List[str]) -> Tuple[Optional[str], List[str]]:
    is_ml_use, split = _ml_use(fields[0])
    return (split, fields[1:]) if is_ml_use and len(fields) > 1 else (None, fields)


def _read_classification_csv(path: str) -> Iterator[SourceRecord | Rejection]:
    base_dir, seen = os.path.dirname(path), {}
    for number, line in csv_labels.numbered_lines(path):
        record = f"line {number}"
        try:
            split, fields = _split_ml_use(csv_labels.parse_line(line))
        except ValueError as error:
            yield Rejection(source=path, record=record, reason=str(error))
            continue
        image = fields[0]
        if not image:
            yield Rejection(source=path, record=record, reason="malformed CSV line: empty GCS_FILE_PATH")
            continue
        if image in seen:
            reason = f"duplicate row: image already listed on line {seen[image]}"
            yield Rejection(source=path, record=record, reason=reason)
            continue
        seen[image] = number
        labels = tuple(field for field in fields[1:] if field) or None
        yield SourceRecord(image, f"{path}#{record}", common.resolve(base_dir, image), labels=labels, split=split)


def _vertex_box(fields: List[str]) -> Tuple[float, float, float, float]:
    """Box coordinate fields (8 after LABEL) -> normalized (xmin, ymin, xmax, ymax)."""
    fields = (fields + [""] * 8)[:8]
    if all(fields[index] for index in (2, 3, 6, 7)):  # Four vertices.
        xs = [float(fields[index]) for index in (0, 2, 4, 6)]
        ys = [float(fields[index]) for index in (1, 3, 5, 7)]
        return min(xs), min(ys), max(xs), max(ys)
    if not all(fields[index] for index in (0, 1, 4, 5)):
        raise ValueError("expected X_MIN,Y_MIN,,,X_MAX,Y_MAX,, after LABEL")
    return float(fields[0]), float(fields[1]), float(fields[4]), float(fields[5])


@dataclasses.dataclass
class _ImageRows:
    first_line: int
    split: Optional[str]
    boxes: List[Tuple[float, float, float, float]] = dataclasses.field(default_factory=list)
    labels: List[str] = dataclasses.field(default_factory=list)
    errors: List[str] = dataclasses.field(default_factory=list)
    labeled: bool = False


def _read_detection_csv(path: str) -> Iterator[SourceRecord | Rejection]:
    images: Dict[str, _ImageRows] = {}
    for number, line in csv_labels.numbered_lines(path):
        try:
            split, fields = _split_ml_use(csv_labels.parse_line(line))
        except ValueError as error:
            yield Rejection(source=path, record=f"line {number}", reason=str(error))
            continue
        if not fields[0]:
            yield Rejection(source=path, record=f"line {number}", reason="malformed CSV line: empty GCS_FILE_PATH")
            continue
        rows = images.setdefault(fields[0], _ImageRows(first_line=number, split=split))
        label = fields[1] if len(fields) > 1 else ""
        if not label and not any(fields[2:]):
            continue  # An image without boxes on this row.
        rows.labeled = True
        try:
            box = _vertex_box(fields[2:])
            if not label:
                raise ValueError("box without LABEL")
        except ValueError as error:
            rows.errors.append(f"line {number}: malformed detection row ({error})")
            continue
        rows.boxes.append(box)
        rows.labels.append(label)
    base_dir = os.path.dirname(path)
    for image, rows in images.items():
        origin = f"{path}#line {rows.first_line}"
        if rows.errors:
            yield Rejection(source=path, record=f"line {rows.first_line}", reason="; ".join(rows.errors))
            continue
        yield SourceRecord(
            source_id=image,
            origin=origin,
            image_path=common.resolve(base_dir, image),
            boxes=tuple(rows.boxes) if rows.labeled else None,
            box_labels=tuple(rows.labels),
            box_format=box_formats.ALBUMENTATIONS,
            split=rows.split,
        )


def _jsonl_record(config: TranslationConfig, path: str, number: int, item: dict) -> SourceRecord:
    image = item.get("imageGcsUri")
    if not isinstance(image, str) or not image:
        raise ValueError("missing imageGcsUri")
    ml_use = (item.get("dataItemResourceLabels") or {}).get(ML_USE_LABEL)
    is_ml_use, split = _ml_use(ml_use)
    if ml_use is not None and not is_ml_use:
        raise ValueError(f"unknown ml_use {ml_use!r}")
    common_args = dict(
        source_id=image,
        origin=f"{path}#line {number}",
        image_path=common.resolve(os.path.dirname(path), image),
        split=split,
    )
    if config.task == features.TASK_DETECTION:
        annotations = item.get("boundingBoxAnnotations")
        if annotations is None:
            return SourceRecord(**common_args)
        boxes = tuple(tuple(float(box[key]) for key in BOX_KEYS) for box in annotations)
        names = tuple(str(box["displayName"]) for box in annotations)
        return SourceRecord(**common_args, boxes=boxes, box_labels=names, box_format=box_formats.ALBUMENTATIONS)
    annotations = item.get("classificationAnnotations")
    if annotations is None and item.get("classificationAnnotation") is not None:
        annotations = [item["classificationAnnotation"]]
    labels = tuple(str(annotation["displayName"]) for annotation in annotations) if annotations else None
    return SourceRecord(**common_args, labels=labels)


def _read_jsonl(config: TranslationConfig, path: str) -> Iterator[SourceRecord | Rejection]:
    seen = {}
    for number, line in csv_labels.numbered_lines(path):
        record = f"line {number}"
        try:
            csv_labels.check_text(line)
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("line is not a JSON object")
            result = _jsonl_record(config, path, number, item)
        except json.JSONDecodeError as error:
            yield Rejection(source=path, record=record, reason=f"malformed JSON: {error}")
            continue
        except (ValueError, KeyError, TypeError) as error:
            reason = f"missing key {error}" if isinstance(error, KeyError) else str(error)
            yield Rejection(source=path, record=record, reason=f"malformed Vertex annotation: {reason}")
            continue
        if result.source_id in seen:
            reason = f"duplicate line: image already listed on line {seen[result.source_id]}"
            yield Rejection(source=path, record=record, reason=reason)
            continue
        seen[result.source_id] = number
        yield result
