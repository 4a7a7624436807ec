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

Per-image correctness is a coarse signal: on 50-100 eval images a real gain of
a few points rarely clears the bound. With `proper_scores` (per-image Brier
scores, continuous and far less noisy), a candidate is also kept when its
accuracy is not lower and its Brier score is better beyond the noise. The two
tests share the error budget (each at half of 1 - confidence, Bonferroni), so
the chance of keeping a candidate that is not better stays at most 1 - confidence.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np

from components.common.paired_stats import one_sided_bounds, paired_bootstrap, score_interval


def per_example_brier(labels: np.ndarray, probabilities: np.ndarray, task: str) -> np.ndarray:
    """Per-example Brier score as a score in [0, 1] (1 = all probability on the right answer; higher is better)."""
    probabilities = np.asarray(probabilities, np.float64)
    if task == "multilabel":
        return 1.0 - np.mean((probabilities - (np.asarray(labels) >= 0.5)) ** 2, axis=1)
    one_hot = np.eye(probabilities.shape[1])[np.asarray(labels, np.int64)]
    return 1.0 - 0.5 * np.sum((probabilities - one_hot) ** 2, axis=1)


def per_example_scores(labels: np.ndarray, probabilities: np.ndarray, task: str) -> np.ndarray:
    """Per-example score `[N]` in [0, 1]: 1 if correct (classification), label accuracy (multilabel)."""
    if task == "multilabel":
        return np.mean((probabilities >= 0.5) == (labels >= 0.5), axis=1).astype(np.float64)
    return (np.argmax(probabilities, axis=1) == labels).astype(np.float64)


@dataclasses.dataclass
class Comparison:
    candidate: str
    against: str
    delta: float
    interval: List[float]
    kept: bool
    reason: str
    # The Brier-score comparison, when proper scores were given: difference and its bounds, and which test kept it.
    brier_delta: Optional[float] = None
    brier_interval: Optional[List[float]] = None
    kept_by: str = ""


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
    proper_scores: Optional[Sequence[np.ndarray]] = None,
) -> SelectionResult:
    """Walks the candidates simplest first; a candidate is kept only when it beats the champion beyond noise.

    `proper_scores`: per-example Brier scores (`per_example_brier`) in the same order; when given, a candidate
    with accuracy not lower and a Brier score better beyond the noise is kept too (see the module docstring).
    """
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
    # Two tests share the error budget when proper scores are given (Bonferroni).
    level = confidence if proper_scores is None else 1.0 - (1.0 - confidence) / 2
    for index in range(1, len(names)):
        result = paired_bootstrap(scores[champion], scores[index], num_resamples, seed + index, level)
        brier = None
        if proper_scores is not None:
            brier = paired_bootstrap(proper_scores[champion], proper_scores[index], num_resamples,
                                     seed + 1000 + index, level)
        kept_by = metric if result["low"] > 0 else ""
        if not kept_by and brier is not None and result["delta"] >= 0 and brier["low"] > 0:
            kept_by = "brier"
        pp = 100 * result["delta"]
        interval = f"[{100 * result['low']:+.2f}, {100 * result['high']:+.2f}] pp"
        brier_text = "" if brier is None else (
            f"; Brier score {brier['delta']:+.4f} [{brier['low']:+.4f}, {brier['high']:+.4f}]")
        same = np.array_equal(scores[champion], scores[index]) and (
            proper_scores is None or np.allclose(proper_scores[champion], proper_scores[index], rtol=0, atol=1e-9))
        if same:  # e.g. a noisy student whose students never beat their teacher returns the teacher itself
            reason = (f"the same predictions as {names[champion]} on all {len(scores[index])} eval images (it "
                      f"returned that model, or one indistinguishable from it); keeps {names[champion]}")
        elif kept_by == metric:
            reason = f"{metric} {pp:+.2f} pp over {names[champion]}, {interval}: better beyond the noise{brier_text}"
        elif kept_by == "brier":
            reason = (f"{metric} {pp:+.2f} pp over {names[champion]}, {interval}{brier_text}: {metric} not lower "
                      "and the Brier score better beyond the noise")
        elif result["high"] < 0:
            reason = f"{metric} {pp:+.2f} pp vs {names[champion]}, {interval}{brier_text}: worse; keeps {names[champion]}"
        else:
            reason = (f"{metric} {pp:+.2f} pp vs {names[champion]}, {interval} includes 0{brier_text}: within the "
                      f"noise of {len(scores[index])} eval images; keeps the simpler {names[champion]}")
        decisions.append(Comparison(
            names[index], names[champion], result["delta"], [result["low"], result["high"]], bool(kept_by), reason,
            brier_delta=None if brier is None else brier["delta"],
            brier_interval=None if brier is None else [brier["low"], brier["high"]], kept_by=kept_by))
        if kept_by:
            champion = index
    return SelectionResult(names[champion], candidates, decisions)


def select_champion_resampled(
    names: Sequence[str],
    resampled: Sequence[np.ndarray],
    full: Sequence[float],
    metric: str,
    confidence: float = 0.95,
    uris: Optional[Sequence[str]] = None,
    num_images: int = 0,
) -> SelectionResult:
    """The same walk as `select_champion` for corpus metrics (mAP, mean IoU) that are not per-image means.

    Args:
      resampled: per candidate, `[R]` metric values on the same R image resamples
        (`components.evaluation.resampled_metrics`), so differences are paired.
      full: per candidate, the metric on the split itself (what is reported).
      metric: its name (`map`, `mean_iou`), for the decisions' text.
    """
    if not names:
        raise ValueError("Champion selection needs at least one candidate.")
    if not len(names) == len(resampled) == len(full):
        raise ValueError(f"{len(names)} candidate names, {len(resampled)} resampled and {len(full)} full scores.")
    tail = 1.0 - confidence
    candidates = [
        {"name": name, "metric": float(value), "interval": [float(np.quantile(values, tail / 2)),
                                                             float(np.quantile(values, 1 - tail / 2))],
         "model_uri": uris[index] if uris else ""}
        for index, (name, values, value) in enumerate(zip(names, resampled, full))
    ]
    champion, decisions = 0, []
    for index in range(1, len(names)):
        differences = np.asarray(resampled[index]) - np.asarray(resampled[champion])
        delta = float(full[index] - full[champion])
        low, high = one_sided_bounds(differences, confidence)
        kept = low > 0
        shown = f"{metric} {100 * delta:+.2f} points vs {names[champion]}, [{100 * low:+.2f}, {100 * high:+.2f}]"
        if kept:
            reason = f"{shown}: better beyond the noise of {num_images} eval images"
        elif high < 0:
            reason = f"{shown}: worse; keeps {names[champion]}"
        else:
            reason = f"{shown} includes 0: within the noise of {num_images} eval images; keeps the simpler {names[champion]}"
        decisions.append(Comparison(names[index], names[champion], delta, [low, high], kept, reason,
                                    kept_by=metric if kept else ""))
        if kept:
            champion = index
    return SelectionResult(names[champion], candidates, decisions)
