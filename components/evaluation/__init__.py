"""Evaluation: metrics, calibration, blessing and plots for classification models.

Public API (imported lazily, so `components.evaluation.metrics` and friends
stay usable without loading TFX or TensorFlow):

- `Evaluation`, `EvaluationConfig`, `EvaluationSpec`: the TFX component.
- `evaluate_model`, `collect_predictions`: score a Keras model on a dataset.
- modules `metrics`, `blessing`, `plots`, `report`: the plain math.
"""

import importlib

_EXPORTS = {
    "Evaluation": "components.evaluation.component",
    "EvaluationConfig": "components.evaluation.spec",
    "EvaluationSpec": "components.evaluation.spec",
    "Executor": "components.evaluation.executor",
    "evaluate_model": "components.evaluation.evaluation",
    "collect_predictions": "components.evaluation.evaluation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
