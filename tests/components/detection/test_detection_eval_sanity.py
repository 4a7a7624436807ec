"""Ground truth fed through the detector's own target encoder, decoder and COCO scorer scores mAP 1.0.

A box-format mismatch anywhere between training targets (keras-hub pixel
xyxy), serving outputs (normalized yxyx) and pycocotools' (x, y, w, h)
would make a well-trained detector look like it does not generalize; this
checks the whole scoring path end to end on 96x96 scenes with anchors
planned from the same boxes, several objects per image and padded rows.
"""

import numpy as np
import pytest
import tensorflow as tf

from components.evaluation import detection_metrics
from components.training import detection, task_export

SIZE = 96
CLASSES = [str(k) for k in range(4)]


def _scenes(count: int, seed: int):
    rng = np.random.default_rng(seed)
    boxes = np.full((count, 3, 4), -1.0, np.float32)
    labels = np.full((count, 3), -1, np.int32)
    for index in range(count):
        for slot in range(rng.integers(1, 4)):
            height, width = rng.integers(12, 36, 2)
            top, left = rng.integers(0, SIZE - 36, 2)
            boxes[index, slot] = np.array([top, left, top + height, left + width]) / SIZE
            labels[index, slot] = rng.integers(len(CLASSES))
    return boxes, labels


def _perfect_head_outputs(model, boxes, labels):
    """The label encoder's training targets turned into confident head outputs."""
    images = tf.zeros([len(boxes), SIZE, SIZE, 3])
    library = detection.to_library_boxes(tf.constant(boxes), tf.constant(labels), (SIZE, SIZE))
    box_targets, class_targets = model.label_encoder(images=images, gt_boxes=library["boxes"], gt_classes=library["labels"])
    positive = class_targets[..., None] >= 0
    hot = tf.one_hot(tf.cast(tf.maximum(class_targets, 0), tf.int32), len(CLASSES)) * tf.cast(positive, tf.float32)
    return images, {"bbox_regression": box_targets, "cls_logits": tf.where(hot > 0, 6.0, -8.0)}


def test_ground_truth_through_encoder_decoder_and_scorer_gives_map_one():
    boxes, labels = _scenes(6, seed=3)
    plan = detection.plan_anchors(boxes, labels, (SIZE, SIZE))
    model = detection.build_detector(len(CLASSES), (SIZE, SIZE, 3), plan, seed=0)
    images, raw = _perfect_head_outputs(model, boxes, labels)
    found = {k: v.numpy() for k, v in task_export.decode_detections(model, images, raw).items()}
    result = detection_metrics.coco_detection_metrics(
        boxes, labels, found["boxes"], found["scores"], found["classes"], (SIZE, SIZE), CLASSES
    )
    assert result["num_detections"] == int((labels >= 0).sum())
    for name in detection_metrics.DETECTION_METRICS:
        assert result["metrics"][name] == pytest.approx(1.0, abs=1e-6), name


def test_detections_of_another_image_score_zero():
    """The scorer pairs predictions with their own image: one scene's boxes on another scene's truth fail."""
    boxes, labels = _scenes(2, seed=5)
    swapped = boxes[::-1].copy(), np.where(labels[::-1] >= 0, 0.9, 0.0).astype(np.float32), labels[::-1].copy()
    result = detection_metrics.coco_detection_metrics(boxes, labels, *swapped, (SIZE, SIZE), CLASSES)
    assert result["metrics"]["map_50"] < 0.5
