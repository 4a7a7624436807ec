"""The detector's FPN and heads are normalized and start from RetinaNet's head biases (class prior 0.01, box 0)."""

import math

import keras
import numpy as np
import tensorflow as tf

from components.training import detection

PLAN = detection.AnchorPlan(min_level=3, max_level=4, anchor_size=3.0, aspect_ratios=(0.5, 1.0, 2.0))
PRIOR_LOGIT = -math.log(99.0)


def _biases(model):
    return (
        model.classification_head.prediction_layer.bias.numpy(),
        model.box_head.prediction_layer.bias.numpy(),
    )


def _step0(model, seed=2):
    """(keras-hub's training loss, class-logit std) of a fresh model on one batch, BatchNorm in training mode."""
    boxes = tf.constant([[[0.1, 0.2, 0.45, 0.5], [0.5, 0.55, 0.95, 0.9]]] * 4, tf.float32)
    labels = tf.constant([[0, 1]] * 4, tf.int32)
    images = tf.random.uniform([4, 64, 64, 3], seed=seed)
    y = detection.to_library_boxes(boxes, labels, (64, 64))
    model.compile(optimizer="adam")
    predicted = model(images, training=True)
    loss = float(model.compute_loss(x=images, y=y, y_pred=predicted, sample_weight=None))
    return loss, float(np.std(predicted["cls_logits"].numpy()))


def test_build_detector_normalizes_fpn_and_heads_and_sets_the_head_biases():
    model = detection.build_detector(3, (64, 64, 3), PLAN, seed=0)
    assert model.use_prediction_head_norm and model.backbone.use_fpn_batch_norm
    class_bias, box_bias = _biases(model)
    np.testing.assert_allclose(class_bias, PRIOR_LOGIT, rtol=1e-6)
    np.testing.assert_array_equal(box_bias, 0.0)
    # A fresh detector scores every anchor and class near the prior, not at 0.5.
    scores = keras.ops.sigmoid(model(tf.random.uniform([2, 64, 64, 3], seed=1), training=False)["cls_logits"])
    assert 0.003 < float(np.median(scores)) < 0.03


def test_keras_hub_head_init_is_kept_when_asked_and_is_the_swapped_one():
    """Canary for the keras-hub bug the bias fix works around: prior bias on the box head, none on the class head.

    If a keras-hub upgrade fixes it, this fails and `initialize_head_biases` can go.
    """
    model = detection.build_detector(3, (64, 64, 3), PLAN, seed=0, fix_head_init=False, normalize_fpn_and_heads=False)
    class_bias, box_bias = _biases(model)
    np.testing.assert_array_equal(class_bias, 0.0)
    np.testing.assert_allclose(box_bias, PRIOR_LOGIT, rtol=1e-6)


def test_bias_init_touches_only_the_two_output_biases():
    fixed = detection.build_detector(2, (64, 64, 3), PLAN, seed=3)
    library = detection.build_detector(2, (64, 64, 3), PLAN, seed=3, fix_head_init=False)
    skipped = (fixed.classification_head.prediction_layer.bias.path, fixed.box_head.prediction_layer.bias.path)
    for a, b in zip(fixed.weights, library.weights):
        if a.path not in skipped:
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_normalized_detector_starts_training_near_the_prior():
    """Step 0 in training mode: keras-hub's un-normalized FPN / heads blow the logits up and swamp any bias."""
    plain_loss, plain_std = _step0(
        detection.build_detector(2, (64, 64, 3), PLAN, seed=3, fix_head_init=False, normalize_fpn_and_heads=False)
    )
    loss, std = _step0(detection.build_detector(2, (64, 64, 3), PLAN, seed=3))
    assert std < 3.0 < plain_std, (std, plain_std)
    assert loss < 5.0 and plain_loss > 10 * loss, (loss, plain_loss)


def _pyramid_momenta(model):
    layers = model.backbone.feature_pyramid._flatten_layers(include_self=False)
    return [layer.momentum for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_pyramid_batch_norm_keeps_a_moving_average_not_the_last_batch():
    """keras-hub passes batch_norm_epsilon (0.001) as the FPN BatchNorm momentum; the detector sets 0.99."""
    fixed = detection.build_detector(2, (64, 64, 3), PLAN, seed=0)
    assert _pyramid_momenta(fixed) and all(value == detection.FPN_BATCH_NORM_MOMENTUM for value in _pyramid_momenta(fixed))
    library = detection.build_detector(2, (64, 64, 3), PLAN, seed=0)
    for layer in library.backbone.feature_pyramid._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.001  # keras-hub's value before the fix
    moving = [layer for layer in fixed.backbone.feature_pyramid._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization)][0]
    before = moving.moving_mean.numpy().copy()
    images = tf.random.uniform([4, 64, 64, 3], seed=5) * 10.0
    fixed(images, training=True)
    step = np.abs(moving.moving_mean.numpy() - before).max()
    last = [layer for layer in library.backbone.feature_pyramid._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization)][0]
    library(images, training=True)
    assert 0 < step < 0.05 * np.abs(last.moving_mean.numpy()).max()  # 1% of the batch mean, not all of it
