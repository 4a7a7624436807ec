"""Geometric ops as per-sample 3x3 matrices, fused into one projective warp.

Each op only builds a forward matrix [B,3,3] (input point -> output point) in
centered pixel coordinates (X = (x - 0.5) * width, Y = (y - 0.5) * height,
y pointing down). Matrices of several ops multiply into one, so a policy with
rotate + shear + translate resamples the image once. `apply_matrices` warps
images (warp.py: a gather-based projective warp, or
ImageProjectiveTransformV3), masks (nearest) and boxes with it.

Magnitude 0 gives the identity matrix exactly; flips are binary (any
magnitude > 0 flips) and rot90 turns ceil(3 * magnitude) quarter turns.
With options.warp="projective" these ops cannot run under jit_compile
(ImageProjectiveTransformV3 has no XLA kernel; see registry).
"""

import math

import tensorflow as tf

from augment_ops import boxes as boxes_lib
from augment_ops import masks as masks_lib
from augment_ops import seeds, warp
from augment_ops.batch import BOX_LABELS, BOXES, IMAGES, MASKS, Batch, image_size, with_updates
from augment_ops.options import AugmentOptions

MAX_ROTATION_DEGREES = 30.0
MAX_SHEAR = 0.3
MAX_TRANSLATION = 0.3  # fraction of the image side
MAX_ZOOM_IN = 2.0  # scale factor at magnitude 1
MAX_ZOOM_OUT = 2.0  # shrink factor at magnitude 1
MIN_CROP_AREA = 0.08  # random resized crop area fraction at magnitude 1
MAX_CROP_LOG_RATIO = math.log(4.0 / 3.0)


def _affine(a, b, c, d, e, f):
    """Stacks per-sample coefficients [B] into [B,3,3] [[a,b,c],[d,e,f],[0,0,1]]."""
    zeros = tf.zeros_like(a)
    ones = tf.ones_like(a)
    return tf.reshape(tf.stack([a, b, c, d, e, f, zeros, zeros, ones], axis=-1), [-1, 3, 3])


def identity(batch_size) -> tf.Tensor:
    """[B,3,3] identity matrices."""
    return tf.eye(3, batch_shape=[batch_size], dtype=tf.float32)


def _scale(sx, sy):
    zeros = tf.zeros_like(sx)
    return _affine(sx, zeros, zeros, zeros, sy, zeros)


def _rotation(cos, sin):
    # Counter-clockwise on screen (y down): (X, Y) -> (X cos + Y sin, -X sin + Y cos).
    zeros = tf.zeros_like(cos)
    return _affine(cos, sin, zeros, -sin, cos, zeros)


def flip_left_right(magnitude, seed, height, width):
    del seed, height, width
    sign = tf.where(magnitude > 0, -1.0, 1.0)
    return _scale(sign, tf.ones_like(sign))


def flip_up_down(magnitude, seed, height, width):
    del seed, height, width
    sign = tf.where(magnitude > 0, -1.0, 1.0)
    return _scale(tf.ones_like(sign), sign)


def _quarter_turns(magnitude):
    """ceil(3 m) in {0,1,2,3}; the 1e-4 keeps m = 1/3 (float 0.33333334) at one turn."""
    return tf.cast(tf.clip_by_value(tf.math.ceil(3.0 * magnitude - 1e-4), 0.0, 3.0), tf.int32)


def rot90(magnitude, seed, height, width):
    """ceil(3 * magnitude) counter-clockwise quarter turns, with exact integer entries."""
    del seed, height, width
    turns = _quarter_turns(magnitude)
    cos = tf.gather(tf.constant([1.0, 0.0, -1.0, 0.0]), turns)
    sin = tf.gather(tf.constant([0.0, 1.0, 0.0, -1.0]), turns)
    return _rotation(cos, sin)


def rotate(magnitude, seed, height, width):
    """Up to MAX_ROTATION_DEGREES either way about the image center."""
    del height, width
    angle = seeds.random_sign(seed, tf.shape(magnitude)[0]) * magnitude * (MAX_ROTATION_DEGREES * math.pi / 180.0)
    return _rotation(tf.cos(angle), tf.sin(angle))


def zoom_in(magnitude, seed, height, width):
    del seed, height, width
    scale = 1.0 + magnitude * (MAX_ZOOM_IN - 1.0)
    return _scale(scale, scale)


def zoom_out(magnitude, seed, height, width):
    del seed, height, width
    scale = 1.0 / (1.0 + magnitude * (MAX_ZOOM_OUT - 1.0))
    return _scale(scale, scale)


