"""The pass-2 choice rule: best accuracy, stronger augmentation within noise, baselines only when clearly better."""

import numpy as np
import pytest

from components.augmentation_search import selection
from components.augmentation_search.trials import BASELINE, CLUSTER, COMBINED, TrialResult

N = 400


def _trial(name, correct_count, kind=CLUSTER, strength=0.0, cluster=None, offset=0):
    correct = np.zeros(N, bool)
    correct[offset : offset + correct_count] = True
    return TrialResult(name, None, correct_count / N, 0.0, 0.0, kind, correct=correct, cluster=cluster, strength=strength)


def test_paired_standard_error_is_zero_for_identical_predictions_and_grows_with_disagreement():
    a = _trial("a", 300)
    assert selection.paired_standard_error(a, _trial("b", 300)) == 0.0
    close = selection.paired_standard_error(a, _trial("c", 300, offset=10))
    far = selection.paired_standard_error(a, _trial("d", 300, offset=80))
    assert 0.0 < close < far
    with pytest.raises(ValueError, match="same held-out examples"):
        selection.paired_standard_error(a, TrialResult("e", None, 0.5, 0.0, 0.0, CLUSTER, correct=np.ones(3, bool)))


def test_stronger_augmentation_wins_within_noise_but_not_beyond():
    mild = _trial("mild", 360, strength=0.1, cluster=1)
    strong_close = _trial("strong", 358, strength=0.6, cluster=1, offset=20)
    assert selection.strongest_within_noise([mild, strong_close]) is strong_close
    strong_far = _trial("strong_far", 300, strength=0.6, cluster=1, offset=40)
    assert selection.strongest_within_noise([mild, strong_far]) is mild
    assert selection.strongest_within_noise([mild, strong_close], tolerance=0.0) is mild


def test_cluster_choices_and_helpfulness():
    none = _trial("none", 360, kind=BASELINE)
    trials = [
        none,
        _trial("c1_low", 362, strength=0.1, cluster=1),
        _trial("c1_high", 361, strength=0.3, cluster=1, offset=10),
        _trial("c2_flip", 250, strength=0.1, cluster=2, offset=100),
    ]
    choices = selection.cluster_choices(trials)
    assert choices[1].name == "c1_high" and choices[2].name == "c2_flip"
    assert selection.helpful(choices[1], none) and not selection.helpful(choices[2], none)


def _correct(n, right, offset=0):
    correct = np.zeros(n, bool)
    correct[offset : offset + right] = True
    return correct


def _scored(name, kind, correct, strength=0.0):
    return TrialResult(name, None, float(np.mean(correct)), 0.0, 0.0, kind, correct=correct, strength=strength)


def _options(n, none_right, randaugment_right, searched_right):
    """No augmentation, RandAugment and one searched trial on an n-image split; each gets the first k images right."""
    return [
        _scored("none", BASELINE, _correct(n, none_right)),
        _scored("rand_augment_n2_m0.3", BASELINE, _correct(n, randaugment_right), strength=0.6),
        _scored("combined_c1_p0.50", COMBINED, _correct(n, searched_right), strength=0.5),
    ]


@pytest.mark.parametrize("lead", [1, 2, 3])
def test_a_lead_of_one_to_three_images_on_a_small_split_keeps_the_simpler_policy(lead):
    trials = _options(60, 40, 40, 40 + lead)
    final = selection.final_choice(trials)
    assert final.role == "none" and final.chosen.name == "none"
    assert final.searched.name == "combined_c1_p0.50"
    searched_vs_none = final.decisions[-1]
    assert (searched_vs_none.candidate, searched_vs_none.against) == ("searched", "none")
    assert searched_vs_none.difference == pytest.approx(lead / 60)
    assert searched_vs_none.n == 60 and not searched_vs_none.kept and searched_vs_none.interval[0] <= 0
    assert "within the noise" in searched_vs_none.reason()


def test_a_large_consistent_gain_picks_the_searched_policy():
    final = selection.final_choice(_options(400, 300, 302, 360))
    assert final.role == "searched" and final.chosen.name == "combined_c1_p0.50"
    randaugment_vs_none, searched_vs_none = final.decisions
    assert not randaugment_vs_none.kept
    assert searched_vs_none.kept and searched_vs_none.interval[0] > 0.1
    assert searched_vs_none.to_dict()["decision"] == "kept" and "one-sided 95%" in searched_vs_none.rule


def test_the_searched_policy_must_beat_the_randaugment_baseline_once_it_won():
    final = selection.final_choice(_options(400, 300, 360, 362))
    assert final.role == "randaugment"
    assert [(d.candidate, d.against, d.kept) for d in final.decisions] == [
        ("randaugment", "none", True), ("searched", "randaugment", False)]
    clearly = selection.final_choice(_options(400, 300, 330, 390))
    assert clearly.role == "searched" and [d.kept for d in clearly.decisions] == [True, True]


def test_choose_baselines_false_outputs_the_searched_policy_and_still_records_the_comparisons():
    final = selection.final_choice(_options(60, 40, 40, 41), choose_baselines=False)
    assert final.role == "searched" and len(final.decisions) == 2 and not final.decisions[-1].kept
    assert "choose_baselines=false" in final.rule


def test_the_final_choice_is_seeded_and_refuses_trials_on_different_examples():
    trials = _options(80, 50, 55, 60)
    assert selection.final_choice(trials, seed=4).to_dict() == selection.final_choice(trials, seed=4).to_dict()
    mismatched = trials[:2] + [_scored("combined_c1_p0.50", COMBINED, _correct(70, 60))]
    with pytest.raises(ValueError, match="same held-out examples"):
        selection.final_choice(mismatched)


def test_the_search_candidate_is_the_strongest_searched_trial_within_noise():
    mild = _trial("mild", 360, strength=0.1, cluster=1)
    strong_close = _trial("strong", 358, strength=0.6, cluster=1, offset=20)
    none = _trial("none", 300, kind=BASELINE)
    assert selection.searched_pick([none, mild, strong_close]) is strong_close
    assert selection.searched_pick([none]) is None
    only_baselines = selection.final_choice([none])
    assert only_baselines.role == "none" and only_baselines.decisions == []
