"""COCO metrics through pycocotools: known answers for perfect, shifted and missing predictions."""

import numpy as np
import pytest

from components.evaluation import detection_metrics, metrics
from components.evaluation.spec import EvaluationConfig

CLASSES = ["cat", "dog", "bird"]
SIZE = (100, 100)


def _truth():
    boxes = np.full((3, 2, 4), -1.0, np.float32)
    labels = np.full((3, 2), -1, np.int32)
    boxes[0, 0], labels[0, 0] = [0.1, 0.1, 0.4, 0.5], 0
    boxes[0, 1], labels[0, 1] = [0.5, 0.5, 0.9, 0.8], 1
    boxes[1, 0], labels[1, 0] = [0.2, 0.3, 0.6, 0.7], 1
    boxes[2, 0], labels[2, 0] = [0.0, 0.0, 0.3, 0.3], 0
    return boxes, labels


def _perfect(boxes, labels):
    scores = np.where(labels >= 0, 0.9, 0.0).astype(np.float32)
    return boxes.copy(), scores, labels.copy()


def test_perfect_predictions_score_one():
    boxes, labels = _truth()
    result = detection_metrics.coco_detection_metrics(boxes, labels, *_perfect(boxes, labels), SIZE, CLASSES)
    for name in detection_metrics.DETECTION_METRICS:
        assert result["metrics"][name] == pytest.approx(1.0), name
    assert result["per_class"]["cat"]["ap"] == pytest.approx(1.0)
    assert np.isnan(result["per_class"]["bird"]["ap"]) and result["per_class"]["bird"]["num_ground_truth"] == 0
    assert result["num_ground_truth"] == 4 and result["num_detections"] == 4
    assert result["pr_curves"]["dog"]["precision"][-1] == pytest.approx(1.0)


def test_shifted_boxes_lose_strict_iou_first():
    boxes, labels = _truth()
    predicted, scores, classes = _perfect(boxes, labels)
    # Shift by 10% of each box's size: IoU ~0.82, above 0.75 but below 0.85+.
    heights, widths = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    shift = np.stack([0.1 * heights, 0.0 * widths, 0.1 * heights, 0.0 * widths], axis=-1)
    predicted = np.where((labels >= 0)[..., None], boxes + shift, boxes)
    result = detection_metrics.coco_detection_metrics(boxes, labels, predicted, scores, classes, SIZE, CLASSES)
    assert result["metrics"]["map_50"] == pytest.approx(1.0)
    assert result["metrics"]["map_75"] == pytest.approx(1.0)
    assert 0.3 < result["metrics"]["map"] < 0.9
    # A bigger shift (40%): IoU ~0.43 fails every threshold.
    far = np.where((labels >= 0)[..., None], boxes + 4 * shift, boxes)
    worse = detection_metrics.coco_detection_metrics(boxes, labels, far, scores, classes, SIZE, CLASSES)
    assert worse["metrics"]["map_50"] == pytest.approx(0.0) and worse["metrics"]["map"] == pytest.approx(0.0)


def test_wrong_class_and_no_detections_score_zero():
    boxes, labels = _truth()
    predicted, scores, classes = _perfect(boxes, labels)
    swapped = np.where(classes >= 0, 1 - classes, -1)
    result = detection_metrics.coco_detection_metrics(boxes, labels, predicted, scores, swapped, SIZE, CLASSES)
    assert result["metrics"]["map_50"] == pytest.approx(0.0)
    empty = detection_metrics.coco_detection_metrics(
        boxes, labels, predicted, np.zeros_like(scores), classes, SIZE, CLASSES
    )
    assert empty["metrics"] == {name: 0.0 for name in detection_metrics.DETECTION_METRICS}


def test_low_scored_false_positive_lowers_precision_only_at_the_tail():
    boxes, labels = _truth()
    predicted, scores, classes = _perfect(boxes, labels)
    predicted[1, 1], scores[1, 1], classes[1, 1] = [0.7, 0.7, 0.95, 0.95], 0.95, 1  # confident false positive
    result = detection_metrics.coco_detection_metrics(boxes, labels, predicted, scores, classes, SIZE, CLASSES)
    assert result["per_class"]["dog"]["ap_50"] < 0.9
    assert result["per_class"]["cat"]["ap_50"] == pytest.approx(1.0)


def test_bad_inputs_are_named():
    boxes, labels = _truth()
    predicted, scores, classes = _perfect(boxes, labels)
    with pytest.raises(ValueError, match="Ground truth must be boxes"):
        detection_metrics.coco_detection_metrics(boxes[0], labels, predicted, scores, classes, SIZE, CLASSES)
    with pytest.raises(ValueError, match="at least one ground-truth box"):
        detection_metrics.coco_detection_metrics(
            boxes, np.full_like(labels, -1), predicted, scores, classes, SIZE, CLASSES
        )
    with pytest.raises(ValueError, match="outside the 2 classes"):
        detection_metrics.coco_detection_metrics(
            boxes, np.where(labels == 1, 2, labels), predicted, scores, classes, SIZE, CLASSES[:2]
        )


def test_blessing_thresholds_accept_task_metric_names():
    assert set(detection_metrics.DETECTION_METRICS) == set(metrics.DETECTION_METRICS)
    config = EvaluationConfig(thresholds={"map_50": 0.5, "mean_iou": 0.5})
    assert config.thresholds == {"map_50": {"min": 0.5}, "mean_iou": {"min": 0.5}}
