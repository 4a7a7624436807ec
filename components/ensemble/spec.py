"""Ensemble component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses

from tfx.types import component_spec, standard_artifacts

from components.training.spec import TrainingConfig
from components.types import artifacts, config_json

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
MODELS_KEY = "models"
# Output keys.
MODEL_KEY = "model"
# Exec property keys.
CONFIG_KEY = "config"


@dataclasses.dataclass(frozen=True)
class EnsembleConfig:
    """How to build the ensemble.

    Attributes:
      num_members: members to train when no `models` are given (seeds
        `member.seed + i`); ignored when models are given.
      member: architecture and training hyperparameters of each member.
      batch_size: images per prediction batch when scoring.
    """

    num_members: int = 3
    member: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    batch_size: int = 64

    def __post_init__(self):
        member = self.member
        if isinstance(member, dict):
            member = config_json.config_from_dict(TrainingConfig, member)
        if not isinstance(member, TrainingConfig):
            raise TypeError(f"EnsembleConfig.member must be a TrainingConfig or dict, got {type(member).__name__}.")
        object.__setattr__(self, "member", member)
        if int(self.num_members) < 1:
            raise ValueError(f"EnsembleConfig.num_members must be >= 1, got {self.num_members}.")
        if int(self.batch_size) < 1:
            raise ValueError(f"EnsembleConfig.batch_size must be >= 1, got {self.batch_size}.")


class EnsembleSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        MODELS_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