def shear_x(magnitude, seed, height, width):
    del height, width
    shear = seeds.random_sign(seed, tf.shape(magnitude)[0]) * magnitude * MAX_SHEAR
    zeros, ones = tf.zeros_like(shear), tf.ones_like(shear)
    return _affine(ones, shear, zeros, zeros, ones, zeros)


def shear_y(magnitude, seed, height, width):
    del height, width
    shear = seeds.random_sign(seed, tf.shape(magnitude)[0]) * magnitude * MAX_SHEAR
    zeros, ones = tf.zeros_like(shear), tf.ones_like(shear)
    return _affine(ones, zeros, zeros, shear, ones, zeros)


def translate_x(magnitude, seed, height, width):
    del height
    shift = seeds.random_sign(seed, tf.shape(magnitude)[0]) * magnitude * MAX_TRANSLATION * tf.cast(width, tf.float32)
    zeros, ones = tf.zeros_like(shift), tf.ones_like(shift)
    return _affine(ones, zeros, shift, zeros, ones, zeros)


def translate_y(magnitude, seed, height, width):
    del width
    shift = seeds.random_sign(seed, tf.shape(magnitude)[0]) * magnitude * MAX_TRANSLATION * tf.cast(height, tf.float32)
    zeros, ones = tf.zeros_like(shift), tf.ones_like(shift)
    return _affine(ones, zeros, zeros, zeros, ones, shift)


def random_resized_crop(magnitude, seed, height, width):
    """Crops a random region and scales it to the full image.

    At magnitude 1 the area fraction is uniform in [MIN_CROP_AREA, 1] and the
    aspect ratio log-uniform in [3/4, 4/3] (the Inception crop); magnitude
    shrinks both ranges toward the identity.
    """
    batch_size = tf.shape(magnitude)[0]
    draws = seeds.uniform(seed, [4, batch_size])
    area = 1.0 - magnitude * (1.0 - MIN_CROP_AREA) * draws[0]
    ratio = tf.exp(magnitude * MAX_CROP_LOG_RATIO * (2.0 * draws[1] - 1.0))
    crop_w = tf.minimum(tf.sqrt(area * ratio), 1.0)
    crop_h = tf.minimum(tf.sqrt(area / ratio), 1.0)
    center_x = crop_w / 2.0 + draws[2] * (1.0 - crop_w)
    center_y = crop_h / 2.0 + draws[3] * (1.0 - crop_h)
    w = tf.cast(width, tf.float32)
    h = tf.cast(height, tf.float32)
    zeros = tf.zeros_like(crop_w)
    # X' = (X - (cx - 0.5) W) / crop_w, likewise for Y.
    return _affine(
        1.0 / crop_w, zeros, -(center_x - 0.5) * w / crop_w, zeros, 1.0 / crop_h, -(center_y - 0.5) * h / crop_h
    )


GEOMETRIC_MATRICES = {
    "flip_left_right": flip_left_right,
    "flip_up_down": flip_up_down,
    "rot90": rot90,
    "rotate": rotate,
    "zoom_in": zoom_in,
    "zoom_out": zoom_out,
    "shear_x": shear_x,
    "shear_y": shear_y,
    "translate_x": translate_x,
    "translate_y": translate_y,
    "random_resized_crop": random_resized_crop,
}


def invert_affine(forward: tf.Tensor) -> tf.Tensor:
    """Closed-form inverse of [B,3,3] affine matrices (exact for integer entries)."""
    a, b, c = forward[:, 0, 0], forward[:, 0, 1], forward[:, 0, 2]
    d, e, f = forward[:, 1, 0], forward[:, 1, 1], forward[:, 1, 2]
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return _affine(ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f))


def pixel_transforms(forward: tf.Tensor, height, width) -> tf.Tensor:
    """ImageProjectiveTransformV3 parameters [B,8] for forward matrices.

    The kernel maps each output pixel (x = column, y = row, centers at
    integers) to its input location, so it needs the inverse map, moved from
    the centered frame to pixel indices: X = x - (width - 1) / 2.
    """
    inverse = invert_affine(forward)
    cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    a, b, c = inverse[:, 0, 0], inverse[:, 0, 1], inverse[:, 0, 2]
    d, e, f = inverse[:, 1, 0], inverse[:, 1, 1], inverse[:, 1, 2]
    # x_in = a (x - cx) + b (y - cy) + c + cx, likewise y_in.
    zeros = tf.zeros_like(a)
    return tf.stack([a, b, c + cx - a * cx - b * cy, d, e, f + cy - d * cx - e * cy, zeros, zeros], axis=-1)


