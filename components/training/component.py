"""Training component: a Keras 3 classifier on canonical examples."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.training import executor, spec
from components.types import config_json


class Training(base_component.BaseComponent):
    """Trains a built-in architecture or a user's `build_model(data_spec)` module.

    Example:
        training = Training(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=TrainingConfig(architecture="small_cnn", epochs=5),
        )
    """

    SPEC_CLASS = spec.TrainingSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.TrainingConfig, dict, str, None] = None,
        augmentation_policy: Optional[types.BaseChannel] = None,
        warm_start_model: Optional[types.BaseChannel] = None,
    ):
        config = config_json.coerce_config(spec.TrainingConfig, config)
        super().__init__(
            spec=spec.TrainingSpec(
                examples=examples,
                data_spec=data_spec,
                augmentation_policy=augmentation_policy,
                warm_start_model=warm_start_model,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
