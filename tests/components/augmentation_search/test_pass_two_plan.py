"""Which magnitudes pass 2 tries per cluster, and which clusters it prunes."""

from components.augmentation_search.augmentation_search import pruned, trial_magnitudes
from components.augmentation_search.clustering import Cluster

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
