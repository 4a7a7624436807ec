"""Refit component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Tuple

from tfx.types import component_spec, standard_artifacts

from components.types import artifacts
from components.types.config_json import check as _check

EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
CHAMPION_KEY = "champion"  # input: the champion (uncalibrated)
MODEL_KEY = "model"  # output: the refitted model (or the champion passed through)
CONFIG_KEY = "config"

SUMMARY_FILE_NAME = "refit.json"
REFITTABLE = ("Training", "ConsistencyTraining")  # trainers that write a recipe (components.common.recipe)
SCRATCH_DIR_NAME = "_refit_examples"  # merged Examples, removed once the model is written
# MLMD custom properties of the output model.
REFIT_PROPERTY = "refit"  # 1 refitted, 0 the champion passed through
REFIT_REASON_PROPERTY = "refit_reason"
REFIT_IMAGES_PROPERTY = "refit_images"
REFIT_EPOCHS_PROPERTY = "refit_epochs"
REFIT_TRAINER_PROPERTY = "refit_trainer"
HELD_OUT_PREFIX = "held_out_"  # the champion's eval metrics before refit, copied for the record


@dataclasses.dataclass(frozen=True)
class RefitConfig:
    """Which held-out splits join the training once the decisions are made.

    Attributes:
      merge_splits: labeled splits added to `train` for the refit (their images were only used to
        choose; the refitted model learns from them too). The test split never joins.
      trainers: whose recipes are rerun when their model wins (autofit leaves ConsistencyTraining out when
        refitting it would overrun the budget); any other champion passes through unchanged.
    """

    merge_splits: Tuple[str, ...] = ("eval",)
    trainers: Tuple[str, ...] = ("Training", "ConsistencyTraining")

    def __post_init__(self):
        object.__setattr__(self, "merge_splits", tuple(self.merge_splits))
        object.__setattr__(self, "trainers", tuple(self.trainers))
        for trainer in self.trainers:
            _check(trainer in REFITTABLE, f"refit.trainers: {trainer!r} has no rerunnable recipe; "
                                          f"choose from {list(REFITTABLE)}.")
        _check(bool(self.merge_splits), "refit.merge_splits must name at least one split (e.g. [eval]).")
        for split in self.merge_splits:
            _check(split not in ("train", "unlabeled", "test"),
                   f"refit.merge_splits cannot contain {split!r}: only held-out labeled splits (e.g. eval) join train.")


class RefitSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        CHAMPION_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
    }
