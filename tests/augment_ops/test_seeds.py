"""Seeds: one stream per integer however it is passed, and the per-pixel draws' statistics."""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import seeds


@pytest.mark.parametrize("value", [3, 2**40 + 5])
def test_an_integer_gives_the_same_seed_however_it_is_passed(value):
    expected = seeds.as_seed(value).numpy()
    for passed in (np.int64(value), tf.constant(value, tf.int64), [value & 0x7FFFFFFF, (value >> 31) & 0x7FFFFFFF]):
        np.testing.assert_array_equal(seeds.as_seed(passed).numpy(), expected)
        np.testing.assert_array_equal(seeds.derive(passed, "op", 2).numpy(), seeds.derive(value, "op", 2).numpy())
    traced = tf.function(lambda seed: seeds.as_seed(seed))(tf.constant(value, tf.int64))
    np.testing.assert_array_equal(traced.numpy(), expected)


def test_salts_are_python_values_and_numpy_ints_count_as_ints():
    assert seeds.salt_of("op", np.int32(2)) == seeds.salt_of("op", 2)
    assert seeds.salt_of("op", 2) != seeds.salt_of("op", 3)
    with pytest.raises(TypeError, match="Python strings or ints"):
        seeds.derive(7, "op", tf.constant(2))
    with pytest.raises(ValueError, match="integer"):
        seeds.as_seed(tf.constant([1.0, 2.0]))


def test_fold_in_changes_the_seed_per_value_inside_one_trace():
    traced = tf.function(lambda step: seeds.uniform(seeds.fold_in(seeds.as_seed(7), step), [4]))
    first, second = traced(tf.constant(1)), traced(tf.constant(2))
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(traced(tf.constant(1)), first)
    np.testing.assert_array_equal(first, seeds.uniform(seeds.fold_in(7, 1), [4]))


def test_pixel_uniform_is_uniform_and_keyed_by_both_seed_halves():
    draws = seeds.pixel_uniform(seeds.as_seed((5, 9)), [64, 64, 16]).numpy().ravel()
    assert draws.min() >= 0.0 and draws.max() < 1.0
    counts, _ = np.histogram(draws, bins=16, range=(0.0, 1.0))
    # 65,536 draws in 16 bins: 4,096 expected per bin, sd 62; 6 sd allowed.
    assert np.abs(counts - draws.size / 16).max() < 6 * np.sqrt(draws.size / 16)
    assert abs(np.corrcoef(draws[:-1], draws[1:])[0, 1]) < 0.02  # neighbours unrelated
    others = [seeds.pixel_uniform(seeds.as_seed(seed), [64, 64, 16]).numpy().ravel() for seed in ((6, 9), (5, 10))]
    for other in others:
        assert abs(np.corrcoef(draws, other)[0, 1]) < 0.02
        # Not a shifted copy of the same sequence either.
        assert len(np.intersect1d(draws[:1000], other)) < 50


def test_pixel_normal_has_unit_moments_and_bounded_tails():
    draws = seeds.pixel_normal(seeds.as_seed(3), [256, 256]).numpy().ravel()
    assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1.0) < 0.02
    assert np.abs(draws).max() <= 3.451
    # The normal has 68.3% / 95.4% / 99.7% of its mass within 1 / 2 / 3 sd; the
    # Irwin-Hall sum of 4 bytes has 66.8% / 95.7% / 99.96% (computed exactly).
    for limit, mass in ((1.0, 0.668), (2.0, 0.957), (3.0, 0.9996)):
        assert abs(np.mean(np.abs(draws) < limit) - mass) < 0.005


def test_per_pixel_draws_agree_with_and_without_xla():
    shape = [2, 8, 8, 3]
    seed = seeds.as_seed((1, 2))
    compiled = tf.function(lambda s: seeds.pixel_normal(s, shape), jit_compile=True)(seed)
    np.testing.assert_array_equal(compiled.numpy(), seeds.pixel_normal(seed, shape).numpy())
