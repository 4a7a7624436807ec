"""Blessing decision: value thresholds and change-versus-baseline checks.

A model is blessed only when every configured check passes. A metric that is
missing or NaN fails its check (a check that cannot be evaluated never
passes). Without a baseline model the change checks are skipped and say so,
like TFX Evaluator's "rubber stamp" for the first model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Mapping, Optional, Tuple, Union

from components.evaluation import metrics as metric_names

MIN = "min"
MAX = "max"
ThresholdSpec = Union[float, int, Mapping[str, float]]


def normalize_thresholds(raw: Optional[Mapping[str, ThresholdSpec]]) -> Dict[str, Dict[str, float]]:
    """Turns user thresholds into {metric: {'min': x} / {'max': y} / both}.

    A bare number is a minimum for higher-is-better metrics (accuracy: 0.9)
    and a maximum for lower-is-better ones (nll: 0.5); a mapping states
    `min`/`max` explicitly.

    Raises:
      ValueError: unknown metric, unknown bound key, non-numeric or crossed bounds.
    """
    normalized: Dict[str, Dict[str, float]] = {}
    for metric, spec in (raw or {}).items():
        _check_metric_name(metric, "thresholds")
        if isinstance(spec, Mapping):
            unknown = set(spec) - {MIN, MAX}
            if unknown or not spec:
                raise ValueError(
                    f"thresholds[{metric!r}] must have keys 'min' and/or 'max'; got {sorted(spec)}."
                )
            bounds = {key: _as_float(value, f"thresholds[{metric!r}][{key!r}]") for key, value in spec.items()}
        else:
            key = MIN if metric_names.higher_is_better(metric) else MAX
            bounds = {key: _as_float(spec, f"thresholds[{metric!r}]")}
        if MIN in bounds and MAX in bounds and bounds[MIN] > bounds[MAX]:
            raise ValueError(f"thresholds[{metric!r}]: min {bounds[MIN]} exceeds max {bounds[MAX]}.")
        normalized[metric] = dict(sorted(bounds.items()))
    return normalized


def normalize_min_improvement(raw: Optional[Mapping[str, float]]) -> Dict[str, float]:
    """Validates {metric: minimum improvement over the baseline}.

    Improvement is measured in the metric's better direction, so
    `{'accuracy': -0.01}` allows accuracy to drop by at most 0.01 and
    `{'nll': 0.0}` demands NLL not rise at all.
    """
    normalized = {}
    for metric, value in (raw or {}).items():
        _check_metric_name(metric, "min_improvement_over_baseline")
        normalized[metric] = _as_float(value, f"min_improvement_over_baseline[{metric!r}]")
    return normalized


@dataclasses.dataclass(frozen=True)
class Check:
    metric: str
    kind: str  # 'min', 'max' or 'baseline'
    passed: bool
    message: str


@dataclasses.dataclass(frozen=True)
class BlessingDecision:
    blessed: bool
    checks: Tuple[Check, ...]
    notes: Tuple[str, ...] = ()

    @property
    def reasons(self) -> str:
        """One line per failed check, or why the model passed."""
        failed = [check.message for check in self.checks if not check.passed]
        if failed:
            lines = failed
        elif self.checks:
            lines = [f"All {len(self.checks)} checks passed."]
        else:
            lines = ["No thresholds configured; blessed by default."]
        return "\n".join(lines + list(self.notes))

    def to_dict(self) -> Dict[str, object]:
        return {
            "blessed": self.blessed,
            "reasons": self.reasons,
            "checks": [dataclasses.asdict(check) for check in self.checks],
            "notes": list(self.notes),
        }


def improvement(metric: str, candidate: float, baseline: float) -> float:
    """How much better the candidate is, positive when better in the metric's direction."""
    return candidate - baseline if metric_names.higher_is_better(metric) else baseline - candidate


def decide_blessing(
    metrics: Mapping[str, float],
    thresholds: Mapping[str, Mapping[str, float]],
    min_improvement: Mapping[str, float],
    baseline_metrics: Optional[Mapping[str, float]] = None,
) -> BlessingDecision:
    """Runs every check.

    Args:
      metrics: the candidate's scalar metrics.
      thresholds: output of `normalize_thresholds`.
      min_improvement: output of `normalize_min_improvement`.
      baseline_metrics: the baseline's scalar metrics, or None without a baseline.
    """
    checks = []
    for metric, bounds in thresholds.items():
        value = metrics.get(metric)
        for kind, bound in bounds.items():
            problem = _unusable(metric, value, "candidate")
            if problem:
                checks.append(Check(metric, kind, False, problem))
                continue
            passed = value >= bound if kind == MIN else value <= bound
            relation = ">=" if kind == MIN else "<="
            verdict = "passes" if passed else "FAILS"
            checks.append(Check(metric, kind, passed, f"{metric} = {value:.4f} {verdict} {relation} {bound:.4f}"))
    notes = []
    if min_improvement and baseline_metrics is None:
        notes.append("No baseline model: change-versus-baseline checks skipped.")
    for metric, minimum in min_improvement.items() if baseline_metrics is not None else ():
        candidate, baseline = metrics.get(metric), baseline_metrics.get(metric)
        problem = _unusable(metric, candidate, "candidate") or _unusable(metric, baseline, "baseline")
        if problem:
            checks.append(Check(metric, "baseline", False, problem))
            continue
        gain = improvement(metric, candidate, baseline)
        passed = gain >= minimum
        verdict = "passes" if passed else "FAILS"
        checks.append(
            Check(
                metric,
                "baseline",
                passed,
                f"{metric}: candidate {candidate:.4f} vs baseline {baseline:.4f}, improvement "
                f"{gain:+.4f} {verdict} minimum {minimum:+.4f}",
            )
        )
    return BlessingDecision(all(check.passed for check in checks), tuple(checks), tuple(notes))


def _unusable(metric: str, value: Optional[float], which: str) -> Optional[str]:
    if value is None:
        return f"{metric} is not computed for this task ({which}); check FAILS"
    if math.isnan(value):
        return f"{metric} is undefined (NaN) for the {which}; check FAILS"
    return None


def _check_metric_name(metric: str, field: str) -> None:
    if metric not in metric_names.ALL_METRICS:
        raise ValueError(f"{field}: unknown metric {metric!r}; known metrics: {list(metric_names.ALL_METRICS)}.")


def _as_float(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise ValueError(f"{where} must be a number; got {value!r}.")
    return float(value)
