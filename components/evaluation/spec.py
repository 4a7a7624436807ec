"""Keys, configuration and ComponentSpec of the Evaluation component."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Optional

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.evaluation import blessing
from components.types import artifacts, features
from components.types import config_json

EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
MODEL_KEY = "model"
BASELINE_MODEL_KEY = "baseline_model"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
CONFIG_KEY = "config"

METRICS_FILE_NAME = "metrics.json"
BASELINE_METRICS_FILE_NAME = "baseline_metrics.json"
COMPARISON_FILE_NAME = "comparison.json"
BLESSING_FILE_NAME = "blessing.json"
SUMMARY_FILE_NAME = "summary.md"
CONFUSION_MATRIX_FILE_NAME = "confusion_matrix.png"
RELIABILITY_DIAGRAM_FILE_NAME = "reliability_diagram.png"


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """What to evaluate and what a model must reach to be blessed.

    Attributes:
      split: split to evaluate; None picks 'test' when the Examples have it,
        else 'eval' (decided at run time from the artifact's split names).
      batch_size: images per prediction batch.
      top_k: k of top-k accuracy, clipped to the number of classes.
      ece_bins: equal-width confidence bins for calibration error.
      thresholds: {metric: bound}; a number is a minimum for
        higher-is-better metrics (accuracy: 0.9) and a maximum for
        lower-is-better ones (nll, expected_calibration_error, brier_score,
        hamming_loss); or {metric: {'min': x, 'max': y}}. Stored normalized
        to the explicit form.
      min_improvement_over_baseline: {metric: delta}; the candidate must beat
        the baseline by at least delta in the metric's better direction
        (negative delta = the largest tolerated regression). Skipped without
        a baseline model.
      beat_trivial_baselines: require the model to beat the trivial
        baselines beyond the noise of the split (classification: the
        one-sided Wilson lower bound of accuracy > max(majority-class
        accuracy, 1/K), single-class data never blessed; multilabel: a paired
        bound on the Hamming-error gain over the per-label majority constant
        > 0). None (default): applied unless thresholds are set or a
        baseline model is compared against, so a model is never blessed
        merely because nothing was configured; True: always; False: never.
      blessing_confidence: one-sided confidence level of those bounds.
      log_every_n_batches: progress line period.
    """

    split: Optional[str] = None
    batch_size: int = 64
    top_k: int = 5
    ece_bins: int = 15
    thresholds: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    min_improvement_over_baseline: Mapping[str, float] = dataclasses.field(default_factory=dict)
    log_every_n_batches: int = 10
    beat_trivial_baselines: Optional[bool] = None
    blessing_confidence: float = blessing.DEFAULT_CONFIDENCE

    def __post_init__(self):
        if self.split is not None and (not isinstance(self.split, str) or not self.split):
            raise ValueError(f"EvaluationConfig.split must be a non-empty split name or None; got {self.split!r}.")
        if self.split == features.UNLABELED_SPLIT:
            raise ValueError("EvaluationConfig.split cannot be 'unlabeled': evaluation needs labels.")
        for name in ("batch_size", "top_k", "ece_bins", "log_every_n_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EvaluationConfig.{name} must be an integer >= 1; got {value!r}.")
        if self.beat_trivial_baselines is not None and not isinstance(self.beat_trivial_baselines, bool):
            raise ValueError(
                "EvaluationConfig.beat_trivial_baselines must be true, false or null; "
                f"got {self.beat_trivial_baselines!r}."
            )
        confidence = self.blessing_confidence
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1.0:
            raise ValueError(f"EvaluationConfig.blessing_confidence must be a number in [0.5, 1); got {confidence!r}.")
        object.__setattr__(self, "thresholds", blessing.normalize_thresholds(self.thresholds))
        object.__setattr__(
            self,
            "min_improvement_over_baseline",
            blessing.normalize_min_improvement(self.min_improvement_over_baseline),
        )

    def to_json(self) -> str:
        return config_json.config_to_json(self)

    @classmethod
    def from_dict(cls, raw) -> "EvaluationConfig":
        return config_json.config_from_dict(cls, dict(raw))

    @classmethod
    def from_json(cls, text: str) -> "EvaluationConfig":
        return config_json.config_from_json(cls, text)


def as_config(config: Optional[Any]) -> EvaluationConfig:
    """Accepts an EvaluationConfig, a plain mapping (e.g. from YAML) or None."""
    if config is None:
        return EvaluationConfig()
    if isinstance(config, EvaluationConfig):
        return config
    if isinstance(config, Mapping):
        return EvaluationConfig.from_dict(config)
    raise TypeError(f"config must be an EvaluationConfig or a mapping; got {type(config).__name__}.")


class EvaluationSpec(types.ComponentSpec):
    """Evaluation component spec."""

    PARAMETERS = {CONFIG_KEY: ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: ChannelParameter(type=artifacts.DataSpec),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
