"""NT-Xent and Barlow Twins against values worked out by hand and a loop reference."""

import math

import numpy as np
import pytest
import tensorflow as tf

from components.contrastive import losses


def test_nt_xent_hand_value_orthogonal_pairs():
    # Anchors e1, e2 in each view; temperature 1. For anchor e1 (view 1) the other three
    # projections have cosine 0 (e2), 1 (its positive e1) and 0 (e2): loss = -log(e / (e + 2)).
    z = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    expected = math.log(1.0 + 2.0 / math.e)
    assert float(losses.nt_xent(z, z, temperature=1.0)) == pytest.approx(expected, rel=1e-6)


def test_nt_xent_temperature_and_normalization_by_hand():
    # Scaling a projection does not matter (cosine); temperature 0.5 doubles the logits:
    # -log(e^2 / (e^2 + 2)) for every anchor.
    z1 = tf.constant([[3.0, 0.0], [0.0, 0.5]])
    z2 = tf.constant([[1.0, 0.0], [0.0, 7.0]])
    expected = math.log(1.0 + 2.0 / math.e**2)
    assert float(losses.nt_xent(z1, z2, temperature=0.5)) == pytest.approx(expected, rel=1e-6)


def _nt_xent_loop(z1, z2, temperature):
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        denominator = sum(math.exp(z[i] @ z[k] / temperature) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(z[i] @ z[positive] / temperature) / denominator)
    return total / (2 * n)


def test_nt_xent_matches_loop_reference_and_prefers_matching_views():
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(5, 4)).astype("float32")
    z2 = (z1 + 0.1 * rng.normal(size=(5, 4))).astype("float32")
    value = float(losses.nt_xent(tf.constant(z1), tf.constant(z2), temperature=0.3))
    assert value == pytest.approx(_nt_xent_loop(z1, z2, 0.3), rel=1e-5)
    shuffled = float(losses.nt_xent(tf.constant(z1), tf.constant(z2[::-1].copy()), temperature=0.3))
    assert shuffled > value


def test_barlow_twins_hand_value():
    # Standardized columns: z1 -> [[-1,-1],[1,1]], z2 -> [[1,-1],[-1,1]].
    # C = z1n^T z2n / 2 = [[-1, 1], [-1, 1]]: on-diagonal (1-(-1))^2 + (1-1)^2 = 4, off-diagonal 1 + 1 = 2.
    z1 = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    z2 = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    value = float(losses.barlow_twins(z1, z2, redundancy_weight=0.005))
    assert value == pytest.approx(4.0 + 2 * 0.005, rel=1e-4)


def test_barlow_twins_zero_for_identical_decorrelated_views():
    z = tf.constant([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # C = identity
    assert float(losses.barlow_twins(z, z * 3.0 + 1.0, redundancy_weight=1.0)) == pytest.approx(0.0, abs=1e-4)


def test_barlow_twins_penalizes_redundant_features_by_lambda():
    z = tf.constant([[1.0, 1.0], [-1.0, -1.0], [2.0, 2.0], [-2.0, -2.0]])  # Both features identical: C = ones.
    assert float(losses.barlow_twins(z, z, redundancy_weight=0.5)) == pytest.approx(0.5 * 2, rel=1e-4)
