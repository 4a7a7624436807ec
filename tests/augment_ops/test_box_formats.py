"""Box formats: each format round-trips through the pivot; anchor coding inverts; TF and NumPy agree."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from augment_ops import box_formats

PLAIN_FORMATS = [fmt for fmt in box_formats.FORMATS if fmt != box_formats.ANCHOR_ENCODED]

_unit = st.floats(0.0, 1.0, allow_nan=False, width=64)


@st.composite
def pivot_boxes(draw, min_size=1e-3):
    """`[N, 4]` valid normalized yxyx boxes."""
    count = draw(st.integers(1, 6))
    corners = draw(hnp.arrays(np.float64, (count, 2, 2), elements=_unit))
    low = np.minimum(corners[:, 0], corners[:, 1])
    high = np.maximum(corners[:, 0], corners[:, 1]) + min_size
    return np.concatenate([low, high], axis=1)


image_sizes = st.tuples(st.integers(1, 4000), st.integers(1, 4000))


@settings(max_examples=60, deadline=None)
@given(boxes=pivot_boxes(), image_size=image_sizes, fmt=st.sampled_from(PLAIN_FORMATS))
def test_every_format_round_trips_through_pivot(boxes, image_size, fmt):
    converted = box_formats.from_pivot(boxes, fmt, image_size=image_size)
    back = box_formats.to_pivot(converted, fmt, image_size=image_size)
    np.testing.assert_allclose(back, boxes, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    boxes=pivot_boxes(),
    image_size=image_sizes,
    source=st.sampled_from(PLAIN_FORMATS),
    target=st.sampled_from(PLAIN_FORMATS),
)
def test_any_pair_converts_and_back(boxes, image_size, source, target):
    in_source = box_formats.from_pivot(boxes, source, image_size=image_size)
    in_target = box_formats.convert(in_source, source, target, image_size=image_size)
    again = box_formats.convert(in_target, target, source, image_size=image_size)
    np.testing.assert_allclose(again, in_source, rtol=1e-9, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(boxes=pivot_boxes(min_size=1e-2), anchors=pivot_boxes(min_size=1e-2))
def test_anchor_encode_decode_inverts(boxes, anchors):
    anchors = np.resize(anchors, boxes.shape)
    encoded = box_formats.encode_with_anchors(boxes, anchors)
    np.testing.assert_allclose(box_formats.decode_with_anchors(encoded, anchors), boxes, atol=1e-7)


def test_known_values_by_hand():
    # A 100-high, 200-wide image; the box spans rows 10..30 and columns 20..60.
    size = (100, 200)
    pivot = np.array([[0.1, 0.1, 0.3, 0.3]])
    expected = {
        "voc": [20, 10, 60, 30],
        "coco": [20, 10, 40, 20],
        "yolo": [0.2, 0.2, 0.2, 0.2],
        "albumentations": [0.1, 0.1, 0.3, 0.3],
        "tf": [0.1, 0.1, 0.3, 0.3],
    }
    for fmt, values in expected.items():
        np.testing.assert_allclose(box_formats.from_pivot(pivot, fmt, image_size=size), [values], err_msg=fmt)
        np.testing.assert_allclose(box_formats.to_pivot([values], fmt, image_size=size), pivot, err_msg=fmt)


def test_anchor_coding_matches_the_faster_rcnn_formula():
    anchor = np.array([[0.2, 0.2, 0.6, 0.4]])  # center (0.4, 0.3), size 0.4 x 0.2
    box = np.array([[0.3, 0.25, 0.5, 0.45]])  # center (0.4, 0.35), size 0.2 x 0.2
    encoded = box_formats.encode_with_anchors(box, anchor)
    expected = [0.0, 10 * 0.05 / 0.2, 5 * np.log(0.2 / 0.4), 5 * np.log(0.2 / 0.2)]
    np.testing.assert_allclose(encoded, [expected], atol=1e-6)
    custom = box_formats.encode_with_anchors(box, anchor, scale_factors=(1, 1, 1, 1))
    np.testing.assert_allclose(custom, [[0.0, 0.25, np.log(0.5), 0.0]], atol=1e-6)


def test_tensorflow_matches_numpy_in_graph_mode_with_per_image_sizes():
    rng = np.random.default_rng(0)
    corners = np.sort(rng.random((3, 5, 2, 2)), axis=2)
    boxes = np.stack([corners[..., 0, 0], corners[..., 0, 1], corners[..., 1, 0], corners[..., 1, 1]], -1)
    heights, widths = np.array([[100.0], [240.0], [33.0]]), np.array([[50.0], [320.0], [64.0]])

    @tf.function(jit_compile=True)
    def to_coco_and_back(tensor):
        coco = box_formats.from_pivot(tensor, "coco", image_size=(heights, widths))
        return coco, box_formats.to_pivot(coco, "coco", image_size=(heights, widths))

    coco, back = to_coco_and_back(tf.constant(boxes, tf.float32))
    expected = box_formats.from_pivot(boxes, "coco", image_size=(heights, widths))
    assert isinstance(expected, np.ndarray)
    np.testing.assert_allclose(coco.numpy(), expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(back.numpy(), boxes, atol=1e-5)
    anchors = tf.constant(np.resize(boxes, boxes.shape), tf.float32)
    decoded = box_formats.decode_with_anchors(box_formats.encode_with_anchors(anchors * 0.9 + 0.05, anchors), anchors)
    np.testing.assert_allclose(decoded.numpy(), (anchors * 0.9 + 0.05).numpy(), atol=1e-5)


def test_integer_pixel_boxes_become_float():
    result = box_formats.to_pivot(np.array([[0, 0, 10, 10]]), "voc", image_size=(20, 40))
    assert result.dtype.kind == "f"
    np.testing.assert_allclose(result, [[0, 0, 0.5, 0.25]])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: box_formats.to_pivot([[0, 0, 1, 1]], "xyxy"), "Unknown box format 'xyxy'"),
        (lambda: box_formats.to_pivot([[0, 0, 1, 1]], "voc"), "image_size"),
        (lambda: box_formats.from_pivot([[0, 0, 1, 1]], "coco"), "image_size"),
        (lambda: box_formats.to_pivot([[0, 0, 1, 1]], "anchor_encoded"), "anchors"),
        (
            lambda: box_formats.encode_with_anchors([[0, 0, 1, 1]], [[0, 0, 1, 1]], scale_factors=(1, 1)),
            "scale_factors",
        ),
    ],
)
def test_bad_arguments_fail_with_clear_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()
