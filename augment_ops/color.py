"""Pointwise colour ops on float images in [0,1] with per-sample magnitudes.

Every op has the signature `op(images [B,H,W,C], magnitude [B], seed) ->
images` and is written as `x + a * (target - x)` (or a `tf.where` on
magnitude > 0) so magnitude 0 returns the input bit for bit without an extra
select pass. Ops that need colour (saturation, hue, grayscale) are the
identity on single-channel images. Direction (brighter or darker, ...) is a
per-sample random sign drawn from the seed.
"""

import math

import numpy as np
import tensorflow as tf

from augment_ops import seeds

MAX_ENHANCE = 0.9  # brightness/contrast/saturation factor 1 +- 0.9 * magnitude (PIL ImageEnhance style)
MAX_HUE_TURN = 0.5  # fraction of the hue circle at magnitude 1
MAX_LOG2_GAMMA = 1.0  # gamma in [1/2, 2] at magnitude 1
MAX_POSTERIZE_SHIFT = 7  # bits removed at magnitude 1 (1 bit left)

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's convert("L")
# RGB -> YIQ; a hue rotation is a rotation of the I,Q plane.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def _column(values):
    """[B] -> [B,1,1,1] for broadcasting against images."""
    return tf.reshape(values, [-1, 1, 1, 1])


def _factor(magnitude, seed):
    """Per-sample enhance factor - 1, signed: in [-0.9, 0.9] * magnitude."""
    sign = seeds.random_sign(seed, tf.shape(magnitude)[0])
    return _column(sign * magnitude * MAX_ENHANCE)


def luma(images):
    """Grayscale [B,H,W,1] with PIL's weights (the single channel if C == 1)."""
    if images.shape[-1] != 3:
        return tf.reduce_mean(images, axis=-1, keepdims=True)
    weights = tf.constant(_LUMA, images.dtype)
    return tf.reduce_sum(images * weights, axis=-1, keepdims=True)


def identity(images, magnitude, seed):
    del magnitude, seed
    return images


def brightness(images, magnitude, seed):
    """Scales intensities by 1 +- 0.9 m (blend with black, as PIL)."""
    return tf.clip_by_value(images + _factor(magnitude, seed) * images, 0.0, 1.0)


def contrast(images, magnitude, seed):
    """Blends with the image's mean gray by 1 +- 0.9 m."""
    mean = tf.reduce_mean(luma(images), axis=[1, 2, 3], keepdims=True)
    return tf.clip_by_value(images + _factor(magnitude, seed) * (images - mean), 0.0, 1.0)


def saturation(images, magnitude, seed):
    """Blends with the image's own grayscale by 1 +- 0.9 m."""
    if images.shape[-1] != 3:
        return images
    return tf.clip_by_value(images + _factor(magnitude, seed) * (images - luma(images)), 0.0, 1.0)


def hue(images, magnitude, seed):
    """Rotates hue by up to half a turn either way (rotation in YIQ space).

    One 3x3 matrix per sample, so it fuses into a single pass; the YIQ
    rotation approximates an HSV hue shift and keeps luma.
    """
    if images.shape[-1] != 3:
        return images
    sign = seeds.random_sign(seed, tf.shape(magnitude)[0])
    angle = sign * magnitude * (2.0 * math.pi * MAX_HUE_TURN)
    cos, sin = tf.cos(angle), tf.sin(angle)
    zeros, ones = tf.zeros_like(cos), tf.ones_like(cos)
    # R - I in YIQ, exactly zero at angle 0 so the result is exact identity.
    rot_minus_eye = tf.reshape(
        tf.stack([zeros, zeros, zeros, zeros, cos - 1.0, -sin, zeros, sin, cos - 1.0], axis=-1), [-1, 3, 3]
    )
    to_yiq = tf.constant(_RGB_TO_YIQ, tf.float32)
    to_rgb = tf.constant(_YIQ_TO_RGB, tf.float32)
    delta = tf.einsum("ij,bjk,kl->bil", to_rgb, rot_minus_eye, to_yiq)  # [B,3,3], rgb' = rgb + delta @ rgb
    return tf.clip_by_value(images + tf.einsum("bhwc,bdc->bhwd", images, tf.cast(delta, images.dtype)), 0.0, 1.0)


def grayscale(images, magnitude, seed):
    """Blends toward grayscale; full grayscale at magnitude 1."""
    del seed
    if images.shape[-1] != 3:
        return images
    return images + _column(magnitude) * (luma(images) - images)


def gamma(images, magnitude, seed):
    """x ** gamma with gamma = 2 ** (+-m): brightens or darkens mid-tones.

    Written as exp(gamma * log x): XLA's pow measured 1.7x slower on CPU;
    log 0 = -inf gives 0 ** gamma = 0 as pow does.
    """
    sign = seeds.random_sign(seed, tf.shape(magnitude)[0])
    exponent = _column(tf.pow(2.0, sign * magnitude * MAX_LOG2_GAMMA))
    return tf.where(_column(magnitude) > 0, tf.exp(exponent * tf.math.log(images)), images)


def invert(images, magnitude, seed):
    """1 - x for any magnitude > 0 (binary op)."""
    del seed
    return tf.where(_column(magnitude) > 0, 1.0 - images, images)


def solarize(images, magnitude, seed):
    """Inverts pixels at or above a threshold that falls from above 1 to 0.

    The threshold is 256 * (1 - m) on the 0..255 scale, so on uint8-valued
    images it equals PIL's ImageOps.solarize(threshold=256 * (1 - m)).
    """
    del seed
    # Compared on the 0..255 scale with a small slack, so level 192 / 255 meets
    # threshold 192 despite float rounding; at m = 0 no level reaches 256.
    threshold = _column((1.0 - magnitude) * 256.0 - 1e-3)
    return tf.where(images * 255.0 >= threshold, 1.0 - images, images)


def posterize(images, magnitude, seed):
    """Keeps the top 8 - round(7 m) bits of each 0..255 value (PIL posterize)."""
    del seed
    shift = tf.round(magnitude * MAX_POSTERIZE_SHIFT)
    step = _column(tf.pow(2.0, shift))
    levels = tf.round(images * 255.0)
    posterized = tf.floor(levels / step) * step / 255.0
    return tf.where(_column(shift) > 0, posterized, images)


COLOR_OPS = {
    "identity": identity,
    "brightness": brightness,
    "contrast": contrast,
    "saturation": saturation,
    "hue": hue,
    "grayscale": grayscale,
    "gamma": gamma,
    "invert": invert,
    "solarize": solarize,
    "posterize": posterize,
}
