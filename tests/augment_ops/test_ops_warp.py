"""The two warp backends and the per-image loop give the same pixels."""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import geometric, warp


def _transforms(batch_size, height, width, seed=0):
    magnitudes = tf.constant(np.linspace(0.2, 1.0, batch_size), tf.float32)
    rotation = geometric.rotate(magnitudes, tf.constant([seed, 1]), height, width)
    zoom = geometric.zoom_out(magnitudes, tf.constant([seed, 2]), height, width)
    return geometric.pixel_transforms(tf.matmul(zoom, rotation), height, width)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_gather_matches_image_projective_transform_v3(interpolation):
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((3, 12, 20, 3)), tf.float32)
    transforms = _transforms(3, 12, 20)
    reference = warp.warp(images, transforms, interpolation, 0.25, backend="projective")
    for per_image in (False, True):
        gathered = warp.warp(images, transforms, interpolation, 0.25, backend="gather", per_image=per_image)
        # 1e-5: the two compute the same bilinear weights in a different order.
        np.testing.assert_allclose(np.asarray(gathered), np.asarray(reference), atol=1e-5)


def test_per_image_loop_compiles_and_matches_the_batched_gather_for_integer_masks():
    rng = np.random.default_rng(1)
    masks = tf.constant(rng.integers(0, 4, (2, 16, 16, 1)), tf.int32)
    transforms = _transforms(2, 16, 16)
    batched = warp.warp(masks, transforms, "nearest", 255, per_image=False)
    compiled = tf.function(lambda m, t: warp.warp(m, t, "nearest", 255, per_image=True), jit_compile=True)
    looped = compiled(masks, transforms)
    np.testing.assert_array_equal(np.asarray(looped), np.asarray(batched))
    assert looped.dtype == tf.int32 and np.any(np.asarray(looped) == 255)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="Unknown warp backend"):
        warp.warp(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 8]), backend="cv2")


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_warp_traces_with_fully_unknown_shapes(interpolation):
    """tf.function relaxes shapes on retracing; the channel count must then come from the tensor."""
    rng = np.random.default_rng(2)
    images = tf.constant(rng.random((2, 10, 10, 3)), tf.float32)
    transforms = _transforms(2, 10, 10)
    relaxed = tf.function(
        lambda x, t: warp.warp(x, t, interpolation, 0.0, per_image=True),
        input_signature=[tf.TensorSpec([None, None, None, None], tf.float32), tf.TensorSpec([None, 8], tf.float32)],
    )
    expected = warp.warp(images, transforms, interpolation, 0.0, per_image=False)
    np.testing.assert_allclose(np.asarray(relaxed(images, transforms)), np.asarray(expected), atol=1e-5)
