"""Distillation component: knowledge distillation and born-again self distillation."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, standard_artifacts

from components.distillation import executor, spec
from components.types import config_json


class Distillation(base_component.BaseComponent):
    """Trains a student on teacher soft targets (temperature, soft/hard weight), optionally on unlabeled images.

    Several teacher Model artifacts are averaged; with
    `same_architecture_as_teacher` and `generations > 1` it is born-again
    self distillation, each generation's metrics kept in the summary.

    Example:
        distillation = Distillation(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            teacher_model=training.outputs["model"],
            config=DistillationConfig(
                student=TrainingConfig(architecture="tiny_cnn", epochs=5),
                temperature=4.0,
                soft_weight=0.9,
                use_unlabeled=True,
            ),
        )
    """

    SPEC_CLASS = spec.DistillationSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        teacher_model: Union[types.BaseChannel, Sequence[types.BaseChannel]],
        config: Union[spec.DistillationConfig, dict, str, None] = None,
        optimization_params: Optional[types.BaseChannel] = None,
    ):
        """Args: `teacher_model` is one channel of Model artifacts or a list of channels (joined with a union);
        `optimization_params`: OptimizationParams' output, whose learned values replace the student's batch size,
        learning rate and epochs except those in `student.explicit_fields`."""
        config = config_json.coerce_config(spec.DistillationConfig, config)
        if isinstance(teacher_model, (list, tuple)):
            teacher_model = channel.union(teacher_model)
        super().__init__(
            spec=spec.DistillationSpec(
                examples=examples,
                data_spec=data_spec,
                teacher_model=teacher_model,
                optimization_params=optimization_params,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
