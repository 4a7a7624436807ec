"""ImageTransform component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.transform.preprocessing import NORMALIZATIONS, NORMALIZE_PER_CHANNEL
from components.types import artifacts, features
from components.types.config_json import check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
# Output keys.
TRANSFORM_GRAPH_KEY = "transform_graph"
# Exec property keys.
CONFIG_KEY = "config"

# File beside transform_fn/ and transformed_metadata/ in the TransformGraph artifact: what was computed, for people.
STATISTICS_FILE_NAME = "image_transform.json"


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    """How the transform graph is built (the YAML `transform:` section).

    Attributes:
      normalize: `per_channel`: (x - mean_c) / std_c with the mean and std of
        every pixel of `split`, x in [0, 1]; `none`: decode and resize only
        (x in [0, 1]), for backbones that bring their own preprocessing
        (and needed with their pretrained weights).
      image_size: (height, width) images are resized to; default the
        DataSpec's `image_size` (the median size, with its reason).
      split: the split the statistics are computed on (never eval/test:
        that would leak held-out data into the model).
    """

    normalize: str = NORMALIZE_PER_CHANNEL
    image_size: Optional[Tuple[int, int]] = None
    split: str = features.TRAIN_SPLIT

    def __post_init__(self):
        check(
            self.normalize in NORMALIZATIONS,
            f"transform.normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}.",
        )
        if self.image_size is not None:
            check(
                len(self.image_size) == 2 and all(int(v) > 0 for v in self.image_size),
                f"transform.image_size must be (height, width) > 0, got {self.image_size}.",
            )
            object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))
        check(
            self.split in (features.TRAIN_SPLIT, features.UNLABELED_SPLIT),
            f"transform.split must be 'train' or 'unlabeled' (statistics of held-out splits leak), got {self.split!r}.",
        )


class TransformSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
    }
    OUTPUTS = {TRANSFORM_GRAPH_KEY: component_spec.ChannelParameter(type=standard_artifacts.TransformGraph)}
