"""Linear probe: how linearly separable the frozen embeddings are (scikit-learn logistic regression).

The fitted classifier is folded back into a `[D, K]` kernel and `[K]` bias on
the raw embeddings, so it can initialise the model's softmax head.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


@dataclasses.dataclass
class LinearProbe:
    """A fitted probe.

    Attributes:
      kernel: `[D, K]` on raw (unscaled) embeddings; softmax(x @ kernel + bias)
        reproduces the probe's probabilities.
      bias: `[K]`.
      train_accuracy / eval_accuracy: accuracy on the fitting and held-out sets.
    """

    kernel: np.ndarray
    bias: np.ndarray
    train_accuracy: float
    eval_accuracy: Optional[float]


def embed(encoder, dataset: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """Embeddings `[N, D]` and int labels `[N]` of a batched `(images, labels)` dataset; drops label -1."""
    embeddings, labels = [], []
    for images, batch_labels, *_ in dataset:
        embeddings.append(np.asarray(encoder(images, training=False)))
        labels.append(np.asarray(batch_labels))
    if not embeddings:
        raise ValueError("The linear-probe dataset is empty.")
    embeddings, labels = np.concatenate(embeddings), np.concatenate(labels)
    keep = labels >= 0
    return embeddings[keep], labels[keep]


def fit_linear_probe(
    train_embeddings: np.ndarray,
    train_labels: np.ndarray,
    num_classes: int,
    eval_embeddings: Optional[np.ndarray] = None,
    eval_labels: Optional[np.ndarray] = None,
    regularization: float = 1.0,
    seed: int = 0,
) -> LinearProbe:
    """Fits multinomial logistic regression on standardized embeddings.

    Args:
      train_embeddings: `[N, D]`; train_labels: `[N]` ints in [0, K).
      eval_embeddings / eval_labels: optional held-out set for `eval_accuracy`.
      regularization: inverse L2 strength C.

    Raises:
      ValueError: with fewer than two classes among the labels.
    """
    present = np.unique(train_labels)
    if len(present) < 2:
        raise ValueError(f"The linear probe needs labels of at least two classes; got {present.tolist()}.")
    scaler = StandardScaler().fit(train_embeddings)
    classifier = LogisticRegression(C=regularization, max_iter=2000, random_state=seed)
    classifier.fit(scaler.transform(train_embeddings), train_labels)
    kernel, bias = _full_kernel(classifier, num_classes)
    # Fold the scaler in: w.(x - m)/s + b == (w/s).x + (b - sum(w m / s)).
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    kernel = kernel / scale[:, None]
    bias = bias - (scaler.mean_ / scale) @ (kernel * scale[:, None])
    train_accuracy = _accuracy(train_embeddings @ kernel + bias, train_labels)
    eval_accuracy = None
    if eval_embeddings is not None and eval_labels is not None and len(eval_labels):
        eval_accuracy = _accuracy(eval_embeddings @ kernel + bias, eval_labels)
    return LinearProbe(kernel.astype("float32"), bias.astype("float32"), train_accuracy, eval_accuracy)


def _full_kernel(classifier: LogisticRegression, num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """`[D, K]` kernel and `[K]` bias over all K classes (absent classes get a very low bias)."""
    dimensions = classifier.coef_.shape[1]
    kernel = np.zeros((dimensions, num_classes))
    bias = np.full(num_classes, -1e4)
    classes = classifier.classes_.astype(int)
    if len(classes) == 2:  # sklearn fits one logit difference: split it evenly between the two.
        kernel[:, classes[0]], kernel[:, classes[1]] = -classifier.coef_[0] / 2, classifier.coef_[0] / 2
        bias[classes[0]], bias[classes[1]] = -classifier.intercept_[0] / 2, classifier.intercept_[0] / 2
    else:
        kernel[:, classes] = classifier.coef_.T
        bias[classes] = classifier.intercept_
    return kernel, bias


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == labels))
