"""Ops that read per-image, per-channel statistics: equalize and autocontrast.

Both are blends `x + m * (op(x) - x)`: magnitude 1 gives the full op,
magnitude 0 the input exactly. The histograms of the whole batch are one
bincount over (sample, channel, level) ids, so no per-image loop runs.
"""

import math

import tensorflow as tf

_LEVELS = 256
# Equalize counts its histogram on at most this many pixels per image (128x128).
EXACT_HISTOGRAM_PIXELS = 128 * 128


def _levels(images):
    """Float images in [0,1] -> int32 levels 0..255."""
    return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * (_LEVELS - 1)), tf.int32)


def _histogram_ids(levels):
    """Ids ((b * C) + c) * 256 + level, int32 [B,H,W,C]; and the count B*C."""
    shape = tf.shape(levels)
    channels = shape[3]
    sample = tf.reshape(tf.range(shape[0]), [-1, 1, 1, 1])
    channel = tf.reshape(tf.range(channels), [1, 1, 1, -1])
    return (sample * channels + channel) * _LEVELS + levels, shape[0] * channels


def equalize_lut(histogram, num_pixels):
    """PIL's ImageOps.equalize lookup table for each histogram.

    Args:
      histogram: int32 [S,256] counts per (sample, channel).
      num_pixels: int32 scalar H*W.

    Returns:
      int32 [S,256] table; the identity where the channel has one level.
    """
    level = tf.range(_LEVELS)
    last_level = tf.reduce_max(tf.where(histogram > 0, level, -1), axis=-1, keepdims=True)
    last_count = tf.reduce_sum(tf.where(level == last_level, histogram, 0), axis=-1, keepdims=True)
    step = (num_pixels - last_count) // (_LEVELS - 1)
    below = tf.cumsum(histogram, axis=-1, exclusive=True)
    safe_step = tf.maximum(step, 1)
    lut = tf.minimum((safe_step // 2 + below) // safe_step, _LEVELS - 1)
    return tf.where(step > 0, lut, level)


def _histogram_stride(height, width):
    """Grid stride for the histogram sample: 1 up to EXACT_HISTOGRAM_PIXELS pixels, then coarser."""
    if isinstance(height, int) and isinstance(width, int):
        return max(1, math.ceil(math.sqrt(height * width / EXACT_HISTOGRAM_PIXELS)))
    pixels = tf.cast(height * width, tf.float32)
    return tf.maximum(1, tf.cast(tf.math.ceil(tf.sqrt(pixels / EXACT_HISTOGRAM_PIXELS)), tf.int32))


def equalize(images, magnitude, seed):
    """Histogram equalization per channel (PIL's algorithm on 0..255 levels).

    The histogram is counted on a regular grid of at most
    EXACT_HISTOGRAM_PIXELS pixels per image: exact (PIL-equal) up to that
    size, a sample of every 2nd/3rd.. row and column beyond, which keeps the
    scatter (the slow part on CPU) bounded while the table is applied to
    every pixel.
    """
    del seed
    levels = _levels(images)
    height, width = images.shape[1], images.shape[2]
    stride = _histogram_stride(height, width) if height is not None and width is not None else 1
    sampled = levels[:, ::stride, ::stride, :] if stride != 1 else levels
    sample_ids, num_histograms = _histogram_ids(sampled)
    flat_ids = tf.reshape(sample_ids, [-1])
    histogram = tf.reshape(
        tf.math.unsorted_segment_sum(tf.ones_like(flat_ids), flat_ids, num_histograms * _LEVELS), [-1, _LEVELS]
    )
    sample_shape = tf.shape(sampled)
    lut = equalize_lut(histogram, sample_shape[1] * sample_shape[2])
    ids, _ = _histogram_ids(levels)
    equalized = tf.cast(tf.gather(tf.reshape(lut, [-1]), ids), images.dtype) / (_LEVELS - 1)
    return images + tf.reshape(magnitude, [-1, 1, 1, 1]) * (equalized - images)


def autocontrast(images, magnitude, seed):
    """Stretches each channel's [min, max] to [0, 1]; flat channels unchanged."""
    del seed
    # Two single-axis reductions and a multiply: faster than one two-axis
    # reduction and a division on XLA's CPU backend.
    low = tf.reduce_min(tf.reduce_min(images, axis=1, keepdims=True), axis=2, keepdims=True)
    high = tf.reduce_max(tf.reduce_max(images, axis=1, keepdims=True), axis=2, keepdims=True)
    span = high - low
    scale = tf.where(span > 0, 1.0 / tf.where(span > 0, span, 1.0), 1.0)
    offset = tf.where(span > 0, low, 0.0)
    stretched = (images - offset) * scale
    return images + tf.reshape(magnitude, [-1, 1, 1, 1]) * (stretched - images)


HISTOGRAM_OPS = {"equalize": equalize, "autocontrast": autocontrast}
