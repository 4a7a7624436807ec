"""Calibration component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional

from tfx.types import component_spec, standard_artifacts

from components.calibration.calibration import METHODS, PRIORS, TEMPERATURE, UNIFORM_PRIOR
from components.types import artifacts, features

# Input keys.
MODEL_KEY = "model"
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
# Optional input: a calibrated model whose fitted parameters are reused (a refitted model has no held-out split
# left to fit on; its recipe's parameters, fitted before refit, are the honest ones).
PARAMETERS_FROM_KEY = "parameters_from"
# Output keys.
CALIBRATED_MODEL_KEY = "calibrated_model"
# Exec property keys.
CONFIG_KEY = "config"

RELIABILITY_BEFORE_FILE_NAME = "reliability_before.png"
RELIABILITY_AFTER_FILE_NAME = "reliability_after.png"


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
    """How to calibrate.

    Attributes:
      method: `temperature` (temperature scaling), `map` (ensemble with a
        class prior, weight fitted) or `temperature_map` (both, fitted
        alternately).
      prior: `uniform` or `train` (class frequencies of the train split from
        the DataSpec); used by the MAP methods.
      fit_split: held-out split the parameters are fitted on.
      report_split: split the before/after metrics are reported on; None
        picks `test` when the Examples have it, else `fit_split` (then the
        report is optimistic, and the summary says so).
      batch_size: images per prediction batch.
      ece_bins: equal-width confidence bins of the calibration error.
      check_folds: the fitted parameters are kept only when they lower the
        NLL out of fold beyond the noise: fitted on all but one of this many
        folds of `fit_split`, scored on the remaining one, per image, with a
        one-sided 95% paired bootstrap bound; otherwise the model is kept
        uncalibrated (temperature 1). 0 keeps whatever was fitted.
      seed: the folds' and the bootstrap's seed.
    """

    method: str = TEMPERATURE
    prior: str = UNIFORM_PRIOR
    fit_split: str = features.EVAL_SPLIT
    report_split: Optional[str] = None
    batch_size: int = 64
    ece_bins: int = 15
    check_folds: int = 5
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"CalibrationConfig.method must be one of {METHODS}, got {self.method!r}.")
        if self.prior not in PRIORS:
            raise ValueError(f"CalibrationConfig.prior must be one of {PRIORS}, got {self.prior!r}.")
        for name in ("fit_split", "report_split"):
            value = getattr(self, name)
            if value == features.UNLABELED_SPLIT or (value is not None and not value):
                raise ValueError(f"CalibrationConfig.{name} must name a labeled split, got {value!r}.")
        for name in ("batch_size", "ece_bins"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"CalibrationConfig.{name} must be >= 1, got {getattr(self, name)}.")
        if self.check_folds == 1 or self.check_folds < 0:
            raise ValueError(f"CalibrationConfig.check_folds must be 0 (no check) or >= 2, got {self.check_folds}.")


class CalibrationSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        PARAMETERS_FROM_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {CALIBRATED_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
