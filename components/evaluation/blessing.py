"""Blessing decision: value thresholds, change-versus-baseline checks, and the trivial-baseline rule.

A model is blessed only when every check that applies passes. A metric that
is missing or NaN fails its check (a check that cannot be evaluated never
passes). Without a baseline model the change checks are skipped and say so,
like TFX Evaluator's "rubber stamp" for the first model.

Without thresholds (and without a baseline model to compare against), a
model is not blessed by default: it must beat the
trivial baselines beyond the noise of the evaluated split. Classification:
the one-sided Wilson lower bound of its accuracy must exceed both the
majority-class accuracy and chance (1/K); a single-class dataset is never
blessed. Multilabel: its per-image Hamming error must be lower than that of
the per-label majority constant (all-negative for rare labels), by a paired
one-sided normal bound above zero. The decision names the rule applied.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from components.evaluation import metrics as metric_names

MIN = "min"
MAX = "max"
TRIVIAL = "trivial_baselines"
DEFAULT_CONFIDENCE = 0.95
# Which rule blessed or refused a model (the `rule` of a BlessingDecision, an MLMD property).
RULE_THRESHOLDS = "thresholds"
RULE_BASELINE_MODEL = "baseline model"
RULE_TRIVIAL = "beats trivial baselines"
RULE_NONE = "no checks (blessed by explicit opt-out)"
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
    kind: str  # 'min', 'max', 'baseline' or 'trivial_baselines'
    passed: bool
    message: str


@dataclasses.dataclass(frozen=True)
class BlessingDecision:
    """The verdict, every check behind it, and the rule(s) that decided it.

    Attributes:
      rule: the rules applied, e.g. "thresholds" or "beats trivial
        baselines", joined with " + ".
    """

    blessed: bool
    checks: Tuple[Check, ...]
    notes: Tuple[str, ...] = ()
    rule: str = RULE_THRESHOLDS

    @property
    def reasons(self) -> str:
        """One line per failed check, or why the model passed (with the trivial-baseline evidence)."""
        failed = [check.message for check in self.checks if not check.passed]
        if failed:
            lines = failed
        elif self.checks:
            lines = [f"All {len(self.checks)} checks passed (rule: {self.rule})."]
            lines += [check.message for check in self.checks if check.kind == TRIVIAL]
        else:
            lines = ["No checks configured (beat_trivial_baselines is false); blessed by default."]
        return "\n".join(lines + list(self.notes))

    def to_dict(self) -> Dict[str, object]:
        return {
            "blessed": self.blessed,
            "rule": self.rule,
            "reasons": self.reasons,
            "checks": [dataclasses.asdict(check) for check in self.checks],
            "notes": list(self.notes),
        }


def wilson_lower_bound(successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """One-sided lower confidence bound of a binomial proportion (Wilson score interval).

    Wilson rather than the normal interval: it stays inside [0, 1] and is not
    overconfident for small splits or accuracies near 0 or 1 (2 of 2 correct
    gives about 0.42 at 95%, not 1.0).
    """
    if trials <= 0:
        return 0.0
    z = statistics.NormalDist().inv_cdf(confidence)
    p = successes / trials
    center = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, (center - spread) / (1 + z * z / trials))


def mean_lower_bound(mean: float, std: float, count: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """One-sided normal lower bound of a mean from its sample std (-inf with fewer than 2 samples)."""
    if count < 2 or not math.isfinite(std):
        return -math.inf
    return mean - statistics.NormalDist().inv_cdf(confidence) * std / math.sqrt(count)


def trivial_baseline_check(stats: Optional[Mapping[str, Any]], confidence: float = DEFAULT_CONFIDENCE) -> Check:
    """Does the model beat the trivial baselines beyond the noise? `stats` from `evaluation.trivial_baselines`."""
    if not stats:
        return Check(TRIVIAL, TRIVIAL, False, "no trivial baseline is defined for this task (detection and "
                     "segmentation): set evaluation.thresholds, e.g. {map_50: 0.5} or {mean_iou: 0.5}, to bless a "
                     "model; check FAILS")
    level = f"{100 * confidence:g}%"
    if stats.get("task") == "multilabel":
        count = int(stats["num_examples"])
        lower = mean_lower_bound(float(stats["hamming_gain_mean"]), float(stats["hamming_gain_std"]), count, confidence)
        passed = lower > 0.0
        return Check(
            "hamming_loss",
            TRIVIAL,
            passed,
            f"hamming_loss {stats['hamming_loss']:.4f} vs {stats['constant_hamming_loss']:.4f} for the per-label "
            f"majority constant (all-negative for rare labels): one-sided {level} lower bound of the paired "
            f"improvement {lower:+.4f} on {count} examples {'>' if passed else '<='} 0"
            + ("" if passed else "; check FAILS"),
        )
    count, num_classes = int(stats["num_examples"]), int(stats["num_classes"])
    if num_classes < 2:
        return Check(
            "accuracy", TRIVIAL, False,
            f"single-class data ({num_classes} class): accuracy is 1.0 by construction, so it shows nothing; "
            "check FAILS",
        )
    lower = wilson_lower_bound(int(stats["correct"]), count, confidence)
    majority, chance = float(stats["majority_accuracy"]), 1.0 / num_classes
    bar = max(majority, chance)
    passed = lower > bar
    verdict = "beats" if passed else "does NOT beat"
    return Check(
        "accuracy",
        TRIVIAL,
        passed,
        f"accuracy {stats['correct'] / max(count, 1):.4f} {verdict} the trivial baselines: its one-sided {level} "
        f"lower bound {lower:.4f} (Wilson, {count} examples) {'>' if passed else '<='} max(majority class "
        f"{majority:.4f}, chance {chance:.4f})" + ("" if passed else "; check FAILS"),
    )


def improvement(metric: str, candidate: float, baseline: float) -> float:
    """How much better the candidate is, positive when better in the metric's direction."""
    return candidate - baseline if metric_names.higher_is_better(metric) else baseline - candidate


