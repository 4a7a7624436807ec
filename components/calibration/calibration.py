"""Fitting post-hoc calibration on held-out predictions (NumPy/SciPy, no TFX).

Two parameters, both fitted by minimizing the negative log-likelihood of
held-out labels (the MAP choice under a flat prior on the parameters):

- temperature T: `softmax(log p / T)`; keeps every argmax, fixes over- or
  under-confidence (Guo et al. 2017).
- prior weight w: `(1 - w) q + w * prior`, ensembling the prediction with a
  perfectly calibrated class prior (uniform, or the training class
  distribution). Like label smoothing at prediction time, it bounds how
  confident the model can be, and a non-uniform prior shifts decisions toward
  the classes the data says are frequent.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy import optimize

from components.calibration.layers import PROBABILITY_FLOOR
from components.evaluation import metrics
from components.types import features
from components.types.data_spec import DataSpecContent

TEMPERATURE = "temperature"
MAP = "map"
TEMPERATURE_MAP = "temperature_map"
METHODS = (TEMPERATURE, MAP, TEMPERATURE_MAP)
UNIFORM_PRIOR = "uniform"
TRAIN_PRIOR = "train"
PRIORS = (UNIFORM_PRIOR, TRAIN_PRIOR)

TEMPERATURE_BOUNDS = (0.05, 20.0)
MAX_PRIOR_WEIGHT = 0.99
# Alternating fits of T and w for `temperature_map`; NLL changes by < 1e-6 after this.
ALTERNATING_ROUNDS = 3


@dataclasses.dataclass(frozen=True)
class CalibrationParameters:
    """What the CalibrationLayer applies."""

    temperature: float = 1.0
    prior: Optional[List[float]] = None
    prior_weight: float = 0.0


def class_prior(data_spec: DataSpecContent, kind: str) -> List[float]:
    """`[K]` class distribution: uniform, or the train split's class frequencies from the DataSpec."""
    num_classes = data_spec.num_classes
    if kind == UNIFORM_PRIOR:
        return [1.0 / num_classes] * num_classes
    if kind == TRAIN_PRIOR:
        counts = np.asarray(data_spec.class_counts(features.TRAIN_SPLIT), dtype=np.float64)
        if counts.sum() <= 0:
            raise ValueError("prior='train' needs per-class train counts in the DataSpec; it has none.")
        return (counts / counts.sum()).tolist()
    raise ValueError(f"Unknown prior {kind!r}; expected one of {PRIORS}.")


def apply_calibration(probabilities: np.ndarray, parameters: CalibrationParameters) -> np.ndarray:
    """NumPy twin of CalibrationLayer: `[N, K]` probabilities in, calibrated `[N, K]` out."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, 1.0))
    scaled = logits / parameters.temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    calibrated = np.exp(scaled)
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    if parameters.prior_weight > 0:
        prior = np.asarray(parameters.prior, dtype=np.float64)[None, :]
        calibrated = (1.0 - parameters.prior_weight) * calibrated + parameters.prior_weight * prior
    return calibrated


def mean_nll(labels: np.ndarray, probabilities: np.ndarray) -> float:
    true_class = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(true_class, PROBABILITY_FLOOR, 1.0))))


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray, prior=None, prior_weight: float = 0.0) -> float:
    """The T in TEMPERATURE_BOUNDS minimizing held-out NLL (searched on log T)."""

    def nll(log_temperature: float) -> float:
        parameters = CalibrationParameters(float(np.exp(log_temperature)), prior, prior_weight)
        return mean_nll(labels, apply_calibration(probabilities, parameters))

    low, high = np.log(TEMPERATURE_BOUNDS)
    result = optimize.minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def fit_prior_weight(
    labels: np.ndarray, probabilities: np.ndarray, prior: Sequence[float], temperature: float = 1.0
) -> float:
    """The w in [0, MAX_PRIOR_WEIGHT] minimizing held-out NLL; 0 when the prior does not help."""

    def nll(weight: float) -> float:
        return mean_nll(labels, apply_calibration(probabilities, CalibrationParameters(temperature, prior, weight)))

    result = optimize.minimize_scalar(nll, bounds=(0.0, MAX_PRIOR_WEIGHT), method="bounded", options={"xatol": 1e-5})
    weight = float(result.x)
    return weight if nll(weight) < nll(0.0) else 0.0


def fit_calibration(
    labels: np.ndarray, probabilities: np.ndarray, method: str, prior: Optional[Sequence[float]] = None
) -> CalibrationParameters:
    """Fits the parameters of `method` on held-out `labels [N]` and `probabilities [N, K]`.

    Raises:
      ValueError: unknown method, a MAP method without a prior, or no examples.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown calibration method {method!r}; expected one of {METHODS}.")
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(labels) == 0:
        raise ValueError("Calibration needs held-out labeled examples; got none.")
    if method == TEMPERATURE:
        return CalibrationParameters(temperature=fit_temperature(labels, probabilities))
    if prior is None:
        raise ValueError(f"Calibration method {method!r} needs a class prior.")
    prior = [float(value) for value in prior]
    if method == MAP:
        return CalibrationParameters(1.0, prior, fit_prior_weight(labels, probabilities, prior))
    temperature, weight = 1.0, 0.0
    for _ in range(ALTERNATING_ROUNDS):
        temperature = fit_temperature(labels, probabilities, prior, weight)
        weight = fit_prior_weight(labels, probabilities, prior, temperature)
    return CalibrationParameters(temperature, prior, weight)


def out_of_fold_nll_gain(
    labels: np.ndarray, probabilities: np.ndarray, method: str, prior: Optional[Sequence[float]], folds: int,
    seed: int = 0,
) -> np.ndarray:
    """`[N]` per-example NLL before minus after calibration, each example calibrated by parameters fitted on
    the other folds (positive: calibration helped that example, measured on images it was not fitted on)."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(labels))
    gain = np.zeros(len(labels))
    for held in np.array_split(order, min(folds, len(labels))):
        rest = np.setdiff1d(order, held)
        parameters = fit_calibration(labels[rest], probabilities[rest], method, prior)
        rows = np.arange(len(held))
        before = probabilities[held][rows, labels[held]]
        after = apply_calibration(probabilities[held], parameters)[rows, labels[held]]
        gain[held] = np.log(np.clip(after, PROBABILITY_FLOOR, 1.0)) - np.log(np.clip(before, PROBABILITY_FLOOR, 1.0))
    return gain


def before_after(
    labels: np.ndarray,
    probabilities: np.ndarray,
    parameters: CalibrationParameters,
    class_names: Sequence[str],
    ece_bins: int = 15,
) -> Dict[str, Dict[str, object]]:
    """Evaluation results (`metrics.classification_metrics`) before and after calibration.

    Returns:
      {'before': result, 'after': result, 'change': {metric: after - before}}.
    """
    before = metrics.classification_metrics(labels, probabilities, class_names, ece_bins=ece_bins)
    calibrated = apply_calibration(probabilities, parameters)
    after = metrics.classification_metrics(labels, calibrated, class_names, ece_bins=ece_bins)
    change = {name: after["metrics"][name] - value for name, value in before["metrics"].items()}
    return {"before": before, "after": after, "change": change}


def relative_reduction(before: float, after: float) -> float:
    """`1 - after / before` (0 when before is 0): the share of an error removed."""
    return 0.0 if before <= 0 else 1.0 - after / before
