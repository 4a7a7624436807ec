"""The DataSpec: what every component reads instead of guessing about the data."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, List, Optional

from components.types import features

DATA_SPEC_FILE_NAME = "data_spec.json"


@dataclasses.dataclass
class SizeStats:
    minimum: int = 0
    maximum: int = 0
    mean: float = 0.0


@dataclasses.dataclass
class SplitStats:
    count: int = 0
    per_class: Dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DataSpecContent:
    """Contents of a DataSpec artifact.

    Counts reconcile: records_read == records_written + records_rejected.
    """

    task: str
    class_names: List[str]
    channels: int
    source_format: str
    box_format: Optional[str] = None
    value_range: List[int] = dataclasses.field(default_factory=lambda: [0, 255])
    height: SizeStats = dataclasses.field(default_factory=SizeStats)
    width: SizeStats = dataclasses.field(default_factory=SizeStats)
    splits: Dict[str, SplitStats] = dataclasses.field(default_factory=dict)
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    rejected_report: Optional[str] = None

    def __post_init__(self):
        if self.task not in features.TASKS:
            raise ValueError(f"Unknown task {self.task!r}; expected one of {features.TASKS}.")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_count(self, split: str) -> int:
        stats = self.splits.get(split)
        return stats.count if stats else 0

    def class_counts(self, split: str = features.TRAIN_SPLIT) -> List[int]:
        """Per-class counts in class-index order (zeros for absent classes)."""
        stats = self.splits.get(split, SplitStats())
        return [int(stats.per_class.get(name, 0)) for name in self.class_names]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DataSpecContent":
        raw = json.loads(text)
        raw["height"] = SizeStats(**raw.get("height", {}))
        raw["width"] = SizeStats(**raw.get("width", {}))
        raw["splits"] = {name: SplitStats(**value) for name, value in raw.get("splits", {}).items()}
        return cls(**raw)


def write_data_spec(content: DataSpecContent, directory: str) -> str:
    """Writes `data_spec.json` into `directory` (an artifact URI); returns its path."""
    import tensorflow as tf  # Local import: tf.io.gfile reaches GCS/S3 URIs.

    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, DATA_SPEC_FILE_NAME)
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(content.to_json())
    return path


def read_data_spec(directory: str) -> DataSpecContent:
    import tensorflow as tf

    path = os.path.join(directory, DATA_SPEC_FILE_NAME)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No {DATA_SPEC_FILE_NAME} in DataSpec artifact at {directory}.")
    with tf.io.gfile.GFile(path) as handle:
        return DataSpecContent.from_json(handle.read())
