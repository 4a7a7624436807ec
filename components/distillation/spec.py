"""Distillation component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfx.types import component_spec, standard_artifacts

from components.training.spec import TrainingConfig
from components.types import artifacts, config_json

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
TEACHER_MODEL_KEY = "teacher_model"
OPTIMIZATION_PARAMS_KEY = "optimization_params"
# Output keys.
MODEL_KEY = "model"
# Exec property keys.
CONFIG_KEY = "config"


def _default_student() -> TrainingConfig:
    return TrainingConfig(architecture="tiny_cnn")


@dataclasses.dataclass(frozen=True)
class DistillationConfig:
    """How to distill.

    Attributes:
      student: the student's architecture (or module_file) and training
        hyperparameters; its label_smoothing is unused (soft targets replace
        it), its mixup/cutmix/class_weighting apply.
      temperature: T of the tempered softmaxes; higher exposes more of the
        teacher's "dark knowledge" about wrong classes. The default 2 (with
        soft_weight 0.5) won the MNIST-5k pilot of
        benchmarks/regularization_benchmark.py; T=4 / 0.9 lost accuracy there,
        since briefly trained teachers are already underconfident.
      soft_weight: weight of the teacher's soft targets against the hard
        labels, in [0, 1].
      use_unlabeled: also train on the `unlabeled` split (teacher targets only).
      generations: born-again rounds; generation g's teacher is generation
        g-1's student, and every generation's metrics are kept.
      same_architecture_as_teacher: self distillation: the student is a
        freshly initialized copy of the (first) teacher's architecture at the
        teacher's input size; `student.architecture` is then ignored.
    """

    student: TrainingConfig = dataclasses.field(default_factory=_default_student)
    temperature: float = 2.0
    soft_weight: float = 0.5
    use_unlabeled: bool = False
    generations: int = 1
    same_architecture_as_teacher: bool = False

    def __post_init__(self):
        student = self.student
        if isinstance(student, dict):
            student = config_json.config_from_dict(TrainingConfig, student)
        elif isinstance(student, str):
            student = config_json.config_from_json(TrainingConfig, student)
        if not isinstance(student, TrainingConfig):
            raise TypeError(
                f"DistillationConfig.student must be a TrainingConfig or dict, got {type(student).__name__}."
            )
        object.__setattr__(self, "student", student)
        _check(self.temperature > 0, f"temperature must be > 0, got {self.temperature}.")
        _check(0.0 <= self.soft_weight <= 1.0, f"soft_weight must be in [0, 1], got {self.soft_weight}.")
        _check(int(self.generations) >= 1, f"generations must be >= 1, got {self.generations}.")


def _check(condition: Any, message: str) -> None:
    if not condition:
        raise ValueError(f"DistillationConfig: {message}")


class DistillationSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        TEACHER_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        # OptimizationParams' output: learned batch_size / learning_rate / epochs replace the student's
        # values not in its explicit_fields (the student trains on the same labeled images the range test ran on).
        OPTIMIZATION_PARAMS_KEY: component_spec.ChannelParameter(type=artifacts.OptimizationParams, optional=True),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
