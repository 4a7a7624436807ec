"""Small-data defaults of the detection trainer: box-aware default augmentation and a step floor on epochs."""

import dataclasses

import numpy as np
import pytest

from augment_ops import registry
from components.training import detection, detection_defaults
from components.training.spec import TrainingConfig

SIZE = 64


def _bright_squares(count: int, seed: int):
    """Black images with 1-2 white squares; boxes are the squares' exact extent."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, SIZE, SIZE, 3), np.float32)
    boxes = np.full((count, 2, 4), -1.0, np.float32)
    labels = np.full((count, 2), -1, np.int32)
    for index in range(count):
        for slot in range(rng.integers(1, 3)):
            side = int(rng.integers(10, 18))
            top, left = (int(v) for v in rng.integers(slot * 30, slot * 30 + SIZE // 2 - side, 2))
            images[index, top : top + side, left : left + side] = 1.0
            boxes[index, slot] = np.array([top, left, top + side, left + side]) / SIZE
            labels[index, slot] = slot
    return images, boxes, labels


def test_default_policy_moves_boxes_with_the_pixels():
    """After the default augmentation each kept box still frames its square: bright inside, dark around it."""
    images, boxes, labels = _bright_squares(16, seed=0)
    dataset = detection.training_dataset(images, boxes, labels, 8, seed=1, policy=detection_defaults.DEFAULT_POLICY)
    moved = 0
    for batch_images, targets in dataset:
        batch_images, library_boxes = batch_images.numpy(), targets["boxes"].numpy()
        for image, image_boxes, original in zip(batch_images, library_boxes, boxes):
            for x0, y0, x1, y1 in image_boxes[image_boxes[:, 0] >= 0]:
                inner = image[int(np.ceil(y0)) + 2 : int(y1) - 2, int(np.ceil(x0)) + 2 : int(x1) - 2].mean(axis=-1)
                assert inner.size and np.median(inner) > 0.3  # colour jitter scales the white, boxes stay on it
                ring = np.ones(image.shape[:2], bool)
                ring[max(0, int(y0) - 1) : int(np.ceil(y1)) + 1, max(0, int(x0) - 1) : int(np.ceil(x1)) + 1] = False
                outside = image.mean(axis=-1)[ring]
                near = np.zeros_like(ring)
                near[max(0, int(y0) - 4) : int(y1) + 4, max(0, int(x0) - 4) : int(x1) + 4] = True
                assert outside[near[ring]].max(initial=0.0) < 0.5  # no bright pixel just outside the box
            kept = original[original[:, 0] >= 0] * SIZE
            shown = image_boxes[image_boxes[:, 0] >= 0][:, [1, 0, 3, 2]]  # pixel xyxy -> yxyx
            if len(kept) != len(shown) or not np.allclose(np.sort(kept, axis=0), np.sort(shown, axis=0), atol=0.5):
                moved += 1
    assert moved >= 4  # the policy did change most scenes (zoom, shift)


def test_default_policy_is_box_safe():
    """Only ops that move boxes with the pixels or leave geometry alone: no mixing, no occlusion."""
    families = {registry.get_op(name).family for name in detection_defaults.DEFAULT_POLICY.op_names}
    assert families <= {registry.GEOMETRIC, registry.COLOR}
    assert not detection_defaults.DEFAULT_POLICY.uses_labels


@pytest.mark.parametrize(
    "config, steps, expected",
    [
        (TrainingConfig(), 10, detection_defaults.MIN_TRAINING_STEPS // 10),  # the untouched default is raised
        (TrainingConfig(), 10 * detection_defaults.MIN_TRAINING_STEPS, TrainingConfig().epochs),  # already enough steps
        (TrainingConfig(epochs=3), 10, 3),  # a value set in Python is kept
        (TrainingConfig(explicit_fields=("epochs",)), 10, TrainingConfig().epochs),  # set in the YAML
    ],
)
def test_planned_epochs_raise_only_the_untouched_default(config, steps, expected):
    assert detection_defaults.planned_epochs(config, steps) == expected


def test_planned_epochs_round_up_to_whole_epochs():
    steps = 7
    epochs = detection_defaults.planned_epochs(dataclasses.replace(TrainingConfig()), steps)
    assert epochs * steps >= detection_defaults.MIN_TRAINING_STEPS > (epochs - 1) * steps


@pytest.mark.slow  # trains two tiny detectors (~1 min on a shared CPU)
def test_train_detector_uses_the_default_policy_only_without_a_searched_one(tmp_path):
    from tests.support.shapes import write_shape_detection_examples

    spec = write_shape_detection_examples(str(tmp_path / "ex"), str(tmp_path / "ds"), {"train": 8, "eval": 4},
                                          shape="disc", size=32)
    config = TrainingConfig(epochs=1, batch_size=4, verbose=0, seed=0)
    _, _, _, details = detection.train_detector(str(tmp_path / "ex"), spec, config)
    assert details["training_augmentation"]["name"] == detection_defaults.DEFAULT_POLICY.name
    assert details["epochs"] == 1  # set in Python: kept
    _, _, _, plain = detection.train_detector(str(tmp_path / "ex"), spec, config, default_policy=None)
    assert plain["training_augmentation"] is None
