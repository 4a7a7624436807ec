"""Which magnitudes pass 2 tries per cluster, which clusters it prunes, and which ops a trial keeps."""

import numpy as np

from components.augmentation_search.augmentation_search import moving_ops, pruned, run_pass_two, trial_magnitudes
from components.augmentation_search.candidates import Candidate
from components.augmentation_search.clustering import Cluster
from components.augmentation_search.distances import CandidateEffect
from components.augmentation_search.spec import AugmentationSearchConfig
from components.augmentation_search.trials import TrialResult, policy_strength

GRID = (0.1, 0.3, 0.6, 1.0)


def _cluster(changes, index=1):
    return Cluster(index, ("rotate",), tuple(changes), tuple(changes))


def test_the_largest_magnitudes_that_keep_labels_are_tried():
    mild = _cluster((0.02, 0.05, 0.12, 0.29))
    assert trial_magnitudes(mild, GRID, count=2, max_label_change=0.2) == [0.3, 0.6]
    assert trial_magnitudes(mild, GRID, count=1, max_label_change=0.2) == [0.6]
    assert trial_magnitudes(mild, GRID, count=3, max_label_change=0.5) == [0.3, 0.6, 1.0]


def test_a_label_breaking_cluster_is_tried_once_at_the_smallest_magnitude_or_pruned():
    flips = _cluster((0.6, 0.6, 0.6, 0.6), index=3)
    assert trial_magnitudes(flips, GRID, count=2, max_label_change=0.2) == [0.1]
    assert pruned(flips, GRID, limit=0.5)
    assert not pruned(flips, GRID, limit=None)
    assert not pruned(_cluster((0.3, 0.6, 0.8, 0.9)), GRID, limit=0.5)


def test_an_unsorted_grid_keeps_each_magnitude_with_its_own_label_change():
    grid = (1.0, 0.1, 0.6, 0.3)
    cluster = _cluster((0.29, 0.02, 0.12, 0.05))  # the same curve, listed in grid order
    assert trial_magnitudes(cluster, grid, count=2, max_label_change=0.2) == [0.3, 0.6]
    assert not pruned(cluster, grid, limit=0.5)
    assert pruned(_cluster((0.9, 0.55, 0.9, 0.9)), grid, limit=0.5)


def _moved(op, magnitude, relative_frechet):
    return CandidateEffect(Candidate(op, magnitude), relative_frechet, relative_frechet, 0.0, 0.0, 1.0)


def test_a_trial_keeps_only_the_ops_that_move_the_data_at_its_magnitude():
    effects = [
        _moved("rotate", 0.3, 0.04), _moved("translate_y", 0.3, 0.08), _moved("gamma", 0.3, 0.0002),
        _moved("rotate", 0.6, 0.08), _moved("translate_y", 0.6, 0.12), _moved("gamma", 0.6, 0.02),
    ]
    ops = ("rotate", "translate_y", "gamma")
    # At 0.3 gamma moves the embeddings 200x less than its cluster-mates: its draws would be near-copies.
    assert moving_ops(ops, effects, 0.3, min_share=0.25) == ("rotate", "translate_y")
    # At 0.6 it moves them a quarter of the mean (0.0733): kept.
    assert moving_ops(ops, effects, 0.6, min_share=0.25) == ops
    assert moving_ops(ops, effects, 0.3, min_share=0.0) == ops
    # Ops without a measurement at the magnitude (here: cutout) are kept; the biggest mover always stays.
    assert moving_ops(ops + ("cutout",), effects, 0.3, min_share=0.9) == ("rotate", "translate_y", "cutout")
    assert moving_ops(("translate_y", "gamma"), effects, 0.3, min_share=0.99) == ("translate_y",)
    assert moving_ops(ops, [], 0.3, min_share=0.25) == ops


class _RecordingRunner:
    """Stands in for TrialRunner: records each trial's policy, scores every trial alike."""

    def __init__(self):
        self.results = []

    def run(self, name, policy, kind, **details):
        correct = np.ones(50, bool)
        result = TrialResult(name, policy, 1.0, 0.0, 0.0, kind, correct=correct, strength=policy_strength(policy), **details)
        self.results.append(result)
        return result


def test_pass_two_trains_each_cluster_without_its_near_copy_ops_at_the_default_probability():
    config = AugmentationSearchConfig(architecture="tiny_cnn", magnitudes=(0.3, 0.6))
    cluster = Cluster(1, ("rotate", "translate_y", "gamma"), (0.05, 0.12), (0.04, 0.07))
    effects = [
        _moved("rotate", 0.3, 0.04), _moved("translate_y", 0.3, 0.08), _moved("gamma", 0.3, 0.0002),
        _moved("rotate", 0.6, 0.08), _moved("translate_y", 0.6, 0.12), _moved("gamma", 0.6, 0.0005),
    ]
    runner = _RecordingRunner()
    final = run_pass_two(runner, [cluster], {1: [0.3, 0.6]}, config, effects)
    cluster_trials = [trial for trial in runner.results if trial.kind == "cluster"]
    assert [trial.magnitude for trial in cluster_trials] == [0.3, 0.6]
    for trial in cluster_trials:
        assert trial.policy.op_names == ("rotate", "translate_y")
        assert {op.probability for op in trial.policy.ops} == {0.5}
    # All trials tie: the strongest searched policy is the search's candidate, but it is not better
    # than no augmentation beyond the noise, so the simpler option is output.
    assert final.searched.name == "cluster1_m0.60_p0.50"
    assert final.role == "none" and final.chosen.name == "none"
    assert [(d.candidate, d.against, d.kept) for d in final.decisions] == [
        ("randaugment", "none", False), ("searched", "none", False)]


class _MixingWinsRunner(_RecordingRunner):
    """A tiny synthetic case: trials whose policy mixes labels get 90% of 200 held-out images right, others 60%."""

    def run(self, name, policy, kind, **details):
        right = 180 if policy is not None and policy.uses_labels else 120
        correct = np.zeros(200, bool)
        correct[:right] = True
        result = TrialResult(name, policy, right / 200, 0.0, 0.0, kind, correct=correct,
                             strength=policy_strength(policy), **details)
        self.results.append(result)
        return result


def test_mixing_ops_are_trained_in_pass_two_and_output_when_they_win():
    config = AugmentationSearchConfig(architecture="tiny_cnn", magnitudes=(0.3, 0.6), min_effect_share=0.0)
    clusters = [
        Cluster(1, ("rotate", "translate_x"), (0.05, 0.1), (0.04, 0.07)),
        Cluster(2, ("mixup", "cutmix"), (0.05, 0.1), (0.04, 0.07)),
    ]
    runner = _MixingWinsRunner()
    final = run_pass_two(runner, clusters, {1: [0.6], 2: [0.6]}, config)
    assert any(trial.policy is not None and trial.policy.op_names == ("mixup", "cutmix") for trial in runner.results)
    assert final.role == "searched"
    assert set(final.chosen.policy.op_names) >= {"mixup", "cutmix"}
    assert final.decisions[-1].kept and final.decisions[-1].interval[0] > 0.2
