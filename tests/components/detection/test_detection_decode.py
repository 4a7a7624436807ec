"""Decoding RetinaNet head outputs into serving boxes: a known answer through keras-hub's own label encoder."""

import numpy as np
import tensorflow as tf

from components.training import detection, task_export


def test_perfect_head_outputs_decode_to_the_ground_truth_boxes():
    """Known answer: the label encoder's own targets, fed back as head outputs, decode to the boxes."""
    plan = detection.AnchorPlan(min_level=3, max_level=4, anchor_size=3.0, aspect_ratios=(0.5, 1.0, 2.0))
    model = detection.build_detector(2, (64, 64, 3), plan, seed=0)
    truth = np.array([[[0.1, 0.2, 0.45, 0.5], [0.5, 0.55, 0.95, 0.9]]], np.float32)
    labels = np.array([[0, 1]], np.int32)
    images = tf.zeros([1, 64, 64, 3])
    library = detection.to_library_boxes(tf.constant(truth), tf.constant(labels), (64, 64))
    box_targets, class_targets = model.label_encoder(images=images, gt_boxes=library["boxes"], gt_classes=library["labels"])
    positive = class_targets[..., None] >= 0  # [1, A, 1]
    hot = tf.one_hot(tf.cast(tf.maximum(class_targets, 0), tf.int32), 2) * tf.cast(positive, tf.float32)
    logits = tf.where(hot > 0, 8.0, -8.0)
    decoded = task_export.decode_detections(model, images, {"bbox_regression": box_targets, "cls_logits": logits})
    count = int(decoded["num_detections"][0])
    assert count == 2
    order = np.argsort(decoded["classes"][0, :count].numpy())
    np.testing.assert_allclose(decoded["boxes"][0, :count].numpy()[order], truth[0], atol=1e-3)
    np.testing.assert_array_equal(decoded["classes"][0, :count].numpy()[order], [0, 1])
