"""Bounding boxes under the same 3x3 matrices that move the pixels.

Boxes are normalized (ymin, xmin, ymax, xmax), shape [B,N,4]; padded rows are
-1. Matrices are forward maps (input point -> output point) in centered pixel
coordinates: X = (x - 0.5) * width, Y = (y - 0.5) * height, where x, y are
normalized coordinates. This frame makes rotations true rotations on
non-square images.
"""

import tensorflow as tf

from augment_ops.batch import BOX_PADDING_VALUE

# Eps for "this row is a real box" checks on normalized coordinates.
_EPSILON = 1e-6


def valid_boxes(boxes: tf.Tensor) -> tf.Tensor:
    """Real (non-padded, non-empty) rows of `boxes [B,N,4]`, bool [B,N]."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    return (tf.reduce_all(boxes >= 0.0, axis=-1)) & (ymax > ymin) & (xmax > xmin)


def _apply_affine(points_x, points_y, forward):
    """Applies [B,3,3] matrices to points of shape [B,N,P] (centered pixels)."""
    m = forward[:, None, None, :, :]  # [B,1,1,3,3]
    out_x = m[..., 0, 0] * points_x + m[..., 0, 1] * points_y + m[..., 0, 2]
    out_y = m[..., 1, 0] * points_x + m[..., 1, 1] * points_y + m[..., 1, 2]
    return out_x, out_y


def _prior_points(boxes, height, width, prior):
    """Points of the assumed object outline in centered pixels, [B,N,P] each."""
    ymin, xmin, ymax, xmax = [c[..., None] for c in tf.unstack(boxes, axis=-1)]
    if prior == "rectangle":
        xs = tf.concat([xmin, xmax, xmin, xmax], axis=-1)
        ys = tf.concat([ymin, ymin, ymax, ymax], axis=-1)
    elif prior == "diamond":
        xc, yc = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
        xs = tf.concat([xc, xmax, xc, xmin], axis=-1)
        ys = tf.concat([ymin, yc, ymax, yc], axis=-1)
    else:
        raise ValueError(f"Unknown point prior {prior!r}.")
    return (xs - 0.5) * width, (ys - 0.5) * height


def _transformed_extent(boxes, forward, height, width, prior):
    """Axis-aligned extent of the transformed prior, normalized, 4 x [B,N]."""
    if prior == "ellipse":
        # The image of an ellipse under an affine map is an ellipse whose
        # bounding box is exact in closed form: for semi-axis vectors u, v the
        # half-extent along X is sqrt(u_x^2 + v_x^2). This is exact where
        # sampling points on the ellipse would underestimate.
        ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
        center_x = ((xmin + xmax) / 2.0 - 0.5) * width
        center_y = ((ymin + ymax) / 2.0 - 0.5) * height
        semi_x = (xmax - xmin) / 2.0 * width
        semi_y = (ymax - ymin) / 2.0 * height
        new_cx, new_cy = _apply_affine(center_x[..., None], center_y[..., None], forward)
        new_cx, new_cy = new_cx[..., 0], new_cy[..., 0]
        m = forward[:, None, :, :]
        half_x = tf.sqrt(tf.square(m[..., 0, 0] * semi_x) + tf.square(m[..., 0, 1] * semi_y))
        half_y = tf.sqrt(tf.square(m[..., 1, 0] * semi_x) + tf.square(m[..., 1, 1] * semi_y))
        lo_x, hi_x, lo_y, hi_y = new_cx - half_x, new_cx + half_x, new_cy - half_y, new_cy + half_y
    else:
        xs, ys = _prior_points(boxes, height, width, prior)
        xs, ys = _apply_affine(xs, ys, forward)
        lo_x, hi_x = tf.reduce_min(xs, axis=-1), tf.reduce_max(xs, axis=-1)
        lo_y, hi_y = tf.reduce_min(ys, axis=-1), tf.reduce_max(ys, axis=-1)
    return lo_y / height + 0.5, lo_x / width + 0.5, hi_y / height + 0.5, hi_x / width + 0.5


def clip_and_filter(boxes, valid, height, width, min_visibility, min_size):
    """Clips boxes to the image and drops those mostly outside or degenerate.

    Args:
      boxes: [B,N,4] normalized, possibly outside [0,1].
      valid: bool [B,N], rows that were real boxes before the transform.
      height, width: image size in pixels.
      min_visibility: smallest kept fraction of a box's area inside the image.
      min_size: smallest kept side in pixels after clipping.

    Returns:
      (boxes [B,N,4] clipped with dropped rows = -1, kept bool [B,N]).
    """
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    area = (ymax - ymin) * (xmax - xmin)
    clipped = tf.clip_by_value(boxes, 0.0, 1.0)
    cymin, cxmin, cymax, cxmax = tf.unstack(clipped, axis=-1)
    clipped_h = (cymax - cymin) * tf.cast(height, tf.float32)
    clipped_w = (cxmax - cxmin) * tf.cast(width, tf.float32)
    clipped_area = (cymax - cymin) * (cxmax - cxmin)
    kept = (
        valid
        & (clipped_h >= tf.maximum(min_size, _EPSILON))
        & (clipped_w >= tf.maximum(min_size, _EPSILON))
        & (clipped_area >= min_visibility * area - _EPSILON)
    )
    return tf.where(kept[..., None], clipped, BOX_PADDING_VALUE), kept


def transform_boxes(boxes, forward, height, width, prior="rectangle", min_visibility=0.25, min_size=1.0):
    """Moves boxes with forward affine matrices, then clips and filters them.

    Args:
      boxes: [B,N,4] normalized ymin, xmin, ymax, xmax; padded rows -1.
      forward: [B,3,3] float32 forward affine maps in centered pixels.
      height, width: image size in pixels (ints or scalar tensors).
      prior: "rectangle", "ellipse" or "diamond" (see AugmentOptions).
      min_visibility: see `clip_and_filter`.
      min_size: see `clip_and_filter`.

    Returns:
      (boxes [B,N,4], kept bool [B,N]); dropped and padded rows are -1.
    """
    boxes = tf.cast(boxes, tf.float32)
    valid = valid_boxes(boxes)
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    moved = tf.stack(_transformed_extent(boxes, tf.cast(forward, tf.float32), h, w, prior), axis=-1)
    return clip_and_filter(moved, valid, h, w, min_visibility, min_size)


def drop_labels(box_labels: tf.Tensor, kept: tf.Tensor) -> tf.Tensor:
    """Sets the labels of dropped boxes to -1, [B,N]."""
    return tf.where(kept, box_labels, tf.cast(-1, box_labels.dtype))
