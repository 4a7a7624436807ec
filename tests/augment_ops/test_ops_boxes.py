"""Boxes move with the pixels: exact answers, shape priors, masks as witnesses.

Run without XLA for speed; the conformance tests check that compiled ops agree.
"""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import boxes as boxes_lib
from augment_ops import registry
from augment_ops.options import AugmentOptions

BOX = np.array([0.1, 0.2, 0.5, 0.7], np.float32)  # ymin, xmin, ymax, xmax
PAD = np.array([-1, -1, -1, -1], np.float32)
LOOSE = AugmentOptions(xla=False, min_box_visibility=0.0)
STRICT = AugmentOptions(xla=False, min_box_visibility=0.6)


def _boxes_after(name, magnitude, boxes, size=(16, 16), options=AugmentOptions(xla=False), seed=0):
    batch = {
        "images": tf.zeros([len(boxes), size[0], size[1], 3]),
        "boxes": tf.constant(np.asarray(boxes, np.float32)),
        "box_labels": tf.constant(np.where(np.asarray(boxes)[..., 0] >= 0, 1, -1).astype(np.int32)),
    }
    out = registry.apply_op(name, batch, magnitude, 1.0, seed, options)
    return np.asarray(out["boxes"]), np.asarray(out["box_labels"])


@pytest.mark.parametrize(
    "name, magnitude, expected",
    [
        ("flip_left_right", 1.0, [0.1, 0.3, 0.5, 0.8]),
        ("flip_up_down", 1.0, [0.5, 0.2, 0.9, 0.7]),
        ("rot90", 1 / 3, [0.3, 0.1, 0.8, 0.5]),  # (x, y) -> (y, 1 - x)
        ("rot90", 2 / 3, [0.5, 0.3, 0.9, 0.8]),
        ("rot90", 1.0, [0.2, 0.5, 0.7, 0.9]),  # (x, y) -> (1 - y, x)
    ],
)
def test_exact_boxes_for_flips_and_rot90(name, magnitude, expected):
    out, labels = _boxes_after(name, magnitude, [[BOX, PAD]])
    np.testing.assert_allclose(out[0, 0], expected, atol=1e-6)
    np.testing.assert_array_equal(out[0, 1], PAD)
    np.testing.assert_array_equal(labels[0], [1, -1])


@pytest.mark.parametrize("magnitude", [0.3, 0.7, 1.0])
def test_ellipse_and_diamond_priors_lie_inside_the_rectangle_prior_under_rotation(magnitude):
    boxes = [[BOX, [0.3, 0.3, 0.6, 0.5]]]
    results = {
        prior: _boxes_after("rotate", magnitude, boxes, (24, 32), AugmentOptions(xla=False, box_prior=prior))[0]
        for prior in ("rectangle", "ellipse", "diamond")
    }
    rectangle = results["rectangle"]
    for prior in ("ellipse", "diamond"):
        inner = results[prior]
        assert np.all(inner[..., :2] >= rectangle[..., :2] - 1e-6)
        assert np.all(inner[..., 2:] <= rectangle[..., 2:] + 1e-6)
        # Strictly tighter for a real rotation.
        assert np.all((inner[..., 2:] - inner[..., :2]) < (rectangle[..., 2:] - rectangle[..., :2]) - 1e-3)


def test_ellipse_prior_is_exact_for_the_inscribed_ellipse_of_a_square():
    # A circle stays a circle of the same radius under rotation (square image).
    circle = np.array([0.3, 0.3, 0.7, 0.7], np.float32)
    out, _ = _boxes_after("rotate", 1.0, [[circle]], (32, 32), AugmentOptions(xla=False, box_prior="ellipse"))
    np.testing.assert_allclose(out[0, 0], circle, atol=1e-5)


def _mask_of_box(box, height, width):
    mask = np.zeros((height, width), np.int32)
    top, left = int(round(box[0] * height)), int(round(box[1] * width))
    bottom, right = int(round(box[2] * height)), int(round(box[3] * width))
    mask[top:bottom, left:right] = 1
    return mask


def _box_of_mask(mask):
    rows, cols = np.nonzero(mask == 1)
    height, width = mask.shape
    return np.array([rows.min() / height, cols.min() / width, (rows.max() + 1) / height, (cols.max() + 1) / width])


