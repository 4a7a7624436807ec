"""The shared paired comparison: better beyond the noise of one held-out split, or keep the simpler option."""

import numpy as np
import pytest

from components.common import paired_stats


def _correct(n, right, offset=0):
    correct = np.zeros(n, bool)
    correct[offset : offset + right] = True
    return correct


def test_a_three_image_lead_on_sixty_images_is_within_the_noise():
    decision = paired_stats.compare("none", _correct(60, 40), "searched", _correct(60, 43))
    assert decision.difference == pytest.approx(3 / 60)
    assert decision.interval[0] <= 0 < decision.interval[1]
    assert not decision.kept and decision.decision == "rejected" and decision.n == 60
    assert "keeps the simpler none" in decision.reason()


def test_a_consistent_gain_passes_and_a_loss_is_reported_as_worse():
    gain = paired_stats.compare("none", _correct(500, 350), "searched", _correct(500, 400))
    assert gain.kept and gain.interval[0] > 0.05
    loss = paired_stats.compare("none", _correct(500, 400), "searched", _correct(500, 350))
    assert not loss.kept and loss.interval[1] < 0 and "worse" in loss.reason()


def test_the_bootstrap_bound_matches_the_paired_normal_bound_on_a_large_split():
    rng = np.random.default_rng(0)
    baseline = rng.random(2000) < 0.7
    candidate = np.where(rng.random(2000) < 0.1, ~baseline, baseline)  # 10% of answers flip either way
    result = paired_stats.paired_bootstrap(baseline, candidate, num_resamples=4000, seed=1)
    differences = candidate.astype(float) - baseline.astype(float)
    normal_low = differences.mean() - 1.645 * differences.std(ddof=1) / np.sqrt(differences.size)
    assert result["low"] == pytest.approx(normal_low, abs=0.003)
    assert paired_stats.paired_bootstrap(baseline, candidate, seed=5) == paired_stats.paired_bootstrap(
        baseline, candidate, seed=5)


def test_champion_selection_uses_the_shared_math():
    from components.champion_selection import selection

    assert selection.paired_bootstrap is paired_stats.paired_bootstrap
    assert selection.score_interval is paired_stats.score_interval


def test_a_one_sided_three_image_lead_is_still_a_coin_toss():
    """Right on 3 more of 60 images and wrong on none of the other's: the bootstrap alone would keep it."""
    simpler, candidate = _correct(60, 40), _correct(60, 43)
    assert paired_stats.paired_bootstrap(simpler, candidate)["low"] > 0
    low, _ = paired_stats.exact_binary_bounds(simpler, candidate)
    assert low < 0  # McNemar's exact one-sided p = 0.5 ** 3 = 0.125
    assert not paired_stats.compare("none", simpler, "searched", candidate).kept
    # Five such images (p = 0.5 ** 5 = 0.03) pass.
    assert paired_stats.compare("none", simpler, "searched", _correct(60, 45)).kept


def test_exact_bounds_are_for_zero_one_scores_only():
    assert paired_stats.exact_binary_bounds(np.array([0.5, 1.0]), np.array([1.0, 1.0])) is None
    assert paired_stats.exact_binary_bounds(np.ones(5), np.ones(5)) == (0.0, 0.0)
