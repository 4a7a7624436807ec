"""The data profile autofit plans from: what the translated data is, read from its DataSpec."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional

from components.types.data_spec import DataSpecContent

TRAIN, EVAL, TEST, UNLABELED = "train", "eval", "test", "unlabeled"


@dataclasses.dataclass(frozen=True)
class DataProfile:
    """Facts about the data that decide which techniques are worth trying.

    Attributes:
      labeled: labeled training images.
      min_per_class / median_per_class: labeled training images of the rarest / median class.
      eval_images: held-out images the decisions are measured on.
      unlabeled: images in the `unlabeled` split.
      height, width: image size the models train at (DataSpec's image_size, the median; else the largest).
      has_target: a target domain was given (domain adaptation).
    """

    task: str
    num_classes: int
    labeled: int
    min_per_class: int
    median_per_class: float
    eval_images: int
    test_images: int
    unlabeled: int
    height: int
    width: int
    channels: int
    has_target: bool = False

    @property
    def unlabeled_ratio(self) -> float:
        return self.unlabeled / max(self.labeled, 1)

    def accuracy_resolution(self, accuracy: float = 0.9) -> float:
        """Half-width of a 95% interval on a paired accuracy difference at this eval size.

        A rough guide for the plan (the selection itself bootstraps): two models
        that disagree on ~2 p (1 - p) of the images differ by a standard error of
        sqrt(2 p (1 - p) / n).
        """
        n = max(self.eval_images, 1)
        return 1.96 * math.sqrt(2 * accuracy * (1 - accuracy) / n)

    def to_dict(self) -> Dict[str, Any]:
        values = dataclasses.asdict(self)
        values["unlabeled_ratio"] = round(self.unlabeled_ratio, 2)
        values["accuracy_resolution_pp"] = round(100 * self.accuracy_resolution(), 1)
        return values


def profile_from_data_spec(spec: DataSpecContent, has_target: bool = False) -> DataProfile:
    counts = [count for count in spec.class_counts(TRAIN)] if spec.class_names else []
    labeled = spec.split_count(TRAIN)
    ordered = sorted(counts)
    median = float(ordered[len(ordered) // 2]) if ordered else 0.0
    return DataProfile(
        task=spec.task,
        num_classes=spec.num_classes,
        labeled=labeled,
        min_per_class=min(counts) if counts else 0,
        median_per_class=median,
        eval_images=spec.split_count(EVAL),
        test_images=spec.split_count(TEST),
        unlabeled=spec.split_count(UNLABELED),
        # The size training resizes to (DataSpec.image_size: the median), else the largest seen.
        height=int(spec.image_size[0]) if spec.image_size else int(spec.height.maximum),
        width=int(spec.image_size[1]) if spec.image_size else int(spec.width.maximum),
        channels=spec.channels,
        has_target=has_target,
    )


def profile_from_dict(values: Dict[str, Any]) -> Optional[DataProfile]:
    names = {field.name for field in dataclasses.fields(DataProfile)}
    return DataProfile(**{key: value for key, value in values.items() if key in names})
