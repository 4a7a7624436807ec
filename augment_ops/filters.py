"""Neighbourhood and noise ops: sharpness, gaussian blur, gaussian noise.

Signature as in color.py: `op(images [B,H,W,C], magnitude [B], seed)`.
"""

import math

import tensorflow as tf

from augment_ops import seeds

MAX_SHARPNESS = 0.9  # factor 1 +- 0.9 m, PIL ImageEnhance.Sharpness style
MAX_BLUR_SIGMA = 2.0  # pixels at magnitude 1
BLUR_RADIUS = int(math.ceil(2.5 * MAX_BLUR_SIGMA))  # fixed kernel, 2 * radius + 1 taps
MAX_NOISE_STD = 0.2

# PIL's ImageFilter.SMOOTH kernel, the "degenerate" image of Sharpness.
_SMOOTH = ((1.0, 1.0, 1.0), (1.0, 5.0, 1.0), (1.0, 1.0, 1.0))


def sharpness(images, magnitude, seed):
    """Blends with a smoothed copy by 1 +- 0.9 m: sharpens or softens.

    As in PIL, the one-pixel border keeps its values (the smoothing is only
    defined on the interior). The 3x3 smoothing is a sum of shifted slices,
    which XLA fuses into one pass (its grouped convolutions are slow on CPU).
    """
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        shape = tf.shape(images)
        height, width = shape[1], shape[2]
    smooth = 0.0
    for dy in range(3):
        for dx in range(3):
            smooth += (_SMOOTH[dy][dx] / 13.0) * images[:, dy : dy + height - 2, dx : dx + width - 2, :]
    detail = tf.pad(images[:, 1:-1, 1:-1, :] - smooth, [[0, 0], [1, 1], [1, 1], [0, 0]])
    sign = seeds.random_sign(seed, tf.shape(magnitude)[0])
    factor = tf.reshape(sign * magnitude * MAX_SHARPNESS, [-1, 1, 1, 1])
    return tf.clip_by_value(images + factor * detail, 0.0, 1.0)


def _gaussian_taps(sigma):
    """Normalized 1-D kernels [B, 2R+1]; a unit impulse where sigma is 0."""
    offsets = tf.range(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=tf.float32)[None, :]
    sigma = sigma[:, None]
    safe_sigma = tf.maximum(sigma, 1e-3)
    weights = tf.exp(-0.5 * tf.square(offsets / safe_sigma))
    weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)
    impulse = tf.cast(tf.equal(offsets, 0.0), tf.float32)
    return tf.where(sigma > 0, weights, impulse)


def _blur_pass(images, taps, axis):
    """One 1-D pass along `axis` (1: rows, 2: columns) with reflected borders.

    A sum of shifted slices weighted by per-sample taps [B,1,1,1,2R+1]; the
    taps are symmetric, so mirrored slices are added before the multiply
    (R+1 multiplies per pixel instead of 2R+1).
    """
    radius = BLUR_RADIUS
    length = tf.shape(images)[axis]
    paddings = [[0, 0], [0, 0], [0, 0], [0, 0]]
    paddings[axis] = [radius, radius]
    padded = tf.pad(images, paddings, mode="REFLECT")

    def shifted(k):
        return padded[:, k : k + length] if axis == 1 else padded[:, :, k : k + length]

    out = taps[..., radius] * shifted(radius)
    for k in range(radius):
        out += taps[..., k] * (shifted(k) + shifted(2 * radius - k))
    return out


def gaussian_blur(images, magnitude, seed):
    """Separable gaussian blur with sigma = 2 m pixels, reflected borders.

    Plain elementwise work that XLA fuses into one loop per pass, where a
    depthwise convolution with per-sample kernels (batch folded into
    channels) is orders of magnitude slower on XLA's CPU backend. Each pass
    pads only its own axis: padding both axes up front made XLA fuse the
    passes into one loop that recomputed the first pass per tap (2.5x slower).
    """
    del seed
    taps = tf.cast(_gaussian_taps(magnitude * MAX_BLUR_SIGMA), images.dtype)[:, None, None, None, :]  # [B,1,1,1,2R+1]
    blurred = _blur_pass(_blur_pass(images, taps, axis=2), taps, axis=1)
    # The impulse kernel reproduces the input up to float rounding; return it exactly.
    return tf.where(tf.reshape(magnitude, [-1, 1, 1, 1]) > 0, blurred, images)


def gaussian_noise(images, magnitude, seed):
    """Adds N(0, (0.2 m)^2) per pixel and channel, clipped to [0,1].

    The per-pixel draws come from seeds.pixel_normal (a hashed Irwin-Hall
    normal): Philox plus Box-Muller made this op 10x slower on CPU.
    """
    noise = seeds.pixel_normal(seed, tf.shape(images))
    std = tf.reshape(magnitude * MAX_NOISE_STD, [-1, 1, 1, 1])
    return tf.clip_by_value(images + std * noise, 0.0, 1.0)


FILTER_OPS = {"sharpness": sharpness, "gaussian_blur": gaussian_blur, "gaussian_noise": gaussian_noise}
