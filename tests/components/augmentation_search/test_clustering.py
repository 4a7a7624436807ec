"""Clustering op response curves: inert group, stable under a fixed seed, at most max_clusters."""

import numpy as np
import pytest

from components.augmentation_search import clustering
from components.augmentation_search.candidates import Candidate, canonical_magnitude
from components.augmentation_search.distances import CandidateEffect

GRID = (0.1, 0.3, 0.6, 1.0)
# op -> label change at each grid magnitude (distance and loss follow it).
CURVES = {
    "rotate": (0.02, 0.05, 0.1, 0.2),
    "shear_x": (0.02, 0.04, 0.09, 0.18),
    "translate_x": (0.03, 0.06, 0.12, 0.25),
    "gaussian_noise": (0.2, 0.45, 0.7, 0.85),
    "grid_mask": (0.25, 0.5, 0.75, 0.9),
    "flip_left_right": (0.6, 0.6, 0.6, 0.6),
    "rot90": (0.65, 0.6, 0.62, 0.66),
    "hue": (0.0, 0.0, 0.0, 0.0),
    "saturation": (0.0, 0.0, 0.0, 0.0),
}


def _effects(noise_seed=0):
    rng = np.random.default_rng(noise_seed)
    effects = {("identity", 0.0): CandidateEffect(Candidate("identity", 0.0), 0.0, 0.0, 0.0, 0.0, 1.0)}
    for op, curve in CURVES.items():
        for magnitude, change in zip(GRID, curve):
            key = (op, canonical_magnitude(op, magnitude))  # flips: one candidate; rot90: one per quarter turn
            jitter = 0.0 if change == 0 else rng.uniform(-0.005, 0.005)
            distance = 3.0 * change + jitter
            effects.setdefault(key, CandidateEffect(Candidate(*key), distance, distance, 2.0 * change, change, 1.0 - change))
    return list(effects.values())


def test_inert_ops_group_apart_and_similar_curves_cluster_together():
    clusters = clustering.cluster_ops(_effects(), GRID, max_clusters=9, num_clusters=3, seed=0)
    assert clusters[0].inert and set(clusters[0].ops) == {"hue", "saturation"}
    groups = [set(cluster.ops) for cluster in clusters[1:]]
    assert groups == [{"rotate", "shear_x", "translate_x"}, {"gaussian_noise", "grid_mask"}, {"flip_left_right", "rot90"}]
    means = [cluster.mean_label_change[0] for cluster in clusters[1:]]
    assert means == sorted(means), "clusters are numbered mildest first"


def test_same_seed_same_clusters_and_never_more_than_max_clusters():
    first = clustering.cluster_ops(_effects(), GRID, max_clusters=5, seed=7)
    second = clustering.cluster_ops(_effects(), GRID, max_clusters=5, seed=7)
    assert first == second
    assert len(first) <= 5
    assert sorted(op for cluster in first for op in cluster.ops) == sorted(CURVES)
    assert len(clustering.cluster_ops(_effects(), GRID, max_clusters=2, seed=0)) == 2


def test_silhouette_choice_respects_min_clusters():
    clusters = clustering.cluster_ops(_effects(), GRID, max_clusters=9, min_clusters=3, seed=0)
    assert len([c for c in clusters if not c.inert]) >= 3


def test_missing_grid_magnitude_is_a_clear_error():
    effects = [e for e in _effects() if not (e.candidate.op == "rotate" and e.candidate.magnitude == 0.6)]
    with pytest.raises(ValueError, match="no candidate rotate@0.60"):
        clustering.cluster_ops(effects, GRID)
