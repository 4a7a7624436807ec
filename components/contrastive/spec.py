"""Contrastive pretraining component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.contrastive import views
from components.training.spec import OPTIMIZERS, SCHEDULES, TrainingConfig
from components.types import artifacts, features
from components.types.config_json import check as _check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
AUGMENTATION_POLICY_KEY = "augmentation_policy"
# Output keys.
MODEL_KEY = "model"
# Exec property keys.
CONFIG_KEY = "config"

METHODS = ("simclr", "barlow_twins")
SUMMARY_FILE_NAME = "contrastive_summary.json"
LINEAR_PROBE_ACCURACY = "linear_probe_accuracy"


@dataclasses.dataclass(frozen=True)
class ContrastiveConfig:
    """How to pretrain a backbone on unlabeled images.

    Attributes:
      method: `simclr` (NT-Xent) or `barlow_twins`.
      architecture / module_file: the classifier whose backbone is
        pretrained, exactly as the training component builds it (so its
        warm start finds the same layer names).
      embedding_layer: layer whose output is the representation; default:
        `embedding`, else the head's input.
      pretrain_splits: splits whose images (labels ignored) are pretrained on;
        missing splits are skipped.
      view_steps: `(op, magnitude, probability)` augment_ops steps that make
        each view (ignored when an AugmentationPolicy artifact is wired in).
      temperature: NT-Xent temperature.
      redundancy_weight: Barlow Twins off-diagonal weight (lambda).
      probe_regularization: inverse L2 strength `C` of the logistic-regression
        linear probe.
      pretrained_weights: a local weights file for the classifier's nested
        `backbone` layer (a backbone architecture, or a module-file model with
        a layer so named), as `TrainingConfig.pretrained_weights`: the encoder
        starts from it, then contrastive pretraining continues; never
        downloaded.
    """

    method: str = "simclr"
    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    embedding_layer: Optional[str] = None
    projection_dim: int = 64
    projection_hidden_dim: int = 128
    temperature: float = 0.2
    redundancy_weight: float = 5e-3
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    image_size: Optional[Tuple[int, int]] = None
    pretrain_splits: Tuple[str, ...] = (features.TRAIN_SPLIT, features.UNLABELED_SPLIT)
    view_steps: Tuple[Tuple[str, float, float], ...] = views.SIMCLR_VIEW_STEPS
    probe_regularization: float = 1.0
    verbose: int = 2
    pretrained_weights: Optional[str] = None

    def __post_init__(self):
        _check(self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}.")
        _check(self.projection_dim >= 1 and self.projection_hidden_dim >= 1, "projection sizes must be >= 1.")
        _check(self.temperature > 0, f"temperature must be > 0, got {self.temperature}.")
        _check(self.redundancy_weight >= 0, f"redundancy_weight must be >= 0, got {self.redundancy_weight}.")
        _check(self.batch_size >= 2, f"batch_size must be >= 2 (the losses compare samples), got {self.batch_size}.")
        _check(self.probe_regularization > 0, "probe_regularization must be > 0.")
        _check(bool(self.pretrain_splits), "pretrain_splits must name at least one split.")
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        _check(self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {self.schedule!r}.")
        object.__setattr__(self, "pretrain_splits", tuple(self.pretrain_splits))
        object.__setattr__(self, "view_steps", views.validate_steps(self.view_steps))
        self.training_config()  # Validates architecture, epochs, learning rate, image size, pretrained_weights.

    def training_config(self, epochs: Optional[int] = None) -> TrainingConfig:
        """The same architecture/optimizer settings as a TrainingConfig (shared builders and optimizers)."""
        return TrainingConfig(
            architecture=self.architecture,
            module_file=self.module_file,
            epochs=epochs or self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            schedule=self.schedule,
            optimizer=self.optimizer,
            weight_decay=self.weight_decay,
            seed=self.seed,
            image_size=self.image_size,
            distribution="default",
            verbose=self.verbose,
            pretrained_weights=self.pretrained_weights,
        )


class ContrastiveSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        AUGMENTATION_POLICY_KEY: component_spec.ChannelParameter(type=artifacts.AugmentationPolicy, optional=True),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
