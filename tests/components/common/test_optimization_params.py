"""Learned optimization params moved to trainers with another batch size."""

import pytest


def test_scaled_learning_rate_follows_the_linear_scaling_rule():
    from components.common.optimization_params import scaled_learning_rate

    learned = {"batch_size": 16, "learning_rate": 0.002, "epochs": 30}
    assert scaled_learning_rate(learned, 64) == pytest.approx(0.008)
    assert scaled_learning_rate(learned, 16) == pytest.approx(0.002)
