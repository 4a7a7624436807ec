"""Keys, the TranslationConfig, and the DataTranslation ComponentSpec."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from typing import Any, Dict, Optional, Tuple, Union

from tfx.types import component_spec, standard_artifacts

from components.types import artifacts, features
from components.types import config_json

CONFIG_KEY = "config"
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"

IMAGE_FOLDER = "image_folder"
CSV = "csv"
COCO = "coco"
VOC = "voc"
YOLO = "yolo"
TFOD = "tfod"
VERTEX = "vertex"

# Which tasks each source format can describe.
SUPPORTED_TASKS: Dict[str, Tuple[str, ...]] = {
    IMAGE_FOLDER: (features.TASK_CLASSIFICATION,),
    CSV: (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL),
    COCO: (features.TASK_DETECTION, features.TASK_SEGMENTATION),
    VOC: (features.TASK_DETECTION, features.TASK_SEGMENTATION),
    YOLO: (features.TASK_DETECTION,),
    TFOD: (features.TASK_DETECTION,),
    VERTEX: (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL, features.TASK_DETECTION),
}
FORMATS = tuple(SUPPORTED_TASKS)
CHANNEL_CHOICES = (1, 3, 4)


@dataclasses.dataclass(frozen=True)
class TranslationConfig:
    """What to read and how to split it.

    Attributes:
      format: one of FORMATS.
      path: image_folder: root with one folder per class (optionally under
        train/ val/ test/); csv: the CSV file; coco: the images directory;
        voc: the VOC root (JPEGImages/, Annotations/, SegmentationClass/,
        ImageSets/); yolo: the root with images/ and labels/; tfod: a TFRecord
        file, glob or directory; vertex: the import file (.csv or .jsonl).
      task: classification, multilabel, detection or segmentation.
      annotations: the COCO JSON file (coco only).
      class_list: class names, or a file with one name per line (YOLO: a
        classes.txt or data.yaml with `names`). Fixes class ids; names outside
        it are rejected. Without it, ids are the sorted names found.
      eval_fraction, test_fraction: hash-split fractions for records whose
        source gives no split.
      split_seed: salt of the hash split; same seed, same split.
      honor_source_splits: use splits the source provides (VOC ImageSets,
        Vertex ml_use, train/ val/ folders).
      unlabeled_dir: image_folder directory name whose images are unlabeled.
      include_unlabeled: write unlabeled images to the `unlabeled` split.
      channels: 1, 3 or 4 to fix the channel count; None takes the majority.
      convert_channels: convert images with another channel count to
        `channels` (grayscale copied into colour, alpha dropped, colour to
        luminance), as image loaders do; counted in the DataSpec and warned
        about. False rejects them (each named in the rejected-records report).
      box_tolerance: normalized distance a box may stick out of the image
        before it is rejected (it is clipped).
      source_fingerprint: set by the pipeline builder from the source files
        (fingerprint.source_fingerprint); unused by the translation itself, it
        makes the cache key change when the data changes.
    """

    format: str
    path: str
    task: str = features.TASK_CLASSIFICATION
    annotations: Optional[str] = None
    class_list: Optional[Union[str, Tuple[str, ...]]] = None
    eval_fraction: float = 0.1
    test_fraction: float = 0.0
    split_seed: int = 0
    honor_source_splits: bool = True
    unlabeled_dir: str = "unlabeled"
    include_unlabeled: bool = True
    channels: Optional[int] = None
    convert_channels: bool = True
    box_tolerance: float = 0.01
    source_fingerprint: Optional[str] = None

    def __post_init__(self):
        if isinstance(self.class_list, (list, tuple)):
            object.__setattr__(self, "class_list", tuple(str(name) for name in self.class_list))

    def validate(self, check_paths: bool = True) -> "TranslationConfig":
        """Raises ValueError/FileNotFoundError naming the bad field; returns self."""
        if self.format not in SUPPORTED_TASKS:
            raise ValueError(f"Unknown data format {self.format!r}; expected one of {FORMATS}.")
        if self.task not in features.TASKS:
            raise ValueError(f"Unknown task {self.task!r}; expected one of {features.TASKS}.")
        if self.task not in SUPPORTED_TASKS[self.format]:
            raise ValueError(
                f"Format {self.format!r} does not support task {self.task!r}; "
                f"it supports {SUPPORTED_TASKS[self.format]}."
            )
        if not self.path:
            raise ValueError("TranslationConfig.path is empty; give the data location.")
        if self.format == COCO and not self.annotations:
            raise ValueError("Format 'coco' needs annotations=<COCO JSON file>.")
        for name in ("eval_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}.")
        if self.eval_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"eval_fraction + test_fraction must be < 1 (train needs records), got "
                f"{self.eval_fraction} + {self.test_fraction}."
            )
        if self.channels is not None and self.channels not in CHANNEL_CHOICES:
            raise ValueError(f"channels must be one of {CHANNEL_CHOICES} or None, got {self.channels!r}.")
        if not 0.0 <= self.box_tolerance < 0.5:
            raise ValueError(f"box_tolerance must be in [0, 0.5), got {self.box_tolerance}.")
        if isinstance(self.class_list, tuple) and len(set(self.class_list)) != len(self.class_list):
            raise ValueError(f"class_list has duplicate names: {list(self.class_list)}.")
        if check_paths:
            self._check_paths()
        return self

    def _check_paths(self):
        paths = {"path": self.path, "annotations": self.annotations}
        if isinstance(self.class_list, str):
            paths["class_list"] = self.class_list
        for name, path in paths.items():
            if path and not _exists(path):
                raise FileNotFoundError(f"TranslationConfig.{name}: {path} does not exist.")

    def to_json(self) -> str:
        return config_json.config_to_json(self)

    @classmethod
    def from_dict(cls, raw) -> "TranslationConfig":
        return config_json.config_from_dict(cls, dict(raw))

    @classmethod
    def from_json(cls, text: str) -> "TranslationConfig":
        return config_json.config_from_json(cls, text)


def _exists(path: str) -> bool:
    """Local paths (and globs) are checked here; remote ones (gs://...) when the executor starts.

    The machine that builds a pipeline often has no credentials for the
    bucket the cluster reads, so a remote check here could only fail or hang.
    """
    if "://" in path:
        return True
    return os.path.exists(path) or (any(char in path for char in "*?[") and bool(glob.glob(path)))


class DataTranslationSpec(component_spec.ComponentSpec):
    """Reads images and annotations; writes canonical Examples and a DataSpec."""

    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {}
    OUTPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
    }