def decide_blessing(
    metrics: Mapping[str, float],
    thresholds: Mapping[str, Mapping[str, float]],
    min_improvement: Mapping[str, float],
    baseline_metrics: Optional[Mapping[str, float]] = None,
    trivial_stats: Optional[Mapping[str, Any]] = None,
    beat_trivial_baselines: Optional[bool] = None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> BlessingDecision:
    """Runs every check.

    Args:
      metrics: the candidate's scalar metrics.
      thresholds: output of `normalize_thresholds`.
      min_improvement: output of `normalize_min_improvement`.
      baseline_metrics: the baseline's scalar metrics, or None without a baseline.
      trivial_stats: `evaluation.trivial_baselines(...)` of the evaluated split.
      beat_trivial_baselines: True always applies the trivial-baseline rule,
        False never; None (default) applies it unless thresholds are set or
        a baseline model is compared against (a first run with only
        `min_improvement` and no baseline yet gets the trivial rule).
      confidence: one-sided confidence level of the trivial-baseline bounds.
    """
    checks: List[Check] = []
    rules = []
    if thresholds:
        rules.append(RULE_THRESHOLDS)
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
    if min_improvement and baseline_metrics is not None:
        rules.append(RULE_BASELINE_MODEL)
    compared = bool(min_improvement) and baseline_metrics is not None
    apply_trivial = beat_trivial_baselines if beat_trivial_baselines is not None else not (thresholds or compared)
    if apply_trivial:
        rules.append(RULE_TRIVIAL)
        checks.append(trivial_baseline_check(trivial_stats, confidence))
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
    rule = " + ".join(rules) if rules else RULE_NONE
    return BlessingDecision(all(check.passed for check in checks), tuple(checks), tuple(notes), rule)


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
