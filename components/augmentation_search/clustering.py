"""Grouping candidates of similar effect (the end of pass 1).

An op's candidates form its response curve: the pass-1 effects at each
magnitude of the grid. Ops whose curves are alike (they move the data the
same amount, change the loss and the predicted label alike, at every
magnitude) land in one cluster, so pass 2 can pick one magnitude for the
whole cluster. Ops that do nothing on this data (hue on grayscale images)
form the inert group and are not trained with.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from components.augmentation_search.candidates import IDENTITY_OP, canonical_magnitude
from components.augmentation_search.distances import CandidateEffect

INERT_CLUSTER = 0
METRICS = ("relative_frechet", "loss_change", "label_change")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A group of ops with similar pass-1 effect curves.

    Attributes:
      index: 0 is the inert group; 1.. ordered by mean label change (mildest first).
      ops: op names.
      mean_label_change: per grid magnitude, averaged over the ops, [M].
      mean_relative_frechet: per grid magnitude, averaged over the ops, [M].
    """

    index: int
    ops: Tuple[str, ...]
    mean_label_change: Tuple[float, ...]
    mean_relative_frechet: Tuple[float, ...]

    @property
    def inert(self) -> bool:
        return self.index == INERT_CLUSTER

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def effect_lookup(effects: Sequence[CandidateEffect]) -> Dict[Tuple[str, float], CandidateEffect]:
    return {(effect.candidate.op, effect.candidate.magnitude): effect for effect in effects}


def response_curves(
    effects: Sequence[CandidateEffect], grid: Sequence[float]
) -> Tuple[List[str], np.ndarray]:
    """Per op, its effects at each grid magnitude: (ops, curves [n_ops, M, 3]).

    Raises:
      ValueError: when an op lacks a candidate for some grid magnitude.
    """
    lookup = effect_lookup(effects)
    ops = [op for op in dict.fromkeys(effect.candidate.op for effect in effects) if op != IDENTITY_OP]
    curves = np.zeros((len(ops), len(grid), len(METRICS)))
    for row, op in enumerate(ops):
        for column, magnitude in enumerate(grid):
            key = (op, canonical_magnitude(op, float(magnitude)))
            if key not in lookup:
                raise ValueError(f"Pass 1 has no candidate {key[0]}@{key[1]:.2f} needed for the magnitude grid.")
            curves[row, column] = [getattr(lookup[key], metric) for metric in METRICS]
    return ops, curves


def curve_features(curves: np.ndarray) -> np.ndarray:
    """Flattened curves [n_ops, M*3]; distances log-compressed, each metric scaled by its spread."""
    features = curves.copy()
    features[..., 0] = np.log1p(np.maximum(features[..., 0], 0.0))
    scale = features.reshape(-1, features.shape[-1]).std(axis=0)
    features = features / np.where(scale > 0, scale, 1.0)
    return features.reshape(len(features), -1)


def inert_ops(ops: Sequence[str], curves: np.ndarray, threshold: float) -> List[str]:
    """Ops that never move the embeddings by more than `threshold` (relative) nor change a label."""
    moved = curves[..., 0].max(axis=1)
    flipped = curves[..., 2].max(axis=1)
    return [op for op, distance, change in zip(ops, moved, flipped) if distance <= threshold and change == 0.0]


def choose_cluster_count(features: np.ndarray, max_clusters: int, seed: int, min_clusters: int = 2) -> int:
    """The k in [min_clusters, max_clusters] with the best silhouette score (k-means, seeded)."""
    upper = min(max_clusters, len(features) - 1)
    lower = max(2, min(min_clusters, upper))
    if upper < 2:
        return max(1, min(len(features), max_clusters))
    scores = {}
    for k in range(lower, upper + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
        if len(set(labels)) > 1:
            scores[k] = silhouette_score(features, labels)
    return max(scores, key=lambda k: (round(scores[k], 6), -k)) if scores else 1


def cluster_ops(
    effects: Sequence[CandidateEffect],
    grid: Sequence[float],
    max_clusters: int = 9,
    num_clusters: Optional[int] = None,
    inert_threshold: float = 1e-3,
    seed: int = 0,
    min_clusters: int = 2,
) -> List[Cluster]:
    """Clusters the ops of pass 1 into at most `max_clusters` groups (the inert group included).

    Args:
      effects: pass-1 table (must cover every op at every grid magnitude).
      grid: the magnitudes that define an op's response curve.
      num_clusters: fixed number of active clusters; None picks it by silhouette
        in [min_clusters, max_clusters - (1 if some op is inert)].
      inert_threshold: relative Frechet distance below which an op counts as inert.
      seed: k-means seed; same seed, same clusters.

    Returns:
      Clusters ordered by index; the inert one (index 0) only when some op is inert.
    """
    if max_clusters < 1:
        raise ValueError(f"max_clusters must be >= 1; got {max_clusters}.")
    ops, curves = response_curves(effects, grid)
    inert = inert_ops(ops, curves, inert_threshold)
    active = [index for index, op in enumerate(ops) if op not in inert]
    budget = max_clusters - (1 if inert else 0)
    if active and budget < 1:
        raise ValueError(f"max_clusters={max_clusters} leaves no cluster for the {len(active)} active ops.")
    assignment = np.zeros(len(active), dtype=int)
    if len(active) > 1:
        features = curve_features(curves[active])
        k = num_clusters or choose_cluster_count(features, budget, seed, min_clusters)
        k = max(1, min(k, budget, len(active)))
        if k > 1:
            assignment = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
    clusters = []
    if inert:
        rows = [ops.index(op) for op in inert]
        clusters.append(_cluster(INERT_CLUSTER, [ops[r] for r in rows], curves[rows]))
    members = {group: [active[i] for i in np.flatnonzero(assignment == group)] for group in set(assignment.tolist())}
    ordered = sorted(members, key=lambda group: (curves[members[group]][..., 2].mean(), group))  # mildest first
    for number, group in enumerate(ordered, start=1):
        rows = members[group]
        clusters.append(_cluster(number, [ops[r] for r in rows], curves[rows]))
    return clusters


def _cluster(index: int, ops: List[str], curves: np.ndarray) -> Cluster:
    return Cluster(
        index=index,
        ops=tuple(ops),
        mean_label_change=tuple(float(v) for v in curves[..., 2].mean(axis=0)),
        mean_relative_frechet=tuple(float(v) for v in curves[..., 0].mean(axis=0)),
    )


def cluster_of(clusters: Sequence[Cluster]) -> Dict[str, int]:
    """op name -> cluster index."""
    return {op: cluster.index for cluster in clusters for op in cluster.ops}
