"""Choosing among pass-2 trials: best held-out accuracy, with a one-standard-error rule.

Short trainings underrate augmentation: its benefit (invariance, less
overfitting) grows with training length while its cost (harder batches)
shows at once. So among the trials whose accuracy is within one paired
standard error of the best (the noise of a 500-image comparison), the
strongest augmentation is chosen, as the one-standard-error rule picks the
most regularized model that is not measurably worse (Breiman et al. 1984;
Hastie et al., Elements of Statistical Learning, 7.10). Differences larger
than the noise are respected: mirroring digits loses tens of points and is
never chosen.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from components.augmentation_search.trials import BASELINE, CLUSTER, TrialResult


def paired_standard_error(first: TrialResult, second: TrialResult) -> float:
    """Standard error of the accuracy difference of two trials scored on the same examples."""
    if first.correct.shape != second.correct.shape or first.correct.size < 2:
        raise ValueError(
            f"Trials {first.name!r} and {second.name!r} were not scored on the same held-out examples "
            f"({first.correct.shape} vs {second.correct.shape})."
        )
    difference = first.correct.astype(np.float64) - second.correct.astype(np.float64)
    return float(np.std(difference, ddof=1) / math.sqrt(difference.size))


def within_noise(candidate: TrialResult, best: TrialResult, tolerance: float = 1.0) -> bool:
    """True when `candidate` is not worse than `best` by more than `tolerance` paired standard errors."""
    return candidate.accuracy >= best.accuracy - tolerance * paired_standard_error(candidate, best)


def strongest_within_noise(trials: Sequence[TrialResult], tolerance: float = 1.0) -> TrialResult:
    """The most augmenting trial among those within noise of the most accurate one."""
    if not trials:
        raise ValueError("No trials to choose from.")
    best = max(trials, key=lambda t: t.accuracy)
    close = [t for t in trials if within_noise(t, best, tolerance)]
    return max(close, key=lambda t: (round(t.strength, 9), t.accuracy))


def cluster_choices(trials: Sequence[TrialResult], tolerance: float = 1.0) -> Dict[int, TrialResult]:
    """Per cluster, its chosen single-cluster trial (magnitude and probability)."""
    by_cluster: Dict[int, List[TrialResult]] = {}
    for trial in trials:
        if trial.kind == CLUSTER:
            by_cluster.setdefault(trial.cluster, []).append(trial)
    return {cluster: strongest_within_noise(group, tolerance) for cluster, group in sorted(by_cluster.items())}


def helpful(choice: TrialResult, no_augmentation: TrialResult, tolerance: float = 1.0) -> bool:
    """A cluster helps unless it is measurably worse than no augmentation."""
    return within_noise(choice, no_augmentation, tolerance)


def choose(trials: Sequence[TrialResult], choose_baselines: bool, tolerance: float = 1.0) -> TrialResult:
    """The final pick: the strongest searched policy within noise of the best searched one; a
    baseline replaces it only when measurably better (and choose_baselines is set)."""
    searched = [t for t in trials if t.kind != BASELINE]
    baselines = [t for t in trials if t.kind == BASELINE]
    if not searched:
        if not baselines:
            raise ValueError("No pass-2 trial to choose from.")
        return max(baselines, key=lambda t: t.accuracy)
    pick = strongest_within_noise(searched, tolerance)
    if choose_baselines and baselines:
        best_baseline = max(baselines, key=lambda t: t.accuracy)
        if best_baseline.accuracy > pick.accuracy + tolerance * paired_standard_error(best_baseline, pick):
            return best_baseline
    return pick


def no_augmentation_trial(trials: Sequence[TrialResult], name: str) -> Optional[TrialResult]:
    return next((t for t in trials if t.kind == BASELINE and t.name == name), None)
