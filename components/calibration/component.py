"""Calibration component: a calibrated copy of a classifier, fitted on held-out data."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.calibration import executor, spec
from components.types import config_json


class Calibration(base_component.BaseComponent):
    """Temperature scaling and/or MAP calibration (ensembling with a class prior).

    Fits on the `eval` split, exports the model with a `CalibrationLayer`
    on its probabilities (model.keras + Format-Serving, like Training), and
    reports ECE, NLL and accuracy before and after, with reliability
    diagrams, in `summary.md` / `summary.json` and MLMD custom properties.
    With `parameters_from` (an earlier Calibration's output) the parameters
    are reused instead of fitted: a model refitted on train + eval has no
    held-out split left to fit them on.

    Example:
        calibration = Calibration(
            model=training.outputs["model"],
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=CalibrationConfig(method="temperature_map", prior="train"),
        )
    """

    SPEC_CLASS = spec.CalibrationSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.CalibrationConfig, dict, str, None] = None,
        parameters_from: Optional[types.BaseChannel] = None,
    ):
        config = config_json.coerce_config(spec.CalibrationConfig, config)
        super().__init__(
            spec=spec.CalibrationSpec(
                model=model,
                examples=examples,
                data_spec=data_spec,
                config=config_json.config_to_json(config),
                parameters_from=parameters_from,
                calibrated_model=types.Channel(type=standard_artifacts.Model),
            )
        )
