"""The DataSpec: what every component reads instead of guessing about the data."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from components.types import features

DATA_SPEC_FILE_NAME = "data_spec.json"


# Below this many eval images an accuracy is known only to about +/-10 pp (95% interval at p=0.5):
# the DataSpec flags it, since decisions between candidates on such a split are mostly noise.
TINY_EVAL_IMAGES = 100
MIN_CLASSES = {
    features.TASK_CLASSIFICATION: 2,
    features.TASK_MULTILABEL: 1,
    features.TASK_DETECTION: 1,
    features.TASK_SEGMENTATION: 1,
}


@dataclasses.dataclass
class SizeStats:
    minimum: int = 0
    maximum: int = 0
    mean: float = 0.0
    median: int = 0


@dataclasses.dataclass
class SplitStats:
    count: int = 0
    per_class: Dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DataSpecContent:
    """Contents of a DataSpec artifact.

    Counts reconcile: records_read == records_written + records_rejected.

    Attributes (beyond the counts):
      rejected_by_stage: rejections per stage ('read', 'link', 'duplicate',
        'decode', 'build'); `directory_links_skipped` and
        `duplicate_files_skipped` repeat the link and duplicate counts.
      common_sizes: the most common [height, width, count] image sizes.
      image_size: [height, width] every image is resized to unless a
        component's `image_size` says otherwise; `image_size_reason` says why.
      leakage: byte-identical images found in more than one labeled split
        (`images_in_several_splits`, `split_pairs`, `examples` of source ids)
        and `duplicate_records` beyond the first copy of any image.
      channels_converted: images converted to `channels`, by the channel
        count they had ({"1": 12, "4": 3}: 12 grayscale, 3 with alpha).
      warnings: one line per hazard found (single class, tiny eval split,
        mixed sizes, converted channels, leakage, unlabeled only); see `data_warnings`.
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
    rejected_by_stage: Dict[str, int] = dataclasses.field(default_factory=dict)
    directory_links_skipped: int = 0
    duplicate_files_skipped: int = 0
    common_sizes: List[List[int]] = dataclasses.field(default_factory=list)
    image_size: List[int] = dataclasses.field(default_factory=list)
    image_size_reason: str = ""
    leakage: Dict[str, Any] = dataclasses.field(default_factory=dict)
    channels_converted: Dict[str, int] = dataclasses.field(default_factory=dict)
    warnings: List[str] = dataclasses.field(default_factory=list)

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

    @property
    def labeled_count(self) -> int:
        return sum(stats.count for split, stats in self.splits.items() if split != features.UNLABELED_SPLIT)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DataSpecContent":
        raw = json.loads(text)
        raw["height"] = SizeStats(**raw.get("height", {}))
        raw["width"] = SizeStats(**raw.get("width", {}))
        raw["splits"] = {name: SplitStats(**value) for name, value in raw.get("splits", {}).items()}
        return cls(**raw)


def _size_text(height: int, width: int) -> str:
    return f"{width}x{height}"


def choose_image_size(common_sizes: List[List[int]], median: Tuple[int, int], total: int) -> Tuple[List[int], str]:
    """The size images are resized to by default, and why: the median height and width.

    The median, not the largest image: a few big images among many small
    ones must not make every training step pay for the big size (nine
    600x400 images among 250 28x28 ones would otherwise train at 400x600).

    Args:
      common_sizes: most common [height, width, count], most frequent first.
      median: (median height, median width) over all written images.
      total: number of images written.

    Returns:
      ([height, width], one-line reason naming the sizes found).
    """
    if not total:
        return [], ""
    height, width = max(int(median[0]), 1), max(int(median[1]), 1)
    if len(common_sizes) == 1 and common_sizes[0][2] == total:
        return [height, width], f"all {total} images are {_size_text(height, width)} (width x height)."
    found = ", ".join(f"{count} are {_size_text(h, w)}" for h, w, count in common_sizes)
    return [height, width], (
        f"image sizes vary (width x height): of {total} images, {found}; every image is resized to the median "
        f"size {_size_text(height, width)}; set `image_size: [{height}, {width}]` (height, width) in the "
        "training section to override."
    )


