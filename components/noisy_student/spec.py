"""Noisy student component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.contrastive import views
from components.evaluation import metrics as metric_names
from components.pseudo_labels.selection import MODES
from components.training.spec import OPTIMIZERS, SCHEDULES, TrainingConfig
from components.types import artifacts, features
from components.types.config_json import check as _check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
TEACHER_MODEL_KEY = "teacher_model"
AUGMENTATION_POLICY_KEY = "augmentation_policy"
OPTIMIZATION_PARAMS_KEY = "optimization_params"
# Output keys.
MODEL_KEY = "model"
PSEUDO_LABELS_KEY = "pseudo_labels"
# Exec property keys.
CONFIG_KEY = "config"

SUMMARY_FILE_NAME = "noisy_student_summary.json"
PROGRESS_DIR_NAME = "progress"
BEAT_TEACHER = "beat_teacher"
BEST_ITERATION = "best_iteration"


def pseudo_split_name(iteration: int) -> str:
    """Split of the pseudo_labels Examples written by the teacher of `iteration` (1-based)."""
    return f"iteration_{iteration}"


@dataclasses.dataclass(frozen=True)
class NoisyStudentConfig:
    """How to pseudo-label and train noised students.

    Attributes:
      iterations: K; each student becomes the next teacher.
      mode: `hard` (one-hot) or `soft` (teacher probabilities) pseudo-labels.
      confidence_threshold: unlabeled images below it get no pseudo-label.
      balance_classes / images_per_class: equalize pseudo-labels per class
        (duplicate or keep the most confident); default count: the mean.
      architecture / module_file: the teacher's, when no teacher model is given.
      student_architecture / student_module_file: a different student; by
        default the student clones the teacher's architecture.
      teacher_epochs / epochs: training epochs of the teacher / each student.
      init_from_teacher: start each student from its teacher's weights (layers
        with the same name and shape) instead of a fresh initialisation (the
        paper's choice); far cheaper when training time is short.
      dropout: rate of a Dropout the student gets before its head (on top of
        any dropout the architecture already has).
      stochastic_depth: drop rate of residual branches (architectures with Add).
      noise_steps: augment_ops `(op, magnitude, probability)` strong
        augmentation (ignored when an AugmentationPolicy artifact is wired in).
      selection_metric: eval metric that picks the best iteration.
      work_dir: where resumable progress (prediction chunks, finished
        iterations) is kept; default `<model uri>/progress`.
    """

    iterations: int = 2
    mode: str = "hard"
    confidence_threshold: float = 0.8
    balance_classes: bool = True
    images_per_class: Optional[int] = None
    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    student_architecture: Optional[str] = None
    student_module_file: Optional[str] = None
    teacher_epochs: int = 10
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    image_size: Optional[Tuple[int, int]] = None
    init_from_teacher: bool = False
    dropout: float = 0.3
    stochastic_depth: float = 0.0
    noise_steps: Tuple[Tuple[str, float, float], ...] = views.STRONG_NOISE_STEPS
    unlabeled_split: str = features.UNLABELED_SPLIT
    selection_metric: str = metric_names.ACCURACY
    prediction_batch_size: int = 256
    chunk_batches: int = 8
    work_dir: Optional[str] = None
    verbose: int = 2

    def __post_init__(self):
        _check(self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}.")
        _check(self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}.")
        _check(0.0 <= self.confidence_threshold <= 1.0, "confidence_threshold must be in [0, 1].")
        _check(self.images_per_class is None or self.images_per_class >= 1, "images_per_class must be >= 1.")
        _check(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}.")
        _check(0.0 <= self.stochastic_depth < 1.0, f"stochastic_depth must be in [0, 1), got {self.stochastic_depth}.")
        _check(self.teacher_epochs >= 1, "teacher_epochs must be >= 1.")
        _check(self.prediction_batch_size >= 1 and self.chunk_batches >= 1, "prediction batching must be >= 1.")
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        _check(self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {self.schedule!r}.")
        _check(
            self.selection_metric in metric_names.CLASSIFICATION_METRICS,
            f"selection_metric must be one of {metric_names.CLASSIFICATION_METRICS}, got {self.selection_metric!r}.",
        )
        object.__setattr__(self, "noise_steps", views.validate_steps(self.noise_steps))
        self.teacher_training_config()
        self.student_training_config(0)

    def _training_config(self, architecture, module_file, epochs: int, seed: int) -> TrainingConfig:
        return TrainingConfig(
            architecture=architecture or "small_cnn",
            module_file=module_file,
            epochs=epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            schedule=self.schedule,
            optimizer=self.optimizer,
            weight_decay=self.weight_decay,
            seed=seed,
            image_size=self.image_size,
            distribution="default",
            verbose=self.verbose,
        )

    def teacher_training_config(self) -> TrainingConfig:
        return self._training_config(self.architecture, self.module_file, self.teacher_epochs, self.seed)

    def student_training_config(self, iteration: int) -> TrainingConfig:
        return self._training_config(
            self.student_architecture, self.student_module_file, self.epochs, self.seed + 1000 * iteration
        )

    @property
    def student_has_own_architecture(self) -> bool:
        return bool(self.student_architecture or self.student_module_file)


class NoisyStudentSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        TEACHER_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
        AUGMENTATION_POLICY_KEY: component_spec.ChannelParameter(type=artifacts.AugmentationPolicy, optional=True),
        # OptimizationParams' output: its learning rate, scaled to this config's batch size, replaces learning_rate.
        OPTIMIZATION_PARAMS_KEY: component_spec.ChannelParameter(type=artifacts.OptimizationParams, optional=True),
    }
    OUTPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        PSEUDO_LABELS_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }
