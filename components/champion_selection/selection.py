"""Paired bootstrap comparison of candidate models on one held-out split (no TFX, no TF).

Candidates come simplest first. The champion starts as the simplest; each
next candidate replaces it only when the lower end of the paired bootstrap
interval of its score difference is above zero, i.e. it is better beyond the
noise of this eval split. Pairing (the same resampled images for both models)
removes the images' own difficulty from the noise, so small eval splits still
resolve real gains.

The question is directional (is the more complex candidate better?), so the
rule is a one-sided bound: at `confidence` 0.95 the candidate is kept when the
5% quantile of the bootstrap mean difference is above zero (a 5% chance per
comparison of keeping a candidate that is not better). The reported interval
is the matching two-sided one, [5%, 95%] quantiles.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np


def per_example_scores(labels: np.ndarray, probabilities: np.ndarray, task: str) -> np.ndarray:
    """Per-example score `[N]` in [0, 1]: 1 if correct (classification), label accuracy (multilabel)."""
    if task == "multilabel":
        return np.mean((probabilities >= 0.5) == (labels >= 0.5), axis=1).astype(np.float64)
    return (np.argmax(probabilities, axis=1) == labels).astype(np.float64)


def paired_bootstrap(
    baseline: np.ndarray, candidate: np.ndarray, num_resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> Dict[str, float]:
    """Mean of candidate - baseline per-example scores with its one-sided bootstrap bound.

    Args:
      baseline, candidate: `[N]` per-example scores on the same examples, same order.

    Returns:
      {"delta", "low", "high"}: low = the one-sided `confidence` lower bound (the (1 - confidence) quantile),
      high = the matching upper one.
    """
    baseline, candidate = np.asarray(baseline, np.float64), np.asarray(candidate, np.float64)
    if baseline.shape != candidate.shape or baseline.ndim != 1 or len(baseline) == 0:
        raise ValueError(f"paired scores must be equal-length non-empty vectors; got {baseline.shape} and {candidate.shape}.")
    differences = candidate - baseline
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(differences), size=(num_resamples, len(differences)))
    means = differences[indices].mean(axis=1)
    tail = 1.0 - confidence  # one-sided: the lower bound is the (1 - confidence) quantile
    return {
        "delta": float(differences.mean()),
        "low": float(np.quantile(means, tail)),
        "high": float(np.quantile(means, 1 - tail)),
    }


def score_interval(scores: np.ndarray, num_resamples: int = 2000, seed: int = 0, confidence: float = 0.95):
    """(low, high) two-sided percentile bootstrap interval of a mean score at `confidence`."""
    scores = np.asarray(scores, np.float64)
    rng = np.random.default_rng(seed)
    means = scores[rng.integers(0, len(scores), size=(num_resamples, len(scores)))].mean(axis=1)
    tail = (1.0 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


@dataclasses.dataclass
class Comparison:
    candidate: str
    against: str
    delta: float
    interval: List[float]
    kept: bool
    reason: str


@dataclasses.dataclass
class SelectionResult:
    champion: str
    candidates: List[Dict[str, object]]
    decisions: List[Comparison]

    def to_dict(self) -> Dict[str, object]:
        return {
            "champion": self.champion,
            "candidates": self.candidates,
            "decisions": [dataclasses.asdict(d) for d in self.decisions],
        }


def select_champion(
    names: Sequence[str],
    scores: Sequence[np.ndarray],
    num_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    metric: str = "accuracy",
    uris: Optional[Sequence[str]] = None,
) -> SelectionResult:
    """Walks the candidates simplest first; a candidate is kept only when it beats the champion beyond noise."""
    if not names:
        raise ValueError("Champion selection needs at least one candidate.")
    if len(names) != len(scores):
        raise ValueError(f"{len(names)} candidate names but {len(scores)} score vectors.")
    candidates = []
    for index, (name, values) in enumerate(zip(names, scores)):
        low, high = score_interval(values, num_resamples, seed, confidence)
        candidates.append({"name": name, "metric": float(np.mean(values)), "interval": [low, high],
                           "model_uri": uris[index] if uris else ""})
    champion = 0
    decisions: List[Comparison] = []
    for index in range(1, len(names)):
        result = paired_bootstrap(scores[champion], scores[index], num_resamples, seed + index, confidence)
        kept = result["low"] > 0
        pp = 100 * result["delta"]
        interval = f"[{100 * result['low']:+.2f}, {100 * result['high']:+.2f}] pp"
        if kept:
            reason = f"{metric} {pp:+.2f} pp over {names[champion]}, {interval}: better beyond the noise"
        elif result["high"] < 0:
            reason = f"{metric} {pp:+.2f} pp vs {names[champion]}, {interval}: worse; keeps {names[champion]}"
        else:
            reason = (f"{metric} {pp:+.2f} pp vs {names[champion]}, {interval} includes 0: within the noise of "
                      f"{len(scores[index])} eval images; keeps the simpler {names[champion]}")
        decisions.append(Comparison(names[index], names[champion], result["delta"], [result["low"], result["high"]],
                                    kept, reason))
        if kept:
            champion = index
    return SelectionResult(names[champion], candidates, decisions)
