"""Threshold and change-versus-baseline blessing logic."""

import math

import pytest

from components.evaluation import blessing


def test_bare_numbers_follow_the_metric_direction():
    normalized = blessing.normalize_thresholds({"accuracy": 0.9, "nll": 0.5})
    assert normalized == {"accuracy": {"min": 0.9}, "nll": {"max": 0.5}}


def test_explicit_bounds_are_kept():
    assert blessing.normalize_thresholds({"accuracy": {"min": 0.5, "max": 0.99}}) == {
        "accuracy": {"max": 0.99, "min": 0.5}
    }


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"acurracy": 0.9}, "unknown metric 'acurracy'"),
        ({"accuracy": "high"}, "must be a number"),
        ({"accuracy": True}, "must be a number"),
        ({"accuracy": {"minimum": 0.9}}, "keys 'min' and/or 'max'"),
        ({"accuracy": {"min": 0.9, "max": 0.5}}, "exceeds max"),
    ],
)
def test_bad_thresholds_are_rejected(raw, message):
    with pytest.raises(ValueError, match=message):
        blessing.normalize_thresholds(raw)


def test_bad_min_improvement_is_rejected():
    with pytest.raises(ValueError, match="unknown metric"):
        blessing.normalize_min_improvement({"loss": 0.0})


def _decide(metrics, thresholds=None, min_improvement=None, baseline=None):
    return blessing.decide_blessing(
        metrics,
        blessing.normalize_thresholds(thresholds),
        blessing.normalize_min_improvement(min_improvement),
        baseline,
    )


def test_all_thresholds_pass():
    decision = _decide({"accuracy": 0.95, "nll": 0.2}, {"accuracy": 0.9, "nll": 0.3})
    assert decision.blessed
    assert [check.passed for check in decision.checks] == [True, True]
    assert "All 2 checks passed" in decision.reasons


def test_one_failing_threshold_blocks_and_is_named():
    decision = _decide({"accuracy": 0.95, "nll": 0.4}, {"accuracy": 0.9, "nll": 0.3})
    assert not decision.blessed
    assert "nll = 0.4000 FAILS <= 0.3000" in decision.reasons
    assert "accuracy" not in decision.reasons


def test_missing_or_nan_metric_fails():
    missing = _decide({"accuracy": 0.95}, {"mean_average_precision": 0.5})
    assert not missing.blessed and "not computed" in missing.reasons
    undefined = _decide({"mean_average_precision": math.nan}, {"mean_average_precision": 0.5})
    assert not undefined.blessed and "NaN" in undefined.reasons


def test_tolerated_regression_against_baseline():
    baseline = {"accuracy": 0.90}
    small_drop = _decide({"accuracy": 0.895}, min_improvement={"accuracy": -0.01}, baseline=baseline)
    assert small_drop.blessed
    large_drop = _decide({"accuracy": 0.88}, min_improvement={"accuracy": -0.01}, baseline=baseline)
    assert not large_drop.blessed
    assert "improvement -0.0200 FAILS minimum -0.0100" in large_drop.reasons


def test_lower_is_better_improvement_sign():
    # NLL fell from 0.5 to 0.4: an improvement of +0.1.
    better = _decide({"nll": 0.4}, min_improvement={"nll": 0.05}, baseline={"nll": 0.5})
    assert better.blessed
    worse = _decide({"nll": 0.6}, min_improvement={"nll": 0.0}, baseline={"nll": 0.5})
    assert not worse.blessed


def test_without_baseline_change_checks_are_skipped_but_thresholds_apply():
    decision = _decide({"accuracy": 0.5}, {"accuracy": 0.4}, min_improvement={"accuracy": 0.0})
    assert decision.blessed
    assert "change-versus-baseline checks skipped" in decision.reasons
    failing = _decide({"accuracy": 0.3}, {"accuracy": 0.4}, min_improvement={"accuracy": 0.0})
    assert not failing.blessed


def test_no_checks_blesses_and_says_so():
    decision = _decide({"accuracy": 0.1})
    assert decision.blessed and "No thresholds configured" in decision.reasons
    assert decision.to_dict()["checks"] == []
