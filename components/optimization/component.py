"""OptimizationParams component: learns batch size, learning rate and epoch count for a model on the data."""

from __future__ import annotations

from typing import Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from components.optimization import executor, spec
from components.types import artifacts, config_json


class OptimizationParams(base_component.BaseComponent):
    """Learns the batch size, learning rate and epochs Training uses, so a user never sets them.

    Batch size: the largest candidate that fits in memory and still gives
    enough steps per epoch for the train split's size. Learning rate: an LR
    range test at that batch size. Epochs: the best eval-loss epoch of one
    early-stopped run with both. Writes `optimization_params.json` (values,
    a reason for each, the LR curve) and `lr_range_test.png`; the values are
    also the artifact's MLMD custom properties `batch_size`,
    `learning_rate` and `epochs`. Wire the output into Training's
    `optimization_params` input; fields the user set explicitly win.

    Example:
        optimization = OptimizationParams(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=OptimizationConfig(architecture="small_cnn", max_epochs=30),
        )
        training = Training(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            optimization_params=optimization.outputs["optimization_params"],
        )
    """

    SPEC_CLASS = spec.OptimizationParamsSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.OptimizationConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.OptimizationConfig, config)
        super().__init__(
            spec=spec.OptimizationParamsSpec(
                examples=examples,
                data_spec=data_spec,
                config=config_json.config_to_json(config),
                optimization_params=types.Channel(type=artifacts.OptimizationParams),
            )
        )
