"""FixMatch's math on hand-made numbers: thresholds (fixed, FlexMatch, FreeMatch), alignment, losses, EMA, schedule."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.consistency import fixmatch, thresholds

PROBABILITIES = tf.constant([[0.97, 0.02, 0.01], [0.50, 0.40, 0.10], [0.05, 0.05, 0.90], [0.10, 0.86, 0.04]])


def test_fixed_threshold_masks_below_it_and_keeps_no_state():
    fixed = thresholds.make_thresholds("fixed", 3, 0.95, num_unlabeled=4)
    np.testing.assert_allclose(fixed.class_thresholds(), [0.95] * 3)
    np.testing.assert_array_equal(fixed.step(PROBABILITIES, tf.range(4)), [1.0, 0.0, 0.0, 0.0])
    assert fixed.variables() == []
    assert fixed.stats() == pytest.approx({"threshold_min": 0.95, "threshold_mean": 0.95, "threshold_max": 0.95})


def test_flexmatch_thresholds_follow_confident_counts_with_warmup():
    flex = thresholds.FlexMatchThresholds(3, 0.8, num_unlabeled=10)
    # Nothing predicted confidently yet: beta = 0 everywhere, so every pseudo-label passes (warm-up).
    np.testing.assert_allclose(flex.class_thresholds(), [0.0, 0.0, 0.0])
    # Image 0 confidently class 0, image 2 class 2 (0.90 > 0.8), image 3 class 1 (0.86); image 1 is not confident.
    mask = flex.step(PROBABILITIES, tf.constant([0, 1, 2, 3]))
    np.testing.assert_array_equal(mask, [1.0, 1.0, 1.0, 1.0])  # Masked with the state before the batch.
    np.testing.assert_array_equal(flex.selected.numpy(), [0, -1, 2, 1, -1, -1, -1, -1, -1, -1])
    # sigma = [1, 1, 1], unused = 7 > max sigma: beta = 1/7 each, T = M(1/7) * 0.8 = (1/7)/(13/7) * 0.8 = 0.8/13.
    np.testing.assert_allclose(flex.class_thresholds(), [0.8 / 13] * 3, rtol=1e-6)
    flex.selected.assign([0, 0, 0, 0, 1, 1, 2, 0, 0, -1])  # sigma = [6, 2, 1], unused 1: divide by 6.
    expected = [0.8 * (b / (2 - b)) for b in (1.0, 2 / 6, 1 / 6)]
    np.testing.assert_allclose(flex.class_thresholds(), expected, rtol=1e-6)
    # The latest confident prediction replaces an image's old one; a non-confident one leaves it.
    flex.update(tf.constant([[0.1, 0.1, 0.8001], [0.2, 0.7, 0.1]]), tf.constant([0, 4]))
    assert flex.selected.numpy()[0] == 2 and flex.selected.numpy()[4] == 1


def test_flexmatch_mapping_is_convex_between_0_and_1():
    values = thresholds.flexmatch_mapping(tf.constant([0.0, 0.5, 1.0])).numpy()
    np.testing.assert_allclose(values, [0.0, 1 / 3, 1.0], rtol=1e-6)


def test_freematch_updates_its_estimates_then_masks():
    free = thresholds.FreeMatchThresholds(3, 0.95, momentum=0.9)
    np.testing.assert_allclose(free.class_thresholds(), [1 / 3] * 3, rtol=1e-6)  # tau = 1/K, p uniform.
    mask = free.step(PROBABILITIES, tf.range(4))
    confidence = np.array([0.97, 0.50, 0.90, 0.86])
    tau = 0.9 / 3 + 0.1 * confidence.mean()
    p = 0.9 / 3 + 0.1 * PROBABILITIES.numpy().mean(axis=0)
    expected = tau * p / p.max()
    np.testing.assert_allclose(free.global_threshold.numpy(), tau, rtol=1e-6)
    np.testing.assert_allclose(free.class_thresholds(), expected, rtol=1e-5)
    labels = np.argmax(PROBABILITIES.numpy(), axis=1)
    np.testing.assert_array_equal(mask, (confidence >= expected[labels]).astype(np.float32))
    assert mask.numpy().sum() == 4  # Early on the self-adaptive threshold is low: all pass.


def test_make_thresholds_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="threshold_mode must be one of"):
        thresholds.make_thresholds("softmatch", 3, 0.95, 4)


def test_distribution_alignment_pulls_predictions_toward_the_target():
    alignment = thresholds.DistributionAlignment([1.0, 1.0], momentum=0.0)  # Running mean = the batch mean.
    skewed = tf.constant([[0.9, 0.1], [0.7, 0.3]])  # Mean [0.8, 0.2]: class 0 over-predicted.
    aligned = alignment.align(skewed).numpy()
    raw = skewed.numpy() * np.array([0.5, 0.5]) / np.array([0.8, 0.2])
    np.testing.assert_allclose(aligned, raw / raw.sum(axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(aligned.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    assert aligned[1, 1] > 0.5  # The second image now leans to the under-predicted class.
    frozen = alignment.align(skewed, update=False).numpy()
    np.testing.assert_allclose(frozen, aligned, rtol=1e-6)
    assert thresholds.labeled_prior([30, 10], 2, smoothing=0.0) == [0.75, 0.25]
    assert thresholds.labeled_prior([], 4) == [0.25] * 4


def test_masked_cross_entropy_averages_over_all_samples():
    probabilities = tf.constant([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]])
    labels = tf.constant([0, 1, 1])
    per_sample = -np.log([0.5, 0.75, 0.1])
    np.testing.assert_allclose(fixmatch.cross_entropy(probabilities, labels), per_sample, rtol=1e-6)
    mask = tf.constant([1.0, 0.0, 1.0])
    np.testing.assert_allclose(fixmatch.masked_cross_entropy(probabilities, labels, mask),
                               (per_sample[0] + per_sample[2]) / 3, rtol=1e-6)
    assert float(fixmatch.masked_cross_entropy(probabilities, labels, tf.zeros([3]))) == 0.0


def test_weight_average_follows_with_warmed_up_decay_and_restores():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones",
                                                                    bias_initializer="zeros")])
    ema = fixmatch.WeightAverage(model, decay=0.999)
    model.layers[0].kernel.assign(np.full((2, 1), 3.0, np.float32))
    ema.update(step=0)  # decay = min(0.999, 1/10) = 0.1: the average moves 90% of the way.
    np.testing.assert_allclose(ema.shadow[0].numpy(), np.full((2, 1), 0.1 * 1.0 + 0.9 * 3.0), rtol=1e-6)
    assert float(fixmatch.ema_decay_at(0.999, 10_000)) == pytest.approx(0.999)
    with ema.applied() as averaged:
        np.testing.assert_allclose(averaged.layers[0].kernel.numpy(), np.full((2, 1), 2.8), rtol=1e-6)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), np.full((2, 1), 3.0))  # Own weights are back.


def test_fixmatch_cosine_schedule_and_optimizers():
    schedule = fixmatch.FixMatchCosine(0.03, total_steps=100)
    assert float(schedule(0)) == pytest.approx(0.03)
    assert float(schedule(100)) == pytest.approx(0.03 * math.cos(7 * math.pi / 16), rel=1e-5)
    assert float(schedule(500)) == pytest.approx(float(schedule(100)))  # Held after the last step.
    sgd = fixmatch.make_optimizer("sgd", 0.03, 5e-4, 100)
    assert sgd.nesterov and sgd.momentum == 0.9 and sgd.weight_decay == 5e-4
    assert isinstance(fixmatch.make_optimizer("adam", 1e-3, 0.0, 10), keras.optimizers.Adam)
