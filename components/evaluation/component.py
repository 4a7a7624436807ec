"""The Evaluation TFX component."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.evaluation import executor
from components.evaluation.spec import EvaluationConfig, EvaluationSpec, as_config


class Evaluation(base_component.BaseComponent):
    """Scores a Keras model on held-out examples and decides its blessing.

    Writes metrics (accuracy, top-k, per-class precision/recall/F1, confusion
    matrix, calibration error, NLL; subset accuracy and mAP for multilabel),
    a markdown summary and plots to `evaluation`, and BLESSED / NOT_BLESSED
    to `blessing` exactly like TFX Evaluator, so Pusher and `tfx.dsl.Cond`
    read it unchanged. Scalar metrics are MLMD custom properties of both
    outputs.

    Example:

        evaluation = Evaluation(
            examples=data_translation.outputs["examples"],
            data_spec=data_translation.outputs["data_spec"],
            model=training.outputs["model"],
            baseline_model=latest_blessed_model.outputs["model"],
            config=EvaluationConfig(
                thresholds={"accuracy": 0.9, "expected_calibration_error": 0.05},
                min_improvement_over_baseline={"accuracy": -0.01},
            ),
        )
    """

    SPEC_CLASS = EvaluationSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        model: types.BaseChannel,
        baseline_model: Optional[types.BaseChannel] = None,
        config: Optional[Union[EvaluationConfig, Mapping[str, Any]]] = None,
    ):
        """Builds the component; the config is validated here, not on the cluster.

        Args:
          examples: canonical `Examples` with a 'test' or 'eval' split.
          data_spec: the `DataSpec` of those examples.
          model: `Model` with `model.keras` (probability outputs).
          baseline_model: optional `Model` to compare against.
          config: `EvaluationConfig` or a mapping of its fields (YAML).
        """
        spec = EvaluationSpec(
            examples=examples,
            data_spec=data_spec,
            model=model,
            baseline_model=baseline_model,
            config=as_config(config).to_json(),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        )
        super().__init__(spec=spec)
