"""Segmentation defaults: balanced loss, ignored pixels, depth from image size, step budget, default augmentation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.training import segmentation, segmentation_loss
from components.training.spec import TrainingConfig
from tests.components.segmentation.scenes import write_segmentation_examples

IGNORE = 255


def _masks_with_rare_class():
    masks = np.zeros((2, 10, 10), np.uint8)
    masks[0, :2, :2] = 1  # 4 pixels of class 1
    masks[1, :5, :] = 2  # 50 pixels of class 2
    masks[1, 9, :] = IGNORE
    return masks


def test_class_weights_favour_rare_classes_and_keep_the_mean_pixel_weight_at_one():
    masks = _masks_with_rare_class()
    weights = segmentation_loss.class_pixel_weights(masks, 4)
    counted = masks[masks != IGNORE]
    frequency = np.bincount(counted, minlength=4) / counted.size
    assert weights[1] > weights[2] > weights[0]
    assert np.sum(frequency * weights) == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.isfinite(weights)) and weights[3] > 0  # absent class 3: no division by zero


def test_class_weights_reject_ids_beyond_the_data_spec_and_all_ignored_masks():
    with pytest.raises(ValueError, match="class id 2"):
        segmentation_loss.class_pixel_weights(np.full((1, 4, 4), 2, np.uint8), 2)
    with pytest.raises(ValueError, match="no labelled pixel"):
        segmentation_loss.class_pixel_weights(np.full((1, 4, 4), IGNORE, np.uint8), 2)


def _probabilities(class_ids, num_classes, confidence=0.9):
    off = (1.0 - confidence) / (num_classes - 1)
    return tf.constant(np.where(np.eye(num_classes)[class_ids] > 0, confidence, off), tf.float32)


def test_loss_ignores_pixels_marked_255():
    targets = np.array([[[1, 0], [0, IGNORE]]])
    loss = segmentation_loss.BalancedSegmentationLoss(np.array([0.5, 2.0], np.float32))
    right_at_ignored = loss(targets, _probabilities(np.array([[[1, 0], [0, 0]]]), 2))
    wrong_at_ignored = loss(targets, _probabilities(np.array([[[1, 0], [0, 1]]]), 2))
    assert float(right_at_ignored) == pytest.approx(float(wrong_at_ignored), rel=1e-6)


def test_balanced_loss_punishes_missing_a_rare_class_more_than_plain_cross_entropy():
    targets = np.zeros((1, 10, 10), np.int64)
    targets[0, 0, 0] = 1  # one object pixel among 100
    all_background = _probabilities(np.zeros((1, 10, 10), np.int64), 2)
    perfect = _probabilities(targets, 2, confidence=0.999)
    plain = segmentation_loss.BalancedSegmentationLoss(None, dice_weight=0.0)
    balanced = segmentation_loss.BalancedSegmentationLoss(segmentation_loss.class_pixel_weights(targets, 2))
    # Plain CE barely notices the missed object; the balanced loss does, and it still rewards the right answer.
    assert float(plain(targets, all_background)) < 0.15
    assert float(balanced(targets, all_background)) > 3 * float(plain(targets, all_background))
    assert float(balanced(targets, perfect)) < 0.05


def test_pixel_accuracy_counts_labelled_pixels_only():
    metric = segmentation_loss.LabelledPixelAccuracy()
    metric.update_state(np.array([[[1, 0], [IGNORE, IGNORE]]]), _probabilities(np.array([[[1, 1], [0, 0]]]), 2))
    assert float(metric.result()) == pytest.approx(0.5)


@pytest.mark.parametrize("side, depth", [(32, 2), (64, 3), (96, 4), (128, 4), (224, 5), (512, 5)])
def test_unet_depth_leaves_a_small_bottleneck(side, depth):
    assert segmentation.unet_depth_for((side, side + 40)) == depth
    assert side / 2**depth >= segmentation.MIN_BOTTLENECK_SIDE or depth == segmentation.MIN_UNET_DEPTH


def test_planned_schedule_budgets_steps_when_the_config_keeps_the_defaults():
    epochs, batch_size, reason = segmentation.planned_schedule(TrainingConfig(), 400)
    steps = 400 // segmentation.DEFAULT_BATCH_SIZE
    assert batch_size == segmentation.DEFAULT_BATCH_SIZE
    assert epochs == int(np.ceil(segmentation.TARGET_TRAINING_STEPS / steps)) and "400 train images" in reason
    assert segmentation.planned_schedule(TrainingConfig(), 100_000)[0] == 1  # one pass over big data
    assert segmentation.planned_schedule(TrainingConfig(), 20)[0] == segmentation.MAX_PLANNED_EPOCHS


def test_planned_schedule_keeps_what_the_user_set():
    assert segmentation.planned_schedule(TrainingConfig(epochs=3, batch_size=4), 400)[:2] == (3, 4)
    explicit_defaults = TrainingConfig(explicit_fields=("epochs", "batch_size"))  # YAML `epochs: 5, batch_size: 64`
    assert segmentation.planned_schedule(explicit_defaults, 400)[:2] == (5, 64)
    assert segmentation.planned_schedule(TrainingConfig(epochs=2), 400)[:2] == (2, segmentation.DEFAULT_BATCH_SIZE)


def test_default_policy_moves_masks_with_pixels():
    """A half-black / half-white image with mask = colour: after the default policy every labelled pixel keeps it."""
    images = np.zeros((8, 32, 32, 3), np.float32)
    images[:, :, 16:] = 1.0
    masks = np.zeros((8, 32, 32), np.uint8)
    masks[:, :, 16:] = 1
    dataset = segmentation.training_dataset(images, masks, 8, seed=3, policy=segmentation.DEFAULT_POLICY,
                                            options=segmentation.AugmentOptions(xla=False))
    batch_images, targets = next(iter(dataset))
    targets, brightness = targets.numpy(), batch_images.numpy().mean(axis=-1)
    # Colour jitter moves the levels but keeps their order: a pixel is white iff it is above its image's midpoint.
    for index in range(len(targets)):
        labelled = targets[index] != IGNORE
        midpoint = (brightness[index].min() + brightness[index].max()) / 2
        white = brightness[index][labelled] > midpoint
        assert np.mean(white == (targets[index][labelled] == 1)) > 0.97  # all but the blended edge column
    assert not np.array_equal(targets, masks)  # the policy did move something


def _tiny_segmenter(num_classes, shape):
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="softmax")(x), name="tiny_segmenter")


def test_train_segmenter_reports_its_schedule_weights_and_default_augmentation(tmp_path):
    spec = write_segmentation_examples(str(tmp_path / "ex"), str(tmp_path / "ds"), {"train": 8, "eval": 4}, size=16)
    config = TrainingConfig(epochs=1, batch_size=4, verbose=0)
    _, history, metrics, details = segmentation.train_segmenter(str(tmp_path / "ex"), spec, config,
                                                                build_model=_tiny_segmenter)
    assert details["schedule"]["epochs"] == 1 and details["schedule"]["batch_size"] == 4
    assert details["default_augmentation"] is True
    weights = details["class_weights"]
    assert len(weights) == 3 and weights[0] < min(weights[1:])  # background is the most frequent class
    assert len(history["loss"]) == 1 and 0.0 <= metrics["eval_mean_iou"] <= 1.0
