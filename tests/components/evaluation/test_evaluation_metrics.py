"""Metrics against values computed by hand on tiny arrays."""

import math

import numpy as np
import pytest

from components.evaluation import metrics

CLASS_NAMES = ["cat", "dog", "bird"]
# Predictions: 0 (right, conf .7), 1 (right, .62), 0 (wrong, .5), 2 (wrong, .45).
LABELS = np.array([0, 1, 2, 1])
PROBABILITIES = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.62, 0.28],
        [0.5, 0.3, 0.2],
        [0.2, 0.35, 0.45],
    ]
)


def test_accuracy_and_top_k():
    assert metrics.accuracy(LABELS, PROBABILITIES) == pytest.approx(0.5)
    # Top-2 adds row 3 (label 1 is second), not row 2 (label 2 is last).
    assert metrics.top_k_accuracy(LABELS, PROBABILITIES, 2) == pytest.approx(0.75)
    assert metrics.top_k_accuracy(LABELS, PROBABILITIES, 3) == pytest.approx(1.0)
    # k beyond the class count is clipped, not an error.
    assert metrics.top_k_accuracy(LABELS, PROBABILITIES, 10) == pytest.approx(1.0)


def test_top_k_ties_break_toward_lower_class_id():
    tied = np.array([[0.5, 0.5, 0.0]])
    assert metrics.top_k_accuracy(np.array([0]), tied, 1) == 1.0
    assert metrics.top_k_accuracy(np.array([1]), tied, 1) == 0.0


def test_negative_log_likelihood_and_floor():
    expected = -(math.log(0.7) + math.log(0.62) + math.log(0.2) + math.log(0.35)) / 4
    assert metrics.negative_log_likelihood(LABELS, PROBABILITIES) == pytest.approx(expected)
    certain_mistake = np.array([[1.0, 0.0]])
    assert metrics.negative_log_likelihood(np.array([1]), certain_mistake) == pytest.approx(
        -math.log(metrics.PROBABILITY_FLOOR)
    )


def test_expected_calibration_error_by_hand():
    confidences = PROBABILITIES.max(axis=1)
    correct = PROBABILITIES.argmax(axis=1) == LABELS
    # 5 bins: (.6,.8] holds .7 and .62, both right: |1 - .66| = .34;
    # (.4,.6] holds .5 and .45, both wrong: |0 - .475| = .475.
    expected = (2 * 0.34 + 2 * 0.475) / 4
    assert metrics.expected_calibration_error(confidences, correct, 5) == pytest.approx(expected)


def test_reliability_bins_edges_and_empty_bins():
    bins = metrics.reliability_bins(np.array([0.0, 0.25, 1.0]), np.array([False, True, True]), 4)
    assert bins["count"] == [2, 0, 0, 1]  # 0 joins bin 0; .25 is in (0, .25]; 1 in the last.
    assert bins["accuracy"][0] == pytest.approx(0.5)
    assert bins["confidence"][0] == pytest.approx(0.125)
    assert math.isnan(bins["accuracy"][1]) and math.isnan(bins["confidence"][2])
    assert bins["bin_edges"] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


def test_brier_score_by_hand():
    one_hot = np.eye(3)[LABELS]
    expected = (0.14 + 0.2328 + 0.98 + 0.665) / 4
    assert metrics.brier_score(one_hot, PROBABILITIES) == pytest.approx(expected)


def test_confusion_matrix_rows_are_true_classes():
    predictions = PROBABILITIES.argmax(axis=1)
    matrix = metrics.confusion_matrix(LABELS, predictions, 3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [1, 0, 0]])


def test_per_class_precision_recall_f1():
    scores = metrics.per_class_scores(LABELS, PROBABILITIES.argmax(axis=1), CLASS_NAMES)
    assert scores["cat"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert scores["dog"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert scores["bird"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})


def test_classification_metrics_bundle():
    result = metrics.classification_metrics(LABELS, PROBABILITIES, CLASS_NAMES, top_k=5, ece_bins=5)
    assert set(result["metrics"]) == set(metrics.CLASSIFICATION_METRICS)
    assert result["top_k"] == 3
    scalars = result["metrics"]
    assert scalars[metrics.ACCURACY] == pytest.approx(0.5)
    assert scalars[metrics.TOP_K_ACCURACY] == pytest.approx(1.0)
    assert scalars[metrics.MACRO_PRECISION] == pytest.approx(0.5)
    assert scalars[metrics.MACRO_RECALL] == pytest.approx(0.5)
    assert scalars[metrics.MACRO_F1] == pytest.approx(4 / 9)
    assert scalars[metrics.WEIGHTED_F1] == pytest.approx((2 / 3 + 2 * 2 / 3) / 4)
    assert scalars[metrics.EXPECTED_CALIBRATION_ERROR] == pytest.approx(0.4075)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [1, 0, 0]]
    assert sum(result["reliability"]["count"]) == 4


def test_multilabel_metrics_by_hand():
    names = ["a", "b", "c", "d"]  # 'd' never occurs: no AP, excluded from mAP.
    targets = np.array([[1, 0, 1, 0], [0, 1, 0, 0]])
    probabilities = np.array([[0.9, 0.2, 0.1, 0.6], [0.3, 0.8, 0.4, 0.1]])
    result = metrics.multilabel_metrics(targets, probabilities, names, ece_bins=10)
    scalars = result["metrics"]
    assert set(scalars) == set(metrics.MULTILABEL_METRICS)
    assert scalars[metrics.SUBSET_ACCURACY] == pytest.approx(0.5)
    assert scalars[metrics.HAMMING_LOSS] == pytest.approx(2 / 8)
    # AP: a = 1, b = 1, c = 0.5 (its positive is ranked second).
    assert scalars[metrics.MEAN_AVERAGE_PRECISION] == pytest.approx(2.5 / 3)
    assert scalars[metrics.MACRO_F1] == pytest.approx(0.5)
    assert scalars[metrics.MICRO_F1] == pytest.approx(2 / 3)
    row0 = -(math.log(0.9) + math.log(0.8) + math.log(0.1) + math.log(0.4))
    row1 = -(math.log(0.7) + math.log(0.8) + math.log(0.6) + math.log(0.9))
    assert scalars[metrics.NLL] == pytest.approx((row0 + row1) / 2)
    assert result["per_class"]["c"]["recall"] == 0.0
    assert result["confusion_matrix"][3] == [[1, 1], [0, 0]]  # 'd': one TN, one FP.


def test_mean_average_precision_without_positives_is_nan():
    assert math.isnan(metrics.mean_average_precision(np.zeros((2, 2), int), np.full((2, 2), 0.5)))


def test_metric_directions():
    assert metrics.higher_is_better(metrics.ACCURACY)
    assert not metrics.higher_is_better(metrics.NLL)
    assert not metrics.higher_is_better(metrics.EXPECTED_CALIBRATION_ERROR)
