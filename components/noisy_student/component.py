"""Noisy student component: a teacher pseudo-labels unlabeled images, noised students learn from both."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.noisy_student import executor, spec
from components.types import config_json


class NoisyStudent(base_component.BaseComponent):
    """Iterated self-training with noise (Xie et al., 2020).

    Takes a teacher `Model` (or trains one from `config.architecture`) and
    Examples with `train`, `eval` and `unlabeled` splits. Writes the best of
    teacher and students (by eval `selection_metric`) to `model`, with custom
    properties `beat_teacher` (0/1), `best_iteration`, `teacher_eval_*` and
    `iteration_<k>_*`, and the pseudo-labels of each iteration to
    `pseudo_labels` (split `iteration_<k>`, each record with provenance:
    kind, teacher model and confidence).

    Example:
        noisy_student = NoisyStudent(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            teacher_model=training.outputs["model"],
            config=NoisyStudentConfig(iterations=2, confidence_threshold=0.8, epochs=10),
        )
    """

    SPEC_CLASS = spec.NoisyStudentSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        teacher_model: Optional[types.BaseChannel] = None,
        config: Union[spec.NoisyStudentConfig, dict, str, None] = None,
        augmentation_policy: Optional[types.BaseChannel] = None,
        optimization_params: Optional[types.BaseChannel] = None,
    ):
        """`optimization_params`: OptimizationParams' output; its learning rate, moved to this config's batch size
        by the linear scaling rule, replaces `learning_rate` (batch size and epochs stay: the students train on
        labeled + pseudo-labeled images, a different pool than the range test's)."""
        config = config_json.coerce_config(spec.NoisyStudentConfig, config)
        super().__init__(
            spec=spec.NoisyStudentSpec(
                examples=examples,
                data_spec=data_spec,
                teacher_model=teacher_model,
                augmentation_policy=augmentation_policy,
                optimization_params=optimization_params,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
                pseudo_labels=types.Channel(type=standard_artifacts.Examples),
            )
        )