@pytest.mark.parametrize("name", registry.op_names(registry.GEOMETRIC))
@pytest.mark.parametrize("magnitude", [0.4, 1.0])
def test_box_drawn_as_a_mask_moves_like_the_box_within_a_pixel(name, magnitude):
    height, width = 24, 32
    box = np.array([6 / 24, 10 / 32, 18 / 24, 22 / 32], np.float32)
    mask = _mask_of_box(box, height, width)
    batch = {
        "images": tf.zeros([1, height, width, 3]),
        "boxes": tf.constant(box[None, None]),
        "masks": tf.constant(mask[None, :, :, None]),
    }
    out = registry.apply_op(name, batch, magnitude, 1.0, seed=5, options=AugmentOptions(xla=False))
    moved_box = np.asarray(out["boxes"])[0, 0]
    assert moved_box[0] >= 0, "the box was dropped"
    witness = _box_of_mask(np.asarray(out["masks"])[0, :, :, 0])
    tolerance = np.array([1 / height, 1 / width, 1 / height, 1 / width]) + 1e-6
    assert np.all(np.abs(moved_box - witness) <= tolerance), (moved_box, witness)


def test_boxes_mostly_outside_are_dropped_and_edges_clipped():
    near_edge = np.array([0.1, 0.8, 0.3, 0.95], np.float32)  # right side, 15% wide
    mostly_in = np.array([0.1, 0.3, 0.3, 0.6], np.float32)
    for seed in range(8):  # find a seed that shifts right
        out, labels = _boxes_after("translate_x", 1.0, [[near_edge, mostly_in, PAD]], seed=seed)
        if out[0, 1, 1] > mostly_in[1]:
            break
    np.testing.assert_array_equal(out[0, 0], PAD)
    assert labels[0, 0] == -1 and labels[0, 1] == 1
    # mostly_in shifted by 0.3: x from 0.6 to 0.9, not clipped.
    np.testing.assert_allclose(out[0, 1], [0.1, 0.6, 0.3, 0.9], atol=1e-6)
    zoomed, _ = _boxes_after("zoom_in", 1.0, [[[0.0, 0.0, 0.5, 0.5]]])
    np.testing.assert_allclose(zoomed[0, 0], [0.0, 0.0, 0.5, 0.5], atol=1e-6)  # corner box scaled 2x then clipped
    out, _ = _boxes_after("zoom_in", 1.0, [[[0.0, 0.0, 0.2, 0.2]]])
    np.testing.assert_array_equal(out[0, 0], PAD)  # 0.2 -> [-0.5, -0.1]: outside


def test_min_visibility_option_decides_drops():
    box = [[[0.1, 0.0, 0.3, 0.3]]]
    for seed in range(8):
        loose, _ = _boxes_after("translate_x", 0.5, box, options=LOOSE, seed=seed)
        if loose[0, 0, 3] < 0.3:  # moved left: 0.15 of 0.3 stays inside = 50%
            break
    strict, _ = _boxes_after("translate_x", 0.5, box, options=STRICT, seed=seed)
    np.testing.assert_allclose(loose[0, 0], [0.1, 0.0, 0.3, 0.15], atol=1e-6)
    np.testing.assert_array_equal(strict[0, 0], PAD)


def test_transform_boxes_identity_and_padding_rows():
    boxes = tf.constant([[BOX, PAD]])
    out, kept = boxes_lib.transform_boxes(boxes, tf.eye(3, batch_shape=[1]), 16, 16)
    np.testing.assert_allclose(out, boxes, atol=1e-6)
    np.testing.assert_array_equal(kept, [[True, False]])


def test_cutmix_partner_boxes_are_clipped_to_the_pasted_patch():
    rng = np.random.default_rng(0)
    size = 32
    boxes = np.array([[[0.0, 0.0, 1.0, 1.0]]] * 4, np.float32)  # whole-image boxes
    batch = {
        "images": tf.constant(rng.random((4, size, size, 3)), tf.float32),
        "labels": tf.one_hot([0, 1, 2, 3], 4),
        "boxes": tf.constant(boxes),
        "box_labels": tf.constant([[0], [1], [2], [3]]),
    }
    out = registry.apply_op("cutmix", batch, 1.0, 1.0, seed=2, options=LOOSE)
    images, out_boxes = np.asarray(out["images"]), np.asarray(out["boxes"])
    labels, box_labels = np.asarray(out["labels"]), np.asarray(out["box_labels"])
    for sample in range(4):
        changed = np.any(images[sample] != np.asarray(batch["images"])[sample], axis=-1)
        partner_box = out_boxes[sample, 1]
        assert partner_box[0] >= 0, "the partner's box was dropped"
        np.testing.assert_allclose(partner_box, _box_of_mask(changed.astype(np.int32)), atol=1e-6)
        partner_class = box_labels[sample, 1]
        # The soft label gives the partner its pixel share.
        share = changed.mean()
        assert abs(labels[sample, partner_class] - share) < 1e-6 and abs(labels[sample, sample] - (1 - share)) < 1e-6
        np.testing.assert_allclose(out_boxes[sample, 0], [0, 0, 1, 1])  # own box mostly visible: kept
