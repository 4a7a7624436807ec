"""Champion selection: paired bootstrap intervals and the simpler-wins rule."""

import numpy as np
import pytest

from components.champion_selection.selection import paired_bootstrap, per_example_scores, select_champion


def correct(n, rate, seed):
    return (np.random.default_rng(seed).random(n) < rate).astype(float)


def test_identical_models_differ_by_zero_with_an_interval_around_it():
    scores = correct(200, 0.8, 0)
    result = paired_bootstrap(scores, scores.copy())
    assert result == {"delta": 0.0, "low": 0.0, "high": 0.0}


def test_a_clearly_better_candidate_is_kept():
    baseline = correct(1000, 0.80, 1)
    better = np.maximum(baseline, correct(1000, 0.5, 2))  # fixes about half the mistakes, breaks none
    result = select_champion(["Training", "NoisyStudent"], [baseline, better])
    assert result.champion == "NoisyStudent"
    decision = result.decisions[0]
    assert decision.kept and decision.interval[0] > 0 and "better beyond the noise" in decision.reason


def test_a_candidate_within_the_noise_loses_to_the_simpler_one():
    baseline = correct(60, 0.8, 3)
    flipped = baseline.copy()
    flipped[np.flatnonzero(baseline == 0)[:2]] = 1  # two more images right on a 60-image split
    result = select_champion(["Training", "Consistency"], [baseline, flipped])
    assert result.champion == "Training"
    assert not result.decisions[0].kept and "within the noise of 60 eval images" in result.decisions[0].reason


def test_comparisons_are_against_the_current_champion_in_order():
    a = correct(2000, 0.7, 4)
    b = np.maximum(a, correct(2000, 0.4, 5))
    c = b.copy()  # no better than b
    result = select_champion(["a", "b", "c"], [a, b, c])
    assert [d.against for d in result.decisions] == ["a", "b"]
    assert result.champion == "b"


def test_per_example_scores_for_classification_and_multilabel():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    assert per_example_scores(np.array([0, 0, 0]), probabilities, "classification").tolist() == [1, 0, 1]
    multi = per_example_scores(np.array([[1, 0], [1, 1], [0, 0]]), probabilities, "multilabel")
    assert multi.tolist() == [1.0, 0.5, 0.5]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="equal-length"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="at least one candidate"):
        select_champion([], [])


def test_same_seed_same_interval():
    a, b = correct(300, 0.7, 6), correct(300, 0.75, 7)
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


def _probabilities(labels, confidence_on_truth, wrong, classes=10):
    """Rows with `confidence_on_truth` on the label (or on label+1 for the `wrong` rows), the rest spread evenly."""
    rows = np.full((len(labels), classes), 0.0)
    for index, label in enumerate(labels):
        target = (label + 1) % classes if index in wrong else label
        rows[index] = (1 - confidence_on_truth) / (classes - 1)
        rows[index, target] = confidence_on_truth
    return rows


def test_a_better_brier_score_keeps_a_candidate_whose_accuracy_gain_is_within_the_noise():
    from components.champion_selection.selection import per_example_brier

    labels = np.arange(60) % 10
    simple = _probabilities(labels, 0.55, wrong={0, 1, 2, 3})
    better = _probabilities(labels, 0.95, wrong={0, 1})  # 2 images more right (not resolved), far surer of the rest
    names = ["Training", "NoisyStudent"]
    scores = [per_example_scores(labels, p, "classification") for p in (simple, better)]
    brier = [per_example_brier(labels, p, "classification") for p in (simple, better)]
    accuracy_only = select_champion(names, scores, seed=0)
    assert accuracy_only.champion == "Training"
    with_brier = select_champion(names, scores, seed=0, proper_scores=brier)
    assert with_brier.champion == "NoisyStudent" and with_brier.decisions[0].kept_by == "brier"
    assert with_brier.decisions[0].brier_interval[0] > 0 and "Brier score" in with_brier.decisions[0].reason


def test_a_better_brier_score_does_not_keep_a_candidate_with_lower_accuracy():
    from components.champion_selection.selection import per_example_brier

    labels = np.arange(60) % 10
    simple = _probabilities(labels, 0.55, wrong={0})
    surer = _probabilities(labels, 0.95, wrong={0, 1})  # one image fewer right, far surer of the rest
    scores = [per_example_scores(labels, p, "classification") for p in (simple, surer)]
    brier = [per_example_brier(labels, p, "classification") for p in (simple, surer)]
    result = select_champion(["Training", "Candidate"], scores, seed=0, proper_scores=brier)
    assert result.champion == "Training" and result.decisions[0].kept_by == ""


def test_brier_score_is_one_for_certain_right_answers_and_zero_for_certain_wrong_ones():
    from components.champion_selection.selection import per_example_brier

    probabilities = np.array([[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(per_example_brier(np.array([0, 1]), probabilities, "classification"), [1.0, 0.0])


def test_a_candidate_identical_to_the_champion_is_named_as_such():
    scores = correct(100, 0.9, 7)
    brier = np.random.default_rng(7).random(100)
    result = select_champion(["Training", "NoisyStudent"], [scores, scores.copy()], proper_scores=[brier, brier.copy()])
    decision = result.decisions[0]
    assert not decision.kept and result.champion == "Training"
    assert "the same predictions as Training on all 100 eval images" in decision.reason
    # One image apart is a comparison again, not "the same".
    other = scores.copy()
    other[0] = 1 - other[0]
    assert "same predictions" not in select_champion(["A", "B"], [scores, other]).decisions[0].reason


def test_the_champion_model_carries_its_properties_but_not_its_trainers_run_decision():
    from tfx.types import standard_artifacts

    from components.champion_selection import spec as keys
    from components.champion_selection.executor import Executor
    from components.common.mlmd_metrics import RUN_DECISION

    trained, chosen = standard_artifacts.Model(), standard_artifacts.Model()
    trained.set_string_custom_property(RUN_DECISION, "no mirroring in the weak view")
    trained.set_float_custom_property("eval_accuracy", 0.97)
    result = select_champion(["Training"], [np.ones(10)], num_resamples=50)
    Executor._record(chosen, trained, result, 0)
    properties = chosen.mlmd_artifact.custom_properties
    assert properties["eval_accuracy"].double_value == 0.97
    assert properties[keys.CHAMPION_PROPERTY].string_value == "Training"
    assert RUN_DECISION not in properties  # the decision stays credited to the trainer (lineage.run_decisions)
