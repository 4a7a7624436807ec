"""Training component: a Keras 3 classifier on canonical examples."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel_utils, standard_artifacts

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
        synthetic_examples: Union[types.BaseChannel, Sequence[types.BaseChannel], None] = None,
        blend_report: Optional[types.BaseChannel] = None,
        optimization_params: Optional[types.BaseChannel] = None,
        transform_graph: Optional[types.BaseChannel] = None,
    ):
        """`blend_report`: BlendSearch's report; its chosen ratio replaces config.synthetic_ratio at run time.

        `optimization_params`: OptimizationParams' output; its learned batch_size, learning_rate and epochs
        replace the config's at run time, except fields named in config.explicit_fields.

        `transform_graph`: ImageTransform's output; training reads raw examples through it and the
        SavedModel serves raw image bytes through it (components/transform).
        """
        config = config_json.coerce_config(spec.TrainingConfig, config)
        if isinstance(synthetic_examples, (list, tuple)):  # Several generators: one union channel.
            synthetic_examples = channel_utils.union(synthetic_examples) if synthetic_examples else None
        if config.synthetic_ratio > 0 and synthetic_examples is None:
            raise ValueError(f"synthetic_ratio={config.synthetic_ratio} needs a synthetic_examples input.")
        if blend_report is not None and synthetic_examples is None:
            raise ValueError("blend_report sets the synthetic ratio and needs a synthetic_examples input.")
        super().__init__(
            spec=spec.TrainingSpec(
                examples=examples,
                data_spec=data_spec,
                augmentation_policy=augmentation_policy,
                warm_start_model=warm_start_model,
                synthetic_examples=synthetic_examples,
                blend_report=blend_report,
                optimization_params=optimization_params,
                transform_graph=transform_graph,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
