"""The data section: DataSpec counts, sample images per class, rejected records.

Samples are drawn from the Examples artifact itself (the records training
read), not from the source folder, so the grid shows what the model saw.
Small images keep their original encoded bytes; larger ones are shrunk to
a thumbnail so the report stays a few MB however big the photos are.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import os
from typing import Dict, List, Optional, Tuple

from components.types import features
from components.types.data_spec import DataSpecContent, read_data_spec

THUMBNAIL_SIDE = 128
MAX_REJECTED_ROWS = 50
# Sample rows shown: the first classes only, so a 1000-class dataset still gives a page, not 8000 thumbnails.
MAX_SAMPLE_CLASSES = 40


@dataclasses.dataclass
class Sample:
    """One example image as an embeddable picture.

    Attributes:
      png_or_jpeg: encoded bytes (original, or a PNG thumbnail).
      mime: "image/png" or "image/jpeg".
      source_id: the record's `image/source_id`.
      boxes: normalized (ymin, xmin, ymax, xmax, class name) of detection boxes.
    """

    png_or_jpeg: bytes
    mime: str
    source_id: str
    boxes: List[Tuple[float, float, float, float, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class DataSection:
    spec: DataSpecContent
    data_spec_uri: str
    examples_uri: Optional[str]
    samples: Dict[str, List[Sample]]
    sample_split: Optional[str]
    rejected: List[Dict[str, str]]
    rejected_reasons: List[Tuple[str, int]]

    def split_rows(self) -> List[Dict[str, object]]:
        """One row per split: count and per-class counts in class order."""
        rows = []
        for split in features.ALL_SPLITS + tuple(sorted(set(self.spec.splits) - set(features.ALL_SPLITS))):
            stats = self.spec.splits.get(split)
            if stats is None:
                continue
            rows.append({"split": split, "count": stats.count,
                         "per_class": [int(stats.per_class.get(name, 0)) for name in self.spec.class_names]})
        return rows


def _mime(encoded: bytes) -> Optional[str]:
    if encoded.startswith(b"\x89PNG"):
        return "image/png"
    if encoded.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return None


def embeddable_image(encoded: bytes, side: int = THUMBNAIL_SIDE) -> Tuple[bytes, str]:
    """Encoded bytes a browser shows: the original when small PNG/JPEG, else a PNG thumbnail."""
    from PIL import Image

    mime = _mime(encoded)
    image = Image.open(io.BytesIO(encoded))
    if mime and max(image.size) <= side:
        return encoded, mime
    image.thumbnail((side, side))
    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), "image/png"


def _class_keys(example, task: str, class_names: List[str]) -> Tuple[List[str], List[Tuple]]:
    """The class names an example belongs to (for grouping) and its boxes (detection)."""
    feature = example.features.feature

    def name(index: int) -> str:
        return class_names[index] if 0 <= index < len(class_names) else str(index)

    if task == features.TASK_DETECTION:
        labels = list(feature[features.BOXES_LABEL].int64_list.value)
        coords = [list(feature[key].float_list.value) for key in features.BOX_COORDINATE_KEYS]
        boxes = [(*(float(c[i]) for c in coords), name(label)) for i, label in enumerate(labels)]
        return sorted({name(label) for label in labels}) or ["(no boxes)"], boxes
    if task == features.TASK_MULTILABEL:
        labels = list(feature[features.LABELS].int64_list.value)
        return [name(label) for label in labels] or ["(no labels)"], []
    if features.LABEL in feature and feature[features.LABEL].int64_list.value:
        return [name(int(feature[features.LABEL].int64_list.value[0]))], []
    return ["(all)"], []


def read_samples(
    examples_uri: str, split: str, spec: DataSpecContent, per_class: int = 8, max_records: int = 4000,
    max_classes: int = MAX_SAMPLE_CLASSES,
) -> Dict[str, List[Sample]]:
    """Up to `per_class` images for each of the first `max_classes` classes, from the first `max_records`
    records of a split, in class order."""
    import tensorflow as tf

    from components.types import examples_io

    wanted: Dict[str, List[Sample]] = {name: [] for name in spec.class_names[:max_classes]}
    if spec.task == features.TASK_SEGMENTATION:
        wanted = {}  # Every image has many classes: one row, "(all)".
    files = examples_io.split_files(examples_uri, split)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(max_records)
    for serialized in dataset.as_numpy_iterator():
        example = tf.train.Example.FromString(serialized)
        keys, boxes = _class_keys(example, spec.task, spec.class_names)
        for key in keys:  # Groups the class list lacks ("(all)" for unlabeled masks, "(no boxes)").
            if key not in wanted and key not in spec.class_names and len(wanted) < max_classes:
                wanted[key] = []
        open_keys = [key for key in keys if key in wanted and len(wanted[key]) < per_class]
        if not open_keys:
            if all(len(found) >= per_class for found in wanted.values()):
                break
            continue
        feature = example.features.feature
        encoded = feature[features.IMAGE_ENCODED].bytes_list.value[0]
        source = feature[features.IMAGE_SOURCE_ID].bytes_list.value
        picture, mime = embeddable_image(encoded)
        sample = Sample(picture, mime, source[0].decode("utf-8", "replace") if source else "", boxes)
        wanted[open_keys[0]].append(sample)
    return {name: found for name, found in wanted.items() if found}


def read_rejected(
    path: Optional[str], limit: int = MAX_REJECTED_ROWS
) -> Tuple[List[Dict[str, str]], List[Tuple[str, int]]]:
    """The first `limit` rejected records and the count of each reason (most frequent first)."""
    import tensorflow as tf

    if not path or not tf.io.gfile.exists(path):
        return [], []
    rows, reasons = [], collections.Counter()
    with tf.io.gfile.GFile(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number} is not JSON: {error}") from error
            reasons[str(record.get("reason", "?"))] += 1
            if len(rows) < limit:
                rows.append({key: str(record.get(key, "")) for key in ("stage", "source", "record", "reason")})
    return rows, reasons.most_common()


def read_data_section(run, per_class: int = 8) -> Optional[DataSection]:
    """The DataSpec (latest DataSpec output of the run) with samples and rejections; None without one."""
    specs = run.outputs_of_type("tfx_autofit.DataSpec")
    if not specs:
        return None
    data_spec = specs[0]
    spec = read_data_spec(data_spec.artifact.uri)
    examples = [item for item in run.outputs(data_spec.component) if item.artifact.type_name == "Examples"]
    examples_uri = examples[0].artifact.uri if examples else None
    samples, sample_split = {}, None
    if examples_uri:
        for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT, features.TEST_SPLIT, features.UNLABELED_SPLIT):
            if spec.split_count(split) > 0:
                sample_split = split
                samples = read_samples(examples_uri, split, spec, per_class=per_class)
                break
    rejected_path = spec.rejected_report
    if rejected_path and not os.path.isabs(rejected_path) and "://" not in rejected_path:
        rejected_path = os.path.join(data_spec.artifact.uri, rejected_path)
    rejected, reasons = read_rejected(rejected_path)
    return DataSection(spec, data_spec.artifact.uri, examples_uri, samples, sample_split, rejected, reasons)