def data_warnings(content: DataSpecContent) -> List[str]:
    """One line per hazard a person should know about before training on this data."""
    warnings = []
    labeled = content.labeled_count
    if labeled == 0 and content.split_count(features.UNLABELED_SPLIT):
        warnings.append(
            f"unlabeled only: {content.split_count(features.UNLABELED_SPLIT)} images and no labels; usable as a "
            "domain-adaptation target or extra unlabeled data, not for supervised training."
        )
    elif labeled:
        problem = trainability_problem(content)
        if problem:
            warnings.append(problem)
        eval_count = content.split_count(features.EVAL_SPLIT)
        if 0 < eval_count < TINY_EVAL_IMAGES:
            half_width = 1.96 * 0.5 / eval_count**0.5
            known = (f"accuracy on it is known only to about +/-{100 * half_width:.0f} pp (95%)"
                     if content.task in (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL) else
                     "its mAP / IoU move by several points between resamples of its images")
            warnings.append(
                f"tiny eval split: {eval_count} images, so {known}; raise eval_fraction or add labeled images "
                "before trusting comparisons on it."
            )
    if content.image_size_reason.startswith("image sizes vary"):
        warnings.append(content.image_size_reason)
    if content.channels_converted:
        warnings.append(channels_converted_line(content.channels_converted, content.channels))
    if content.leakage.get("images_in_several_splits"):
        pairs = ", ".join(f"{pair}: {count}" for pair, count in content.leakage.get("split_pairs", {}).items())
        warnings.append(
            f"leakage: {content.leakage['images_in_several_splits']} byte-identical images appear in more than one "
            f"split ({pairs}), e.g. {content.leakage.get('examples', [])[:2]}; held-out scores will be optimistic."
        )
    return warnings


CHANNEL_NAMES = {1: "grayscale", 2: "grayscale + alpha", 3: "colour", 4: "colour + alpha"}


def channels_converted_line(converted: Dict[str, int], channels: int) -> str:
    """One line: how many images were converted to the dataset's channel count, from what."""
    parts = ", ".join(f"{count} {CHANNEL_NAMES.get(int(source), f'{source}-channel')}"
                      for source, count in sorted(converted.items(), key=lambda item: int(item[0])))
    dropped = " (alpha dropped)" if channels in (1, 3) and any(int(source) in (2, 4) for source in converted) else ""
    return (f"channels converted: {sum(converted.values())} images had another channel count than the dataset's "
            f"{channels} ({parts}) and were converted{dropped}; set `channels:` to choose the count, or "
            "`convert_channels: false` to reject such images instead.")


def trainability_problem(content: DataSpecContent) -> Optional[str]:
    """Why a model cannot be trained on this data (one line), or None.

    Counts the DataSpec does not hold (a hand-made spec without split
    statistics) are unknown, not zero, and are not judged.
    """
    minimum = MIN_CLASSES.get(content.task, 1)
    splits = content.splits
    if splits and content.labeled_count == 0:
        return "no labeled images: supervised training needs labeled train and eval splits."
    if content.num_classes < minimum:
        return (
            f"single-class {content.task} dataset (classes {content.class_names}): a classifier needs at least "
            f"{minimum} classes; add a folder of images of another class."
        )
    if features.TRAIN_SPLIT in splits and splits[features.TRAIN_SPLIT].count == 0:
        return "the train split is empty."
    if features.EVAL_SPLIT in splits and splits[features.EVAL_SPLIT].count == 0:
        return "the eval split is empty: raise eval_fraction or add a val/ folder."
    train = splits.get(features.TRAIN_SPLIT)
    if content.task == features.TASK_CLASSIFICATION and train is not None and train.per_class:
        present = [name for name, count in zip(content.class_names, content.class_counts()) if count > 0]
        if len(present) < minimum:
            return (
                f"the train split has images of only {len(present)} class(es) {present} of {content.class_names}; "
                "a classifier needs at least 2."
            )
    return None


def check_trainable(content: DataSpecContent) -> None:
    """Raises ValueError (one line naming the problem) when supervised training cannot work on this data.

    Refused: no labeled images, a single-class classification dataset (a
    1-output softmax is always "right"), an empty train or eval split, a
    train split with one class only. Call it before training starts (the
    pipeline builder, Training's executor).
    """
    problem = trainability_problem(content)
    if problem:
        raise ValueError(f"DataSpec ({content.source_format}, {content.task}): {problem}")


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
