"""ImageTransform: decode, resize and normalization as a tf.Transform graph, statistics from Beam."""

from __future__ import annotations

from typing import Union

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts

from components.transform import executor, spec
from components.types import config_json


class ImageTransform(base_beam_component.BaseBeamComponent):
    """Analyzes the train split in Beam and writes a TransformGraph that Training and serving apply.

    Ours rather than the stock TFX `Transform`: the image size and channels
    come from the DataSpec, an artifact known only at run time, and no
    Schema artifact is needed. The output is an ordinary TransformGraph
    (`tft.TFTransformOutput(uri)` reads it). Only analysis runs in Beam; no
    transformed examples are materialized.

    Example:
        transform = ImageTransform(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=TransformConfig(normalize="per_channel"),
        )
        training = Training(..., transform_graph=transform.outputs["transform_graph"])
    """

    SPEC_CLASS = spec.TransformSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.TransformConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.TransformConfig, config)
        super().__init__(
            spec=spec.TransformSpec(
                examples=examples,
                data_spec=data_spec,
                config=config_json.config_to_json(config),
                transform_graph=types.Channel(type=standard_artifacts.TransformGraph),
            )
        )
