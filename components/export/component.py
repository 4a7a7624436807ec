"""Export component: a trained classifier as SavedModel, TFLite (float, int8) and ONNX, each checked by running it."""

from __future__ import annotations

from typing import Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.export import executor, spec
from components.types import config_json


class Export(base_component.BaseComponent):
    """Writes the configured formats into a Model artifact and checks each against the Keras model.

    The output artifact holds `model.keras`, `Format-Serving/` (saved_model,
    what the stock TFX Pusher pushes), `model.tflite`, `model_int8.tflite`,
    `model.onnx` (as configured) and `export_report.json`. Each file is run
    on held-out images (TFLite interpreter, onnxruntime, the SavedModel
    signature) next to the Keras model; max/mean |p diff|, accuracy and
    accuracy delta per format become MLMD custom properties
    `<format>_max_prob_diff`, `<format>_accuracy_delta`, ... and
    `export_parity_ok` (1 when every format is within tolerance).

    Example:
        export = Export(
            model=training.outputs["model"],
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=ExportConfig(formats=("saved_model", "tflite", "tflite_int8", "onnx")),
        )
        pusher = tfx.components.Pusher(
            model=export.outputs["exported_model"],
            model_blessing=evaluation.outputs["blessing"],
            push_destination=...,
        )
    """

    SPEC_CLASS = spec.ExportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.ExportConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.ExportConfig, config)
        super().__init__(
            spec=spec.ExportSpec(
                model=model,
                examples=examples,
                data_spec=data_spec,
                config=config_json.config_to_json(config),
                exported_model=types.Channel(type=standard_artifacts.Model),
            )
        )
