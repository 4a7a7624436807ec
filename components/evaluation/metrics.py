"""Classification and multilabel metrics on NumPy arrays (no TensorFlow, no TFX).

Every function takes model PROBABILITIES (softmax rows for classification,
independent sigmoids for multilabel), as the model artifact contract says.
Scalar metric names are module constants so blessing thresholds, MLMD
properties and reports spell them once.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import numpy as np
from sklearn import metrics as sk_metrics

ACCURACY = "accuracy"
TOP_K_ACCURACY = "top_k_accuracy"
MACRO_PRECISION = "macro_precision"
MACRO_RECALL = "macro_recall"
MACRO_F1 = "macro_f1"
WEIGHTED_F1 = "weighted_f1"
MICRO_F1 = "micro_f1"
SUBSET_ACCURACY = "subset_accuracy"
HAMMING_LOSS = "hamming_loss"
MEAN_AVERAGE_PRECISION = "mean_average_precision"
EXPECTED_CALIBRATION_ERROR = "expected_calibration_error"
NLL = "nll"
BRIER_SCORE = "brier_score"

CLASSIFICATION_METRICS = (
    ACCURACY,
    TOP_K_ACCURACY,
    MACRO_PRECISION,
    MACRO_RECALL,
    MACRO_F1,
    WEIGHTED_F1,
    EXPECTED_CALIBRATION_ERROR,
    NLL,
    BRIER_SCORE,
)
MULTILABEL_METRICS = (
    SUBSET_ACCURACY,
    HAMMING_LOSS,
    MEAN_AVERAGE_PRECISION,
    MACRO_F1,
    MICRO_F1,
    EXPECTED_CALIBRATION_ERROR,
    NLL,
    BRIER_SCORE,
)
# Detection (COCO mAP) and segmentation (IoU) headline metrics, spelled in their own modules.
DETECTION_METRICS = ("map", "map_50", "map_75", "mar_100")  # == detection_metrics.DETECTION_METRICS
SEGMENTATION_METRICS = ("mean_iou", "pixel_accuracy", "foreground_iou")  # == segmentation_metrics.SEGMENTATION_METRICS
ALL_METRICS = tuple(dict.fromkeys(CLASSIFICATION_METRICS + MULTILABEL_METRICS + DETECTION_METRICS + SEGMENTATION_METRICS))
LOWER_IS_BETTER = frozenset({EXPECTED_CALIBRATION_ERROR, NLL, BRIER_SCORE, HAMMING_LOSS})

# Probabilities are clipped here before the log so one confident mistake
# costs -log(1e-12) ~ 27.6 nats instead of infinity.
PROBABILITY_FLOOR = 1e-12
# Multilabel decisions: a label is predicted when its sigmoid reaches this.
MULTILABEL_DECISION_THRESHOLD = 0.5


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Fraction of rows whose argmax is the label.

    Args:
      labels: `[N]` int class ids.
      probabilities: `[N, K]`.
    """
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def top_k_accuracy(labels: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the k most probable classes.

    Ties break toward the lower class id (stable sort), so the result is
    deterministic. `k` is clipped to the number of classes.
    """
    k = max(1, min(int(k), probabilities.shape[1]))
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean `-log p(label)` in nats (probabilities clipped at PROBABILITY_FLOOR)."""
    true_class = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    return float(-np.mean(np.log(np.clip(true_class, PROBABILITY_FLOOR, 1.0))))


def brier_score(one_hot: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over rows of the summed squared error `sum_k (p_k - y_k)^2`.

    Args:
      one_hot: `[N, K]` 0/1 targets (one-hot or multi-hot).
      probabilities: `[N, K]`.
    """
    difference = probabilities.astype(np.float64) - one_hot
    return float(np.mean(np.sum(difference * difference, axis=1)))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """`[K, K]` int counts; row = true class, column = predicted class."""
    return sk_metrics.confusion_matrix(labels, predictions, labels=np.arange(num_classes))


def per_class_scores(
    labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str]
) -> Dict[str, Dict[str, float]]:
    """Precision, recall, F1 and support per class (0 where undefined).

    Works for int labels `[N]` and multi-hot `[N, K]` alike.
    """
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        labels,
        predictions,
        labels=np.arange(len(class_names)),
        average=None,
        zero_division=0,
    )
    return {
        name: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
        }
        for index, name in enumerate(class_names)
    }


def reliability_bins(confidences: np.ndarray, correct: np.ndarray, num_bins: int) -> Dict[str, List[float]]:
    """Equal-width confidence bins `(i/M, (i+1)/M]` (bin 0 also holds 0).

    Args:
      confidences: `[N]` probability of the predicted label.
      correct: `[N]` bool, whether that prediction was right.

    Returns:
      `bin_edges` (M+1), and per bin `count`, `accuracy`, `confidence`
      (mean; NaN for empty bins).
    """
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    index = np.clip(np.ceil(confidences * num_bins).astype(np.int64) - 1, 0, num_bins - 1)
    counts = np.bincount(index, minlength=num_bins)
    correct_sums = np.bincount(index, weights=correct, minlength=num_bins)
    confidence_sums = np.bincount(index, weights=confidences, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bin_accuracy = np.where(counts > 0, correct_sums / counts, np.nan)
        bin_confidence = np.where(counts > 0, confidence_sums / counts, np.nan)
    return {
        "bin_edges": np.linspace(0.0, 1.0, num_bins + 1).tolist(),
        "count": counts.astype(int).tolist(),
        "accuracy": bin_accuracy.tolist(),
        "confidence": bin_confidence.tolist(),
    }


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, num_bins: int) -> float:
    """`sum_b (n_b / N) |accuracy_b - confidence_b|` over equal-width bins (Guo et al. 2017)."""
    bins = reliability_bins(confidences, correct, num_bins)
    counts = np.asarray(bins["count"], dtype=np.float64)
    filled = counts > 0
    gaps = np.abs(np.asarray(bins["accuracy"])[filled] - np.asarray(bins["confidence"])[filled])
    return float(np.sum(counts[filled] * gaps) / np.sum(counts))


def mean_average_precision(multi_hot: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over labels of sklearn's average precision.

    Labels without any positive example have no defined AP and are left out
    of the mean (NaN if no label has a positive).
    """
    has_positive = multi_hot.sum(axis=0) > 0
    if not np.any(has_positive):
        return math.nan
    scores = sk_metrics.average_precision_score(
        multi_hot[:, has_positive], probabilities[:, has_positive], average=None
    )
    return float(np.mean(scores))


def classification_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    top_k: int = 5,
    ece_bins: int = 15,
) -> Dict[str, object]:
    """All single-label metrics.

    Args:
      labels: `[N]` int class ids in [0, K).
      probabilities: `[N, K]` softmax rows.

    Returns:
      {'metrics': {name: float}, 'top_k': int, 'per_class': {...},
       'confusion_matrix': [[int]], 'reliability': {...}}.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(class_names)
    predictions = np.argmax(probabilities, axis=1)
    confidences = np.max(probabilities, axis=1)
    correct = predictions == labels
    one_hot = np.eye(num_classes)[labels]
    k = max(1, min(int(top_k), num_classes))
    per_class = per_class_scores(labels, predictions, class_names)
    macro_p, macro_r, macro_f1, _ = sk_metrics.precision_recall_fscore_support(
        labels, predictions, labels=np.arange(num_classes), average="macro", zero_division=0
    )
    scalars = {
        ACCURACY: accuracy(labels, probabilities),
        TOP_K_ACCURACY: top_k_accuracy(labels, probabilities, k),
        MACRO_PRECISION: float(macro_p),
        MACRO_RECALL: float(macro_r),
        MACRO_F1: float(macro_f1),
        WEIGHTED_F1: float(
            sk_metrics.f1_score(
                labels, predictions, labels=np.arange(num_classes), average="weighted", zero_division=0
            )
        ),
        EXPECTED_CALIBRATION_ERROR: expected_calibration_error(confidences, correct, ece_bins),
        NLL: negative_log_likelihood(labels, probabilities),
        BRIER_SCORE: brier_score(one_hot, probabilities),
    }
    return {
        "metrics": scalars,
        "top_k": k,
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(labels, predictions, num_classes).tolist(),
        "reliability": reliability_bins(confidences, correct, ece_bins),
    }


def multilabel_metrics(
    multi_hot: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    ece_bins: int = 15,
) -> Dict[str, object]:
    """All multilabel metrics; each label is an independent binary decision at 0.5.

    Calibration (ECE, reliability) treats every (example, label) pair as one
    binary prediction whose confidence is `max(p, 1 - p)`.

    Args:
      multi_hot: `[N, K]` 0/1 targets.
      probabilities: `[N, K]` sigmoid outputs.

    Returns:
      {'metrics': {...}, 'per_class': {...}, 'confusion_matrix': [K][2][2]
       (per label [[TN, FP], [FN, TP]]), 'reliability': {...}}.
    """
    multi_hot = np.asarray(multi_hot, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predictions = (probabilities >= MULTILABEL_DECISION_THRESHOLD).astype(np.int64)
    flat_probabilities = probabilities.ravel()
    flat_confidences = np.maximum(flat_probabilities, 1.0 - flat_probabilities)
    flat_correct = predictions.ravel() == multi_hot.ravel()
    clipped = np.clip(probabilities, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    binary_nll = -(multi_hot * np.log(clipped) + (1 - multi_hot) * np.log(1.0 - clipped))
    label_ids = np.arange(len(class_names))
    scalars = {
        SUBSET_ACCURACY: float(sk_metrics.accuracy_score(multi_hot, predictions)),
        HAMMING_LOSS: float(sk_metrics.hamming_loss(multi_hot, predictions)),
        MEAN_AVERAGE_PRECISION: mean_average_precision(multi_hot, probabilities),
        MACRO_F1: float(
            sk_metrics.f1_score(multi_hot, predictions, labels=label_ids, average="macro", zero_division=0)
        ),
        MICRO_F1: float(
            sk_metrics.f1_score(multi_hot, predictions, labels=label_ids, average="micro", zero_division=0)
        ),
        EXPECTED_CALIBRATION_ERROR: expected_calibration_error(flat_confidences, flat_correct, ece_bins),
        # Mean over examples of the summed per-label binary cross-entropy.
        NLL: float(np.mean(np.sum(binary_nll, axis=1))),
        BRIER_SCORE: brier_score(multi_hot, probabilities),
    }
    return {
        "metrics": scalars,
        "per_class": per_class_scores(multi_hot, predictions, class_names),
        "confusion_matrix": sk_metrics.multilabel_confusion_matrix(
            multi_hot, predictions, labels=label_ids
        ).tolist(),
        "reliability": reliability_bins(flat_confidences, flat_correct, ece_bins),
    }
