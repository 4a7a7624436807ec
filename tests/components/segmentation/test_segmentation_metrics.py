"""mIoU, per-class IoU, pixel accuracy and foreground IoU: known answers."""

import numpy as np
import pytest

from components.evaluation import metrics, segmentation_metrics as sm

NAMES = ["background", "a", "b"]


def test_perfect_prediction_scores_one():
    truth = np.array([[0, 1], [2, 2]])
    result = sm.segmentation_metrics(sm.confusion_matrix(truth, truth, 3), NAMES)
    assert result["metrics"] == {"mean_iou": 1.0, "pixel_accuracy": 1.0, "foreground_iou": 1.0}
    assert result["per_class"]["b"] == {"iou": 1.0, "pixels": 2}


def test_known_confusion():
    truth = np.array([[0, 0, 1, 1], [2, 2, 2, 255]])
    prediction = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    confusion = sm.confusion_matrix(truth, prediction, 3)
    np.testing.assert_array_equal(confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])  # the 255 pixel is not counted
    result = sm.segmentation_metrics(confusion, NAMES)
    # IoU: background 1/3, a 2/3, b 2/3.
    assert result["per_class"]["background"]["iou"] == pytest.approx(1 / 3)
    assert result["metrics"]["mean_iou"] == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert result["metrics"]["pixel_accuracy"] == pytest.approx(5 / 7)
    # Foreground (a or b) vs background: TP 4 (a->a 2, b->b 2), union = 7 - 1 (bg->bg) = 6.
    assert result["metrics"]["foreground_iou"] == pytest.approx(4 / 6)


def test_class_absent_everywhere_is_nan_and_left_out_of_the_mean():
    truth = np.zeros((2, 2), int)
    result = sm.segmentation_metrics(sm.confusion_matrix(truth, truth, 3), NAMES)
    assert np.isnan(result["per_class"]["a"]["iou"]) and result["metrics"]["mean_iou"] == 1.0


def test_no_background_class_gives_nan_foreground_iou():
    truth = np.array([0, 1])
    result = sm.segmentation_metrics(sm.confusion_matrix(truth, truth, 2), ["cat", "dog"])
    assert np.isnan(result["metrics"]["foreground_iou"])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="differ in shape"):
        sm.confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), 3)
    with pytest.raises(ValueError, match="outside the 3 classes"):
        sm.confusion_matrix(np.array([0, 5]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="every pixel is ignore"):
        sm.segmentation_metrics(sm.confusion_matrix(np.full(3, 255), np.zeros(3), 3), NAMES)


def test_metric_names_match_the_blessing_list():
    assert set(sm.SEGMENTATION_METRICS) == set(metrics.SEGMENTATION_METRICS)
