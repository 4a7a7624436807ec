"""Occlusion ops: cutout, random erasing, grid mask.

Each op builds a per-sample keep map (bool [B,H,W,1], False = occluded) from
broadcast row/column comparisons, never a per-image loop. Images get a fill
value (or noise) there; masks get MASK_IGNORE_VALUE, because the class under
the occluder is unknown. Boxes are left as they are.
"""

import math

import tensorflow as tf

from augment_ops import masks as masks_lib
from augment_ops import seeds
from augment_ops.batch import IMAGES, MASKS, Batch, with_updates
from augment_ops.options import AugmentOptions

MAX_CUTOUT_SIDE = 0.5  # fraction of the shorter image side at magnitude 1
MAX_ERASING_AREA = 0.4  # fraction of the image area at magnitude 1
ERASING_LOG_RATIO = math.log(3.3)  # aspect ratio in [1/3.3, 3.3]
GRID_CELL_RANGE = (0.2, 0.5)  # grid period as a fraction of the shorter side
MAX_GRID_HOLE = 0.6  # hole side as a fraction of the period at magnitude 1


def _grid(images):
    """Pixel-center coordinates: rows [1,H,1,1] and columns [1,1,W,1], float."""
    shape = tf.shape(images)
    rows = tf.reshape(tf.cast(tf.range(shape[1]), tf.float32) + 0.5, [1, -1, 1, 1])
    cols = tf.reshape(tf.cast(tf.range(shape[2]), tf.float32) + 0.5, [1, 1, -1, 1])
    return rows, cols, tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)


def _column(values):
    return tf.reshape(values, [-1, 1, 1, 1])


def _outside_rectangle(rows, cols, top, left, bottom, right):
    inside = (rows >= _column(top)) & (rows < _column(bottom)) & (cols >= _column(left)) & (cols < _column(right))
    return ~inside


def cutout_keep(images, magnitude, seed):
    """One square of side 0.5 m * min(H, W) centered anywhere (clipped at edges)."""
    rows, cols, height, width = _grid(images)
    draws = seeds.uniform(seed, [2, tf.shape(magnitude)[0]])
    half = magnitude * MAX_CUTOUT_SIDE * tf.minimum(height, width) / 2.0
    center_y, center_x = draws[0] * height, draws[1] * width
    return _outside_rectangle(rows, cols, center_y - half, center_x - half, center_y + half, center_x + half)


def random_erasing_keep(images, magnitude, seed):
    """A rectangle of area 0.4 m * H * W, random aspect ratio, inside the image."""
    rows, cols, height, width = _grid(images)
    draws = seeds.uniform(seed, [3, tf.shape(magnitude)[0]])
    area = magnitude * MAX_ERASING_AREA * height * width
    ratio = tf.exp(ERASING_LOG_RATIO * (2.0 * draws[0] - 1.0))
    rect_h = tf.minimum(tf.sqrt(area * ratio), height)
    rect_w = tf.minimum(tf.sqrt(area / ratio), width)
    top = draws[1] * (height - rect_h)
    left = draws[2] * (width - rect_w)
    return _outside_rectangle(rows, cols, top, left, top + rect_h, left + rect_w)


def grid_mask_keep(images, magnitude, seed):
    """A regular grid of square holes (GridMask); hole side 0.6 m of the period."""
    rows, cols, height, width = _grid(images)
    draws = seeds.uniform(seed, [3, tf.shape(magnitude)[0]])
    low, high = GRID_CELL_RANGE
    period = tf.minimum(height, width) * (low + (high - low) * draws[0])
    hole = magnitude * MAX_GRID_HOLE * period
    offset_y, offset_x = draws[1] * period, draws[2] * period
    period, hole = _column(period), _column(hole)
    in_row = tf.math.floormod(rows - _column(offset_y), period) < hole
    in_col = tf.math.floormod(cols - _column(offset_x), period) < hole
    return ~(in_row & in_col)


def _occlude(keep_fn, noise_fill):
    def apply(batch: Batch, magnitude, seed, options: AugmentOptions) -> Batch:
        images = batch[IMAGES]
        keep = keep_fn(images, magnitude, seeds.derive(seed, "region"))
        if noise_fill:
            fill = seeds.pixel_uniform(seeds.derive(seed, "fill"), tf.shape(images))
        else:
            fill = tf.cast(options.occlusion_fill, images.dtype)
        updates = {IMAGES: tf.where(keep, images, fill)}
        if MASKS in batch:
            updates[MASKS] = masks_lib.occlude_masks(batch[MASKS], keep)
        return with_updates(batch, **updates)

    return apply


OCCLUSION_OPS = {
    "cutout": _occlude(cutout_keep, noise_fill=False),
    "random_erasing": _occlude(random_erasing_keep, noise_fill=True),
    "grid_mask": _occlude(grid_mask_keep, noise_fill=False),
}
