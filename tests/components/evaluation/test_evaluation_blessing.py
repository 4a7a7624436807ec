"""Threshold and change-versus-baseline blessing logic."""

import math

import numpy as np
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


def test_without_thresholds_nothing_is_blessed_by_default():
    decision = _decide({"accuracy": 0.1})
    assert not decision.blessed and decision.rule == blessing.RULE_TRIVIAL
    assert "no trivial baseline is defined for this task" in decision.reasons
    assert "set evaluation.thresholds" in decision.reasons
    opted_out = blessing.decide_blessing({"accuracy": 0.1}, {}, {}, beat_trivial_baselines=False)
    assert opted_out.blessed and opted_out.checks == () and opted_out.rule == blessing.RULE_NONE
    assert "blessed by default" in opted_out.reasons


def _classification_stats(correct, count, majority, num_classes):
    return {"task": "classification", "num_examples": count, "num_classes": num_classes, "correct": correct,
            "majority_accuracy": majority, "chance_accuracy": 1 / num_classes}


def test_wilson_lower_bound_matches_the_closed_form_and_is_not_overconfident():
    assert blessing.wilson_lower_bound(2, 2) == pytest.approx(0.425, abs=1e-3)
    assert blessing.wilson_lower_bound(0, 10) == 0.0
    # 80 of 100 at one-sided 95% (z = 1.645): 0.7266 by the Wilson formula.
    assert blessing.wilson_lower_bound(80, 100) == pytest.approx(0.7266, abs=1e-3)
    assert blessing.wilson_lower_bound(80, 100, 0.99) < blessing.wilson_lower_bound(80, 100, 0.9)


def test_a_below_chance_ten_class_model_is_not_blessed():
    # The case: 6.6% eval accuracy on a 10-class problem, no thresholds configured.
    stats = _classification_stats(correct=4, count=61, majority=0.13, num_classes=10)
    decision = blessing.decide_blessing({"accuracy": 4 / 61}, {}, {}, trivial_stats=stats)
    assert not decision.blessed
    assert "does NOT beat the trivial baselines" in decision.reasons
    assert "max(majority class 0.1300, chance 0.1000)" in decision.reasons


def test_a_single_class_model_is_not_blessed_even_at_accuracy_one():
    stats = _classification_stats(correct=2, count=2, majority=1.0, num_classes=1)
    decision = blessing.decide_blessing({"accuracy": 1.0}, {}, {}, trivial_stats=stats)
    assert not decision.blessed and "single-class data" in decision.reasons


def test_a_model_clearly_above_the_majority_is_blessed_and_the_rule_is_named():
    stats = _classification_stats(correct=180, count=200, majority=0.11, num_classes=10)
    decision = blessing.decide_blessing({"accuracy": 0.9}, {}, {}, trivial_stats=stats)
    assert decision.blessed and decision.rule == "beats trivial baselines"
    assert "All 1 checks passed (rule: beats trivial baselines)" in decision.reasons
    assert "accuracy 0.9000 beats the trivial baselines" in decision.reasons
    assert decision.to_dict()["rule"] == "beats trivial baselines"


def test_the_noise_of_a_small_split_decides():
    # 70% on 20 two-class images with a 60% majority: within the noise. The same rate on 2000 images is not.
    small = blessing.decide_blessing({}, {}, {}, trivial_stats=_classification_stats(14, 20, 0.6, 2))
    large = blessing.decide_blessing({}, {}, {}, trivial_stats=_classification_stats(1400, 2000, 0.6, 2))
    assert not small.blessed and large.blessed


def test_thresholds_alone_skip_the_trivial_rule_unless_asked():
    stats = _classification_stats(correct=4, count=61, majority=0.13, num_classes=10)
    with_thresholds = blessing.decide_blessing(
        {"accuracy": 0.066}, blessing.normalize_thresholds({"accuracy": 0.05}), {}, trivial_stats=stats
    )
    assert with_thresholds.blessed and with_thresholds.rule == "thresholds"
    both = blessing.decide_blessing(
        {"accuracy": 0.066}, blessing.normalize_thresholds({"accuracy": 0.05}), {}, trivial_stats=stats,
        beat_trivial_baselines=True,
    )
    assert not both.blessed and both.rule == "thresholds + beats trivial baselines"


def test_multilabel_must_beat_the_per_label_majority_constant():
    from components.evaluation.evaluation import trivial_baselines

    rng = np.random.default_rng(0)
    labels = (rng.random((200, 3)) < [0.1, 0.2, 0.7]).astype(np.int64)
    constant = np.tile([0.0, 0.0, 1.0], (200, 1))  # the per-label majority: no better than the baseline
    stats = trivial_baselines(labels, constant, "multilabel", 3)
    assert stats["hamming_loss"] == pytest.approx(stats["constant_hamming_loss"])
    assert not blessing.decide_blessing({}, {}, {}, trivial_stats=stats).blessed
    good = np.where(rng.random((200, 3)) < 0.95, labels, 1 - labels).astype(np.float64)
    good_stats = trivial_baselines(labels, good, "multilabel", 3)
    decision = blessing.decide_blessing({}, {}, {}, trivial_stats=good_stats)
    assert decision.blessed and "per-label majority constant" in decision.reasons
    assert good_stats["prevalence"] == pytest.approx(labels.mean(axis=0).tolist())


def test_classification_trivial_statistics_count_the_majority_and_the_correct():
    from components.evaluation.evaluation import trivial_baselines

    labels = np.array([0, 0, 0, 1, 2])
    probabilities = np.eye(3)[[0, 1, 0, 1, 1]]
    stats = trivial_baselines(labels, probabilities, "classification", 3)
    assert stats["correct"] == 3 and stats["majority_class"] == 0
    assert stats["majority_accuracy"] == pytest.approx(0.6) and stats["chance_accuracy"] == pytest.approx(1 / 3)
