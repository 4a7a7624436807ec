"""Paired comparisons on one held-out split: is the more complex option better beyond the noise?

The suite's rule for every decision it makes from held-out data (champion
selection, the augmentation search's final policy): the more complex option
replaces the simpler one only when the one-sided lower bound of their paired
score difference is above zero; otherwise the simpler one is kept.
Pairing (the same resampled examples for both options) removes the
examples' own difficulty from the noise, so small splits still resolve real
gains, while a one-to-three-image difference on 60 images does not pass.

At `confidence` 0.95 the bound is the 5% quantile of the bootstrap mean
difference (a 5% chance per comparison of keeping an option that is not
better); the reported interval is [5%, 95%] quantiles.

With per-example correctness (0/1 scores) and few disagreements, the
bootstrap and the normal bound are too optimistic: an option right on 3
more images of 60 and wrong on none of the other's has a bootstrap lower
bound above 0 (a resample misses all 3 images with probability
(57/60)^60 = 4.6% < 5%), yet three coin flips all landing one way happen
one time in eight. `compare` therefore also takes the exact bound on the
disagreeing examples (McNemar's exact test inverted: a one-sided
Clopper-Pearson bound on the share of disagreements the candidate wins)
and keeps the more cautious of the two bounds.
No TensorFlow here: numpy and scipy only.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Tuple

import numpy as np


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
    low, high = one_sided_bounds(differences[indices].mean(axis=1), confidence)
    return {"delta": float(differences.mean()), "low": low, "high": high}


def one_sided_bounds(resampled_differences: np.ndarray, confidence: float = 0.95) -> Tuple[float, float]:
    """(low, high): the one-sided `confidence` lower bound of resampled paired differences (their (1 - confidence)
    quantile) and the matching upper one. The keep rule reads `low > 0`."""
    tail = 1.0 - confidence
    return float(np.quantile(resampled_differences, tail)), float(np.quantile(resampled_differences, 1 - tail))


def score_interval(scores: np.ndarray, num_resamples: int = 2000, seed: int = 0, confidence: float = 0.95):
    """(low, high) two-sided percentile bootstrap interval of a mean score at `confidence`."""
    scores = np.asarray(scores, np.float64)
    rng = np.random.default_rng(seed)
    means = scores[rng.integers(0, len(scores), size=(num_resamples, len(scores)))].mean(axis=1)
    tail = (1.0 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def exact_binary_bounds(baseline: np.ndarray, candidate: np.ndarray, confidence: float = 0.95):
    """One-sided `confidence` bounds of the mean difference of paired 0/1 scores, exact on the disagreements.

    With b examples only the candidate gets right and c only the baseline
    gets right (m = b + c of n), the difference is (m / n)(2 pi - 1) where pi
    is the candidate's share of the disagreements; pi's one-sided
    Clopper-Pearson bounds give the difference's. The lower bound is above 0
    exactly when McNemar's exact one-sided test rejects at 1 - confidence.

    Returns:
      (lower, upper), or None when the scores are not all 0 or 1.
    """
    from scipy import stats

    baseline, candidate = np.asarray(baseline, np.float64), np.asarray(candidate, np.float64)
    if not (np.isin(baseline, (0.0, 1.0)).all() and np.isin(candidate, (0.0, 1.0)).all()):
        return None
    wins = int(np.sum((candidate == 1) & (baseline == 0)))
    losses = int(np.sum((candidate == 0) & (baseline == 1)))
    disagreements, tail = wins + losses, 1.0 - confidence
    if disagreements == 0:
        return 0.0, 0.0
    share_low = 0.0 if wins == 0 else float(stats.beta.ppf(tail, wins, losses + 1))
    share_high = 1.0 if losses == 0 else float(stats.beta.ppf(confidence, wins + 1, losses))
    scale = disagreements / baseline.size
    return scale * (2 * share_low - 1), scale * (2 * share_high - 1)


def rule_text(confidence: float, num_resamples: int) -> str:
    """The decision rule in words (stored next to every decision)."""
    return (
        f"the more complex option wins only when the one-sided {100 * confidence:g}% lower bound of its paired "
        f"score difference is above 0 (the more cautious of the paired bootstrap with {num_resamples} resamples "
        "and, for 0/1 scores, the exact bound on the disagreeing examples); otherwise the simpler option is kept"
    )


@dataclasses.dataclass(frozen=True)
class PairedDecision:
    """One comparison of a more complex option against a simpler one on the same examples.

    Attributes:
      candidate, against: the more complex option and the simpler one.
      difference: mean score of candidate minus against (e.g. accuracy points as a fraction).
      interval: [lower, upper] bootstrap bounds of the difference (one-sided `confidence` each).
      n: examples compared.
      kept: whether the candidate is better beyond the noise (lower bound > 0).
      rule: the rule applied, in words.
    """

    candidate: str
    against: str
    difference: float
    interval: List[float]
    n: int
    kept: bool
    rule: str

    @property
    def decision(self) -> str:
        return "kept" if self.kept else "rejected"

    def reason(self, metric: str = "accuracy") -> str:
        interval = f"[{100 * self.interval[0]:+.2f}, {100 * self.interval[1]:+.2f}] pp"
        head = f"{metric} {100 * self.difference:+.2f} pp vs {self.against}, {interval} on {self.n} examples"
        if self.kept:
            return f"{head}: better beyond the noise; {self.candidate} wins"
        if self.interval[1] < 0:
            return f"{head}: worse; keeps {self.against}"
        return f"{head}: within the noise; keeps the simpler {self.against}"

    def to_dict(self, metric: str = "accuracy") -> Dict[str, object]:
        values = dataclasses.asdict(self)
        values.update(decision=self.decision, reason=self.reason(metric))
        return values


def compare(
    against: str,
    simpler_scores: np.ndarray,
    candidate: str,
    candidate_scores: np.ndarray,
    num_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedDecision:
    """Is `candidate` better than the simpler `against` beyond the noise of these paired per-example scores?

    The interval is the paired bootstrap's, widened to the exact bounds on
    the disagreeing examples for 0/1 scores (`exact_binary_bounds`).
    """
    result = paired_bootstrap(simpler_scores, candidate_scores, num_resamples, seed, confidence)
    low, high = result["low"], result["high"]
    exact = exact_binary_bounds(simpler_scores, candidate_scores, confidence)
    if exact is not None:
        low, high = min(low, exact[0]), max(high, exact[1])
    return PairedDecision(
        candidate=candidate, against=against, difference=result["delta"], interval=[low, high],
        n=int(np.asarray(candidate_scores).size), kept=low > 0, rule=rule_text(confidence, num_resamples),
    )
