"""Weak and strong views: the policy decides what the weak view may do; the strong view differs from it."""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import seeds
from augment_ops.policy import Policy
from components.consistency import views

NO_FLIP_POLICY = Policy.from_ops([("rotate", 0.3, 0.5), ("translate_x", 0.2, 0.5), ("brightness", 0.5, 0.5)],
                                 sampling="random_n", num_ops=1)


def asymmetric_batch(count=8, size=16):
    """Images with a bright left column only, so a mirror is visible as a bright right column."""
    images = np.zeros((count, size, size, 1), np.float32)
    images[:, 4:12, 1:3] = 1.0
    return tf.constant(images)


def test_weak_view_without_a_policy_is_fixmatch_flip_and_translate():
    weak = views.weak_policy(None)
    assert weak.op_names == ("flip_left_right", "translate_x", "translate_y")
    translate = {op.name: op.magnitude for op in weak.ops}["translate_x"]
    assert translate * 0.3 == pytest.approx(0.125)  # augment_ops shifts by magnitude * 0.3 of the side.
    assert weak.magnitude_sampling == "uniform"


def test_weak_view_uses_only_ops_the_policy_allows():
    weak = views.weak_policy(NO_FLIP_POLICY)
    assert weak.op_names == ("translate_x",)  # No flip (absent), no translate_y (absent).
    assert weak.ops[0].magnitude == 0.2  # Capped at the policy's magnitude (0.125 / 0.3 = 0.42 would exceed it).
    with_flip = Policy.from_ops([("flip_left_right", 1.0, 0.5), ("translate_y", 0.8, 0.5)])
    assert views.weak_policy(with_flip).op_names == ("flip_left_right", "translate_y")
    assert views.weak_policy(with_flip, flip=False).op_names == ("translate_y",)
    zero_probability_flip = Policy.from_ops([("flip_left_right", 1.0, 0.0), ("rotate", 0.5, 0.5)])
    assert views.weak_policy(zero_probability_flip) is None  # Nothing allowed: the weak view is the identity.


def test_weak_view_of_a_no_flip_policy_never_mirrors():
    pair = views.make_views(Policy.from_ops([("rotate", 0.2, 0.5)]))  # Allows neither flip nor translation.
    images = asymmetric_batch()
    weak = pair.weak_view(images, seeds.as_seed(3))
    np.testing.assert_array_equal(weak, images)
    flipping = views.make_views(None)
    mirrored = [float(tf.reduce_sum(flipping.weak_view(images, seeds.as_seed(s))[:, :, 8:])) for s in range(4)]
    assert max(mirrored) > 0  # Without a policy the weak view mirrors some images to the right half.


def test_strong_view_draws_from_the_policy_and_differs_from_the_weak_view():
    strong = views.strong_policy(NO_FLIP_POLICY, num_ops=2)
    assert set(strong.op_names) == {"rotate", "translate_x", "brightness"}
    assert strong.sampling == "random_n" and strong.num_ops == 2
    assert {op.name: op.magnitude for op in strong.ops}["rotate"] == 0.3
    default = views.strong_policy(None)
    assert "identity" in default.op_names and "flip_left_right" not in default.op_names
    pair = views.make_views(NO_FLIP_POLICY)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0.2, 0.8, (8, 16, 16, 1)).astype(np.float32))
    seed = seeds.as_seed(7)
    weak, strong_images = pair.weak_view(images, seed), pair.strong_view(images, seed)
    assert weak.shape == strong_images.shape == images.shape
    assert float(tf.reduce_min(strong_images)) >= 0.0 and float(tf.reduce_max(strong_images)) <= 1.0
    per_image = tf.reduce_mean(tf.abs(weak - strong_images), axis=[1, 2, 3]).numpy()
    assert np.all(per_image > 1e-3)  # Cutout alone changes every strong view.
    np.testing.assert_array_equal(pair.strong_view(images, seed), strong_images)  # Same seed, same view.
    assert not np.array_equal(pair.strong_view(images, seeds.as_seed(8)), strong_images)


def test_cutout_only_when_the_policy_has_no_strong_op():
    pair = views.make_views(Policy.from_ops([("cutout", 0.5, 0.5)]), cutout=1.0)
    assert pair.strong is None and pair.describe()["cutout"] == 1.0
    images = tf.ones([4, 12, 12, 1])
    occluded = pair.strong_view(images, seeds.as_seed(1)).numpy()
    assert np.all((occluded < 1.0).reshape(4, -1).any(axis=1))  # Every image got a Cutout square.
