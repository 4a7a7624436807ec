"""Masks stay aligned with images under every geometric op; occlusion marks them unknown."""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import registry
from augment_ops.batch import MASK_IGNORE_VALUE
from augment_ops.options import AugmentOptions
from components.types import features

NUM_CLASSES = 5


def _blocky_mask(height=24, width=32, seed=0):
    """Class ids in 4x4 blocks, so bilinear resampling is exact away from block edges."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, NUM_CLASSES, (height // 4, width // 4))
    return np.kron(blocks, np.ones((4, 4), np.int64)).astype(np.int32)


def _batch_from_masks(masks):
    # Class k is drawn with gray level (k + 1) / 8, never the fill value 0.
    images = np.repeat((masks[..., None] + 1.0) / 8.0, 3, axis=-1).astype(np.float32)
    return {"images": tf.constant(images), "masks": tf.constant(masks[..., None])}


@pytest.mark.parametrize("name", registry.op_names(registry.GEOMETRIC))
@pytest.mark.parametrize("warp", ["gather", "projective"])
def test_masks_stay_aligned_with_images(name, warp):
    masks = np.stack([_blocky_mask(seed=s) for s in range(3)])
    batch = _batch_from_masks(masks)
    magnitudes = tf.constant([0.3, 0.7, 1.0])
    nearest_options = AugmentOptions(interpolation="nearest", warp=warp, xla=False)
    nearest = registry.apply_op(name, batch, magnitudes, 1.0, 4, nearest_options)
    out_masks = np.asarray(nearest["masks"])[..., 0]
    gray = np.asarray(nearest["images"])[..., 0]
    # With nearest sampling for both, they agree at every pixel: the same matrices moved them.
    expected = np.where(gray == 0.0, MASK_IGNORE_VALUE, np.round(gray * 8.0) - 1)
    np.testing.assert_array_equal(out_masks, expected)
    assert np.any(out_masks != masks), "the op did not move anything"
    # With bilinear images, the class read back from the image matches the mask almost everywhere.
    bilinear = registry.apply_op(name, batch, magnitudes, 1.0, 4, AugmentOptions(warp=warp, xla=False))["images"]
    bilinear = np.asarray(bilinear)[..., 0]
    inside = out_masks != MASK_IGNORE_VALUE
    agreement = np.mean(np.round(bilinear[inside] * 8.0) - 1 == out_masks[inside])
    assert agreement > 0.85, agreement


@pytest.mark.parametrize("name", ["cutout", "random_erasing", "grid_mask"])
def test_occluded_pixels_get_the_ignore_value(name):
    masks = np.stack([_blocky_mask(seed=s) for s in range(2)])
    batch = _batch_from_masks(masks)
    out = registry.apply_op(name, batch, 1.0, 1.0, seed=1, options=AugmentOptions(occlusion_fill=0.0, xla=False))
    changed = np.any(np.asarray(out["images"]) != np.asarray(batch["images"]), axis=-1)
    out_masks = np.asarray(out["masks"])[..., 0]
    assert changed.any()
    np.testing.assert_array_equal(out_masks == MASK_IGNORE_VALUE, changed)
    np.testing.assert_array_equal(out_masks[~changed], masks[~changed])


def test_cutmix_pastes_the_partner_mask_with_its_pixels():
    masks = np.stack([_blocky_mask(seed=s) for s in range(4)])
    batch = _batch_from_masks(masks)
    out = registry.apply_op("cutmix", batch, 1.0, 1.0, seed=3, options=AugmentOptions(xla=False))
    gray = np.asarray(out["images"])[..., 0]
    np.testing.assert_array_equal(np.asarray(out["masks"])[..., 0], np.round(gray * 8.0) - 1)


def test_uint8_masks_keep_their_dtype_and_fill_with_ignore():
    masks = _blocky_mask()[None].astype(np.uint8)
    batch = {"images": tf.zeros([1, 24, 32, 3]), "masks": tf.constant(masks[..., None])}
    out = registry.apply_op("zoom_out", batch, 1.0, 1.0, seed=0)["masks"]
    assert out.dtype == tf.uint8
    assert np.asarray(out)[0, 0, 0, 0] == MASK_IGNORE_VALUE


def test_ignore_value_matches_the_feature_contract():
    assert MASK_IGNORE_VALUE == features.MASK_IGNORE_VALUE == 255
