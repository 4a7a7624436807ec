"""Domain adaptation component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.training.spec import TrainingConfig
from components.types import artifacts, features
from components.types.config_json import check as _check

# Input keys.
SOURCE_EXAMPLES_KEY = "source_examples"
DATA_SPEC_KEY = "data_spec"
TARGET_EXAMPLES_KEY = "target_examples"
TARGET_DATA_SPEC_KEY = "target_data_spec"
SOURCE_MODEL_KEY = "source_model"
# Output keys.
MODEL_KEY = "model"
# The picked model's confident target predictions as labeled Examples (split "train"), with provenance.
PSEUDO_LABELS_KEY = "pseudo_labels"
# Exec property keys.
CONFIG_KEY = "config"

SOURCE_ONLY = "source_only"
ADABN = "adabn"
SELF_TRAINING = "self_training"
CORAL = "coral"
DANN = "dann"
METHODS = (SOURCE_ONLY, ADABN, SELF_TRAINING, CORAL, DANN)
SUMMARY_FILE_NAME = "domain_adaptation_summary.json"
BEST_METHOD = "best_method"


@dataclasses.dataclass(frozen=True)
class DomainAdaptationConfig:
    """Which adaptations to try and how.

    Attributes:
      methods: any of METHODS, tried in order; each is scored on the target.
      default_method: the pick when the target has no labeled validation split
        (then, without target test labels either, the only method run); None:
        self_training when in `methods`, else the last method listed.
        Self-training (AdaBN, then confident target pseudo-labels) by default:
        on the MNIST-5k night-camera shift it reached 76.9% on night images
        where AdaBN alone reached 44.9%, DANN 58.2% and CORAL 54.7% (seed 0,
        benchmarks/results/domain_adaptation_night.md).
      architecture / module_file / source_epochs: the source model, when no
        source model artifact is given.
      target_unlabeled_split: target images used for adaptation (labels ignored).
      target_labeled_split: optional few target labels, added to the labeled
        training data of self-training and alignment when the split exists
        and is fully labeled; None never uses target labels for training.
      target_validation_split: labeled target split that picks the best method.
      target_test_split: labeled target split each method is reported on.
      confidence_threshold / balance_classes / self_training_rounds: target
        pseudo-labels of self-training (which starts from the AdaBN model).
      coral_weight / dann_weight: weight of each alignment loss. DANN is the
        touchier one: on the MNIST -> sklearn-digits benchmark 0.1 helped and
        0.3 collapsed the classifier.
      adabn_after_alignment: re-estimate BN statistics on the target after
        CORAL / DANN fine-tuning (their BN statistics mix both domains).
    """

    methods: Tuple[str, ...] = METHODS
    default_method: Optional[str] = None
    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    source_epochs: int = 10
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 5e-4
    seed: int = 0
    image_size: Optional[Tuple[int, int]] = None
    target_unlabeled_split: str = features.UNLABELED_SPLIT
    target_labeled_split: Optional[str] = features.TRAIN_SPLIT
    target_validation_split: str = features.EVAL_SPLIT
    target_test_split: str = features.TEST_SPLIT
    confidence_threshold: float = 0.9
    balance_classes: bool = True
    self_training_rounds: int = 2
    coral_weight: float = 1.0
    dann_weight: float = 0.1
    adabn_after_alignment: bool = True
    embedding_layer: Optional[str] = None
    verbose: int = 2

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
        unknown = [method for method in self.methods if method not in METHODS]
        _check(not unknown, f"Unknown adaptation method(s) {unknown}; choose from {METHODS}.")
        _check(bool(self.methods), "methods must name at least one method.")
        if self.default_method is None:  # self-training when tried, else the last (most adapting) method listed
            object.__setattr__(self, "default_method", SELF_TRAINING if SELF_TRAINING in self.methods
                               else self.methods[-1])
        _check(self.default_method in self.methods, f"default_method {self.default_method!r} is not in methods.")
        _check(0.0 <= self.confidence_threshold <= 1.0, "confidence_threshold must be in [0, 1].")
        _check(self.self_training_rounds >= 1, "self_training_rounds must be >= 1.")
        _check(self.coral_weight >= 0 and self.dann_weight >= 0, "coral_weight and dann_weight must be >= 0.")
        _check(self.batch_size >= 2, "batch_size must be >= 2 (CORAL needs covariances).")
        self.source_training_config()

    def source_training_config(self) -> TrainingConfig:
        return self.fine_tune_config(epochs=self.source_epochs, learning_rate=1e-3)

    def fine_tune_config(self, epochs: Optional[int] = None, learning_rate: Optional[float] = None,
                         seed_offset: int = 0) -> TrainingConfig:
        return TrainingConfig(
            architecture=self.architecture,
            module_file=self.module_file,
            epochs=epochs or self.epochs,
            batch_size=self.batch_size,
            learning_rate=learning_rate or self.learning_rate,
            seed=self.seed + seed_offset,
            image_size=self.image_size,
            distribution="default",
            verbose=self.verbose,
        )


class DomainAdaptationSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        SOURCE_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        TARGET_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        TARGET_DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec, optional=True),
        SOURCE_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        PSEUDO_LABELS_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }
