"""OptimizationParams component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.types import artifacts
from components.types.config_json import check as _check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
# Output keys.
OPTIMIZATION_PARAMS_KEY = "optimization_params"
# Exec property keys.
CONFIG_KEY = "config"

# Files under the output artifact's URI (the JSON file name is shared: components/types/artifacts.py).
OPTIMIZATION_PARAMS_FILE_NAME = artifacts.OPTIMIZATION_PARAMS_FILE_NAME
LR_RANGE_PLOT_FILE_NAME = "lr_range_test.png"

OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclasses.dataclass(frozen=True)
class OptimizationConfig:
    """What to learn the batch size, learning rate and epoch count for, and within what budget.

    The model is given as in TrainingConfig: a built-in `architecture` or a
    `module_file` with `build_model(data_spec)`; the learned values are for
    that model, this data and this `optimizer`.

    Attributes:
      architecture: built-in architecture name (components.training.models).
      module_file: path of a module with `build_model(data_spec[, image_size])`;
        wins over `architecture`.
      image_size: (height, width) images are resized to; default: the largest
        image size in the DataSpec (as Training).
      optimizer: the optimizer Training will use (`adam`, `adamw`, `sgd`); the
        best learning rate depends on it.
      seed: seeds model initialisation, shuffling and the probe batches.
      batch_sizes: the candidate ladder, tried from the largest down.
      min_steps_per_epoch: the data rule for the batch size: the largest
        candidate that still gives this many steps per epoch on the train
        split (the smallest candidate when none does).
      lr_min, lr_max: the range the LR range test sweeps exponentially.
      range_test_steps: steps of the range test (its compute budget); the
        test stops earlier when the loss diverges.
      max_epochs: cap of the early-stopping run (its compute budget).
      min_epochs: floor of the chosen epoch count.
      patience: epochs without eval-loss improvement before the
        early-stopping run stops; None scales it to the run (see
        `epochs.auto_patience`).
      trust_module_code: as TrainingConfig.trust_module_code: allow a
        module_file model with Lambda layers.
    """

    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    image_size: Optional[Tuple[int, int]] = None
    optimizer: str = "adam"
    seed: int = 0
    batch_sizes: Tuple[int, ...] = (16, 32, 64, 128, 256)
    min_steps_per_epoch: int = 30
    lr_min: float = 1e-5
    lr_max: float = 1.0
    range_test_steps: int = 200
    max_epochs: int = 40
    min_epochs: int = 3
    patience: Optional[int] = None
    trust_module_code: bool = False

    def __post_init__(self):
        if self.module_file is None:
            from components.training.models import ARCHITECTURES

            _check(
                self.architecture in ARCHITECTURES,
                f"OptimizationConfig.architecture {self.architecture!r} is unknown; built-in ones are "
                f"{sorted(ARCHITECTURES)} (or give a module_file).",
            )
        _check(
            self.optimizer in OPTIMIZERS,
            f"OptimizationConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.",
        )
        _check(
            len(self.batch_sizes) >= 1 and all(int(size) >= 1 for size in self.batch_sizes),
            f"OptimizationConfig.batch_sizes must be a non-empty list of sizes >= 1, got {self.batch_sizes}.",
        )
        _check(
            self.min_steps_per_epoch >= 1,
            f"OptimizationConfig.min_steps_per_epoch must be >= 1, got {self.min_steps_per_epoch}.",
        )
        _check(
            0 < self.lr_min < self.lr_max,
            f"OptimizationConfig needs 0 < lr_min < lr_max, got lr_min={self.lr_min}, lr_max={self.lr_max}.",
        )
        _check(
            self.range_test_steps >= 10,
            f"OptimizationConfig.range_test_steps must be >= 10, got {self.range_test_steps}.",
        )
        _check(self.min_epochs >= 1, f"OptimizationConfig.min_epochs must be >= 1, got {self.min_epochs}.")
        _check(
            self.max_epochs >= self.min_epochs,
            f"OptimizationConfig.max_epochs ({self.max_epochs}) must be >= min_epochs ({self.min_epochs}).",
        )
        _check(
            self.patience is None or self.patience >= 1,
            f"OptimizationConfig.patience must be >= 1 (or null: scaled to the run), got {self.patience}.",
        )
        if self.image_size is not None:
            _check(
                len(self.image_size) == 2 and all(int(v) > 0 for v in self.image_size),
                f"OptimizationConfig.image_size must be (height, width) > 0, got {self.image_size}.",
            )


class OptimizationParamsSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
    }
    OUTPUTS = {OPTIMIZATION_PARAMS_KEY: component_spec.ChannelParameter(type=artifacts.OptimizationParams)}
