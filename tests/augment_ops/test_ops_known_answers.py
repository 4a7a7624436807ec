"""Known answers against numpy and PIL references on a fixed photo crop.

Tolerances: 1e-6 where both sides compute the same 0..255 levels (the only
error is float32 rounding of level / 255); flips and rot90 are exact
resampling at integer pixel centers, so 1e-6 too.
"""

import numpy as np
import pytest
from PIL import Image, ImageOps

from augment_ops import registry

ATOL = 1e-6


def _apply(name, images_uint8, magnitude):
    images = np.asarray(images_uint8, np.float32)[None] / 255.0
    return np.asarray(registry.apply_op(name, images, magnitude, 1.0, seed=0))[0]


def _pil(photo, fn, *args):
    return np.asarray(fn(Image.fromarray(photo), *args), np.float32) / 255.0


def test_flips_match_numpy(photo_uint8):
    reference = photo_uint8.astype(np.float32) / 255.0
    np.testing.assert_allclose(_apply("flip_left_right", photo_uint8, 1.0), reference[:, ::-1], atol=ATOL)
    np.testing.assert_allclose(_apply("flip_up_down", photo_uint8, 0.3), reference[::-1], atol=ATOL)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_rot90_matches_numpy(photo_uint8, turns):
    reference = np.rot90(photo_uint8.astype(np.float32) / 255.0, k=turns)
    np.testing.assert_allclose(_apply("rot90", photo_uint8, turns / 3.0), reference, atol=ATOL)


@pytest.mark.parametrize("bits_removed", [1, 3, 7])
def test_posterize_matches_pil(photo_uint8, bits_removed):
    expected = _pil(photo_uint8, ImageOps.posterize, 8 - bits_removed)
    np.testing.assert_allclose(_apply("posterize", photo_uint8, bits_removed / 7.0), expected, atol=ATOL)


@pytest.mark.parametrize("magnitude, threshold", [(0.25, 192), (0.5, 128), (1.0, 0)])
def test_solarize_matches_pil(photo_uint8, magnitude, threshold):
    expected = _pil(photo_uint8, ImageOps.solarize, threshold)
    np.testing.assert_allclose(_apply("solarize", photo_uint8, magnitude), expected, atol=ATOL)


def test_invert_matches_pil(photo_uint8):
    np.testing.assert_allclose(_apply("invert", photo_uint8, 1.0), _pil(photo_uint8, ImageOps.invert), atol=ATOL)


def test_equalize_matches_pil_per_channel(photo_uint8):
    expected = _pil(photo_uint8, ImageOps.equalize)
    np.testing.assert_allclose(_apply("equalize", photo_uint8, 1.0), expected, atol=ATOL)


def test_equalize_matches_pil_on_skewed_and_flat_channels():
    rng = np.random.default_rng(3)
    skewed = (rng.beta(0.5, 4.0, (32, 32)) * 255).astype(np.uint8)
    flat = np.full((32, 32), 77, np.uint8)
    two_levels = np.where(rng.random((32, 32)) < 0.9, 10, 200).astype(np.uint8)
    photo = np.stack([skewed, flat, two_levels], axis=-1)
    np.testing.assert_allclose(_apply("equalize", photo, 1.0), _pil(photo, ImageOps.equalize), atol=ATOL)


def test_autocontrast_matches_numpy_min_max_stretch(photo_uint8):
    images = photo_uint8.astype(np.float32) / 255.0
    low, high = images.min(axis=(0, 1)), images.max(axis=(0, 1))
    np.testing.assert_allclose(_apply("autocontrast", photo_uint8, 1.0), (images - low) / (high - low), atol=ATOL)


def test_grayscale_matches_pil_luma_within_rounding(photo_uint8):
    # PIL rounds L to an integer level: half a level of tolerance.
    expected = _pil(photo_uint8, lambda image: image.convert("L"))[..., None]
    np.testing.assert_allclose(_apply("grayscale", photo_uint8, 1.0), np.repeat(expected, 3, -1), atol=0.5 / 255 + ATOL)


def test_blend_ops_scale_linearly_with_magnitude(photo_uint8):
    # equalize, autocontrast and grayscale are x + m * (op(x) - x).
    images = photo_uint8.astype(np.float32) / 255.0
    for name in ("equalize", "autocontrast", "grayscale"):
        full = _apply(name, photo_uint8, 1.0)
        np.testing.assert_allclose(_apply(name, photo_uint8, 0.25), images + 0.25 * (full - images), atol=1e-5)
