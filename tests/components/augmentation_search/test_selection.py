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


def test_baseline_replaces_the_searched_pick_only_when_measurably_better():
    searched = _trial("combined", 350, kind=COMBINED, strength=0.5)
    slightly_better = _trial("rand_augment", 352, kind=BASELINE, strength=0.6, offset=2)
    clearly_better = _trial("rand_augment", 390, kind=BASELINE, strength=0.6)
    assert selection.choose([searched, slightly_better], choose_baselines=True) is searched
    assert selection.choose([searched, clearly_better], choose_baselines=True) is clearly_better
    assert selection.choose([searched, clearly_better], choose_baselines=False) is searched
    assert selection.choose([clearly_better], choose_baselines=False) is clearly_better
