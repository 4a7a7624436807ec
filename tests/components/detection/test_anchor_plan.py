"""Anchors planned from the data's boxes: levels, sizes and aspect ratios follow the box statistics."""

import numpy as np
import pytest

from components.training import detection


def _boxes(sizes_px, ratios, image_side):
    """Centered boxes with sqrt(h*w) = size and h/w = ratio, normalized to image_side."""
    sizes, ratios = np.asarray(sizes_px, float), np.asarray(ratios, float)
    heights, widths = sizes * np.sqrt(ratios), sizes / np.sqrt(ratios)
    center = image_side / 2
    boxes = np.stack([center - heights / 2, center - widths / 2, center + heights / 2, center + widths / 2], -1)
    return (boxes / image_side)[:, None, :].astype(np.float32), np.zeros((len(sizes), 1), np.int32)


def _anchor_range(plan):
    smallest = plan.anchor_size * 2**plan.min_level
    largest = plan.anchor_size * 2**plan.max_level * 2 ** ((plan.num_scales - 1) / plan.num_scales)
    return smallest, largest


def test_anchors_cover_the_box_sizes():
    sizes = np.linspace(12, 60, 200)
    plan = detection.plan_anchors(*_boxes(sizes, np.ones(200), 128), (128, 128))
    smallest, largest = _anchor_range(plan)
    assert smallest == pytest.approx(np.quantile(sizes, 0.05), rel=0.01)
    assert largest >= np.quantile(sizes, 0.95)
    assert 2 <= plan.anchor_size < 4 and plan.aspect_ratios == (1.0,)


def test_plan_scales_with_the_objects_not_with_constants():
    boxes, labels = _boxes(np.linspace(10, 20, 50), np.ones(50), 96)
    small = detection.plan_anchors(boxes, labels, (96, 96))
    large = detection.plan_anchors(boxes, labels, (384, 384))  # same scenes, 4x the pixels
    assert large.min_level == small.min_level + 2
    assert _anchor_range(large)[0] == pytest.approx(4 * _anchor_range(small)[0], rel=0.01)


def test_aspect_ratios_follow_the_boxes():
    tall = detection.plan_anchors(*_boxes(np.full(30, 24.0), np.full(30, 2.0), 96), (96, 96))
    assert tall.aspect_ratios == (2.0,)
    mixed_ratios = np.repeat([0.5, 1.0, 2.5], 20)
    mixed = detection.plan_anchors(*_boxes(np.full(60, 24.0), mixed_ratios, 96), (96, 96))
    assert mixed.aspect_ratios == (0.5, 1.0, 2.5)


def test_padding_is_ignored_and_empty_data_is_refused():
    boxes, labels = _boxes([30.0], [1.0], 96)
    padded_boxes = np.concatenate([boxes, np.full_like(boxes, -1.0)], axis=1)
    padded_labels = np.concatenate([labels, np.full_like(labels, -1)], axis=1)
    assert detection.plan_anchors(padded_boxes, padded_labels, (96, 96)) == detection.plan_anchors(boxes, labels, (96, 96))
    with pytest.raises(ValueError, match="needs boxes in the train split"):
        detection.plan_anchors(padded_boxes[:, 1:], padded_labels[:, 1:], (96, 96))


def test_detector_image_size_rounds_up_to_the_pyramid_multiple():
    assert detection.detector_image_size((96, 100)) == (96, 128)