def _move_boxes(batch: Batch, forward: tf.Tensor, options: AugmentOptions, height, width) -> dict:
    """Box and box-label updates for forward matrices (identity samples untouched)."""
    moved, kept = boxes_lib.transform_boxes(
        batch[BOXES], forward, height, width, options.box_prior, options.min_box_visibility, options.min_box_size
    )
    # Samples whose matrix is the identity keep their boxes untouched.
    unchanged = tf.reduce_all(tf.equal(forward, identity(tf.shape(forward)[0])), axis=[1, 2])
    updates = {BOXES: tf.where(unchanged[:, None, None], tf.cast(batch[BOXES], tf.float32), moved)}
    if BOX_LABELS in batch:
        updates[BOX_LABELS] = boxes_lib.drop_labels(batch[BOX_LABELS], unchanged[:, None] | kept)
    return updates


def apply_matrices(batch: Batch, forward: tf.Tensor, options: AugmentOptions) -> Batch:
    """Warps images, masks and boxes of a batch with one matrix per sample.

    Args:
      batch: dict with `images [B,H,W,C]` and optional `masks`, `boxes`,
        `box_labels`.
      forward: [B,3,3] forward affine matrices in centered pixels.
      options: interpolation, fill value, warp backend and box handling.

    Returns:
      The batch with images, masks and boxes moved; dropped boxes are -1 and
      their labels -1.
    """
    images = batch[IMAGES]
    height, width = image_size(images)
    transforms = pixel_transforms(forward, height, width)
    per_image = warp.per_image_loop_default(options.xla, images.shape)
    updates = {
        IMAGES: warp.warp(images, transforms, options.interpolation, options.fill_value, options.warp, per_image)
    }
    if MASKS in batch:
        updates[MASKS] = masks_lib.warp_masks(batch[MASKS], transforms, options.warp, per_image)
    if BOXES in batch:
        updates.update(_move_boxes(batch, forward, options, height, width))
    return with_updates(batch, **updates)


def _permute_pixels(batch: Batch, forward, options, permute) -> Batch:
    """Like apply_matrices for maps that only permute pixels (flips, quarter turns).

    `permute(tensor)` returns the moved [B,H,W,C] tensor; it is exact (no
    resampling) and one fused pass under XLA, where a warp gathers.
    """
    height, width = image_size(batch[IMAGES])
    updates = {IMAGES: permute(batch[IMAGES])}
    if MASKS in batch:
        updates[MASKS] = permute(batch[MASKS])
    if BOXES in batch:
        updates.update(_move_boxes(batch, forward, options, height, width))
    return with_updates(batch, **updates)


def apply_flip(batch: Batch, magnitude, seed, options: AugmentOptions, axis: int) -> Batch:
    """Flip op (axis 2: left-right, 1: up-down) by tf.reverse, with the same result as the warp.

    With options.warp == "projective" the kernel is used, as for every geometric op.
    """
    height, width = image_size(batch[IMAGES])
    matrix_fn = flip_left_right if axis == 2 else flip_up_down
    if options.warp == "projective":
        return apply_matrices(batch, matrix_fn(magnitude, seed, height, width), options)
    active = tf.reshape(magnitude > 0, [-1, 1, 1, 1])
    return _permute_pixels(
        batch, matrix_fn(magnitude, seed, height, width), options, lambda x: tf.where(active, tf.reverse(x, [axis]), x)
    )


def apply_rot90(batch: Batch, magnitude, seed, options: AugmentOptions) -> Batch:
    """rot90 by transposes on square images (exact); a warp otherwise."""
    height, width = image_size(batch[IMAGES])
    forward = rot90(magnitude, seed, height, width)
    if options.warp == "projective" or not (isinstance(height, int) and height == width):
        return apply_matrices(batch, forward, options)
    turns = tf.reshape(_quarter_turns(magnitude), [-1, 1, 1, 1])

    def permute(x):
        transposed = tf.transpose(x, [0, 2, 1, 3])
        # np.rot90 by k on (rows, cols): k=1 m.T[::-1], k=2 m[::-1, ::-1], k=3 m.T[:, ::-1].
        turned = (tf.reverse(transposed, [1]), tf.reverse(x, [1, 2]), tf.reverse(transposed, [2]))
        out = x
        for k, candidate in enumerate(turned, start=1):
            out = tf.where(turns == k, candidate, out)
        return out

    return _permute_pixels(batch, forward, options, permute)
