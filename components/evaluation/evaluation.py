"""Evaluate a Keras model over a dataset: the helper other components reuse.

Calibration, distillation, noisy student and autofit call `evaluate_model`
(or `collect_predictions` when they need the raw probabilities) so every
component scores models the same way.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np
from absl import logging

from components.evaluation import metrics
from components.types import features

# Softmax rows may be off by rounding (float16 mixed precision): tolerance.
PROBABILITY_TOLERANCE = 1e-2
SUPPORTED_TASKS = (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL)


def _check_probabilities(batch: np.ndarray, task: str, num_classes: int, batch_index: int, name: str) -> None:
    if batch.ndim != 2 or batch.shape[1] != num_classes:
        raise ValueError(
            f"{name}: output of batch {batch_index} has shape {batch.shape}; expected [batch, {num_classes}] "
            f"(one probability per class of the DataSpec)."
        )
    low, high = float(np.min(batch, initial=0.0)), float(np.max(batch, initial=0.0))
    if low < -PROBABILITY_TOLERANCE or high > 1 + PROBABILITY_TOLERANCE or not np.all(np.isfinite(batch)):
        raise ValueError(
            f"{name}: outputs of batch {batch_index} range over [{low:.4g}, {high:.4g}]; the model contract "
            "requires probabilities (end the model with softmax or sigmoid, not logits)."
        )
    if task == features.TASK_CLASSIFICATION:
        sums = batch.sum(axis=1)
        if np.any(np.abs(sums - 1.0) > PROBABILITY_TOLERANCE):
            raise ValueError(
                f"{name}: softmax rows of batch {batch_index} sum to {sums.min():.4f}..{sums.max():.4f}, not 1; "
                "classification models must output softmax probabilities."
            )


def collect_predictions(
    model,
    dataset,
    task: str,
    num_classes: int,
    log_every_n_batches: int = 10,
    total_examples: Optional[int] = None,
    name: str = "model",
) -> Tuple[np.ndarray, np.ndarray, int]:
    """Runs the model over every batch and gathers labels and probabilities.

    Args:
      model: a Keras model whose output is `[B, K]` probabilities.
      dataset: yields `(images [B,H,W,C] float in [0,1], labels, ...)` with
        labels `[B]` int (classification; -1 = unlabeled) or `[B, K]` multi-hot.
      total_examples: only used for progress lines.
      name: how log lines and errors refer to the model.

    Returns:
      (labels `[N]` or `[N, K]`, probabilities `[N, K]` float32, number of
      unlabeled records skipped).
    """
    if task not in SUPPORTED_TASKS:
        raise ValueError(f"Evaluation supports tasks {SUPPORTED_TASKS}; got {task!r}.")
    label_batches, probability_batches = [], []
    skipped = seen = 0
    total_batches = None
    for batch_index, element in enumerate(dataset):
        images, labels = element[0], np.asarray(element[1])
        probabilities = np.asarray(model.predict_on_batch(images), dtype=np.float32)
        _check_probabilities(probabilities, task, num_classes, batch_index, name)
        if task == features.TASK_CLASSIFICATION:
            labelled = labels >= 0
            skipped += int(np.sum(~labelled))
            labels, probabilities = labels[labelled], probabilities[labelled]
            if np.any(labels >= num_classes):
                raise ValueError(f"{name}: batch {batch_index} has label ids >= {num_classes} classes.")
        label_batches.append(labels)
        probability_batches.append(probabilities)
        seen += len(element[1])
        if total_batches is None and total_examples:
            total_batches = math.ceil(total_examples / max(len(element[1]), 1))
        if (batch_index + 1) % max(log_every_n_batches, 1) == 0:
            logging.info("%s: predicted batch %d/%s (%d examples).", name, batch_index + 1, total_batches or "?", seen)
    if skipped:
        logging.warning("%s: skipped %d unlabeled records (label -1) of %d.", name, skipped, seen)
    if not label_batches or sum(len(batch) for batch in label_batches) == 0:
        raise ValueError(f"{name}: the dataset has no labeled examples to evaluate ({seen} records read).")
    logging.info("%s: predicted %d examples.", name, seen)
    return np.concatenate(label_batches), np.concatenate(probability_batches), skipped


def trivial_baselines(labels: np.ndarray, probabilities: np.ndarray, task: str, num_classes: int) -> dict:
    """What a model that ignores the image scores on these labels, with what blessing needs to judge noise.

    Classification: `correct` (the model's), `num_examples`, `num_classes`,
    `majority_class` and `majority_accuracy` (always predicting the split's
    most common class, a bar at least as high as predicting the training
    majority), `chance_accuracy` (1/K).
    Multilabel: the per-label majority constant (all-negative for labels
    rarer than half) as the baseline; per image, the gain is its Hamming
    error minus the model's, and `hamming_gain_mean`/`hamming_gain_std`
    give a paired bound. Also `prevalence` per label.
    """
    labels = np.asarray(labels)
    count = int(len(labels))
    if task == features.TASK_MULTILABEL:
        multi_hot = labels.astype(np.int64)
        predictions = (np.asarray(probabilities) >= metrics.MULTILABEL_DECISION_THRESHOLD).astype(np.int64)
        prevalence = multi_hot.mean(axis=0) if count else np.zeros(num_classes)
        constant = (prevalence > 0.5).astype(np.int64)
        model_error = np.mean(predictions != multi_hot, axis=1)
        constant_error = np.mean(constant[None, :] != multi_hot, axis=1)
        gain = constant_error - model_error
        return {
            "task": task,
            "num_examples": count,
            "num_labels": int(num_classes),
            "prevalence": [float(value) for value in prevalence],
            "hamming_loss": float(model_error.mean()) if count else math.nan,
            "constant_hamming_loss": float(constant_error.mean()) if count else math.nan,
            "hamming_gain_mean": float(gain.mean()) if count else math.nan,
            "hamming_gain_std": float(gain.std(ddof=1)) if count > 1 else math.nan,
        }
    label_ids = labels.astype(np.int64)
    class_counts = np.bincount(label_ids, minlength=num_classes) if count else np.zeros(num_classes, np.int64)
    majority = int(np.argmax(class_counts)) if num_classes else 0
    correct = int(np.sum(np.argmax(probabilities, axis=1) == label_ids)) if count else 0
    return {
        "task": task,
        "num_examples": count,
        "num_classes": int(num_classes),
        "correct": correct,
        "majority_class": majority,
        "majority_accuracy": float(class_counts[majority] / count) if count and num_classes else math.nan,
        "chance_accuracy": 1.0 / num_classes if num_classes else math.nan,
    }


def evaluate_model(
    model,
    dataset,
    class_names: Sequence[str],
    task: str,
    top_k: int = 5,
    ece_bins: int = 15,
    log_every_n_batches: int = 10,
    total_examples: Optional[int] = None,
    name: str = "model",
) -> dict:
    """Scores a model on a labeled dataset.

    Args:
      model: Keras model, output `[B, K]` probabilities.
      dataset: as for `collect_predictions` (e.g. `examples_io.load_split`).
      class_names: the DataSpec's class names, K of them.
      task: 'classification' or 'multilabel'.
      top_k: for top-k accuracy, clipped to K (classification only).
      ece_bins: equal-width bins for calibration error and the reliability diagram.

    Returns:
      JSON-ready dict: `metrics` {name: float} (the scalars that blessing,
      MLMD and autofit read; see `metrics.CLASSIFICATION_METRICS` and
      `metrics.MULTILABEL_METRICS`), `per_class`, `confusion_matrix`,
      `reliability`, `task`, `class_names`, `num_examples`,
      `num_unlabeled_skipped`, `trivial_baselines` (see `trivial_baselines`;
      blessing reads it), and `top_k` for classification.
    """
    labels, probabilities, skipped = collect_predictions(
        model, dataset, task, len(class_names), log_every_n_batches, total_examples, name
    )
    if task == features.TASK_CLASSIFICATION:
        result = metrics.classification_metrics(labels, probabilities, class_names, top_k, ece_bins)
    else:
        result = metrics.multilabel_metrics(labels, probabilities, class_names, ece_bins)
    result.update(
        trivial_baselines=trivial_baselines(labels, probabilities, task, len(class_names)),
        task=task,
        class_names=list(class_names),
        num_examples=int(len(labels)),
        num_unlabeled_skipped=skipped,
    )
    summary = ", ".join(f"{key}={value:.4f}" for key, value in result["metrics"].items())
    logging.info("%s on %d examples: %s", name, len(labels), summary)
    return result
