"""Which unlabeled images get a pseudo-label, and which target (NumPy only).

Noisy Student (Xie et al., 2020) keeps images whose teacher confidence
passes a threshold and balances classes: classes with too many confident
images keep their most confident ones, classes with too few duplicate theirs,
so the student does not inherit the teacher's class skew.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import List, Optional

import numpy as np

logger = logging.getLogger(__name__)

HARD = "hard"
SOFT = "soft"
MODES = (HARD, SOFT)


@dataclasses.dataclass
class Selection:
    """Pseudo-labels chosen from N predictions.

    Attributes:
      indices: `[M]` rows of the prediction array (a row repeats when its
        class was duplicated for balance), ordered by class then confidence.
      targets: `[M, K]` one-hot (hard) or the teacher's probabilities (soft).
      labels: `[M]` argmax class ids.
      confidence: `[M]` teacher max-probability.
      per_class_confident: `[K]` confident images per class before balancing.
    """

    indices: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    per_class_confident: np.ndarray

    def __len__(self) -> int:
        return int(len(self.indices))


def select_pseudo_labels(
    probabilities: np.ndarray,
    threshold: float = 0.0,
    mode: str = HARD,
    balance: bool = True,
    per_class: Optional[int] = None,
) -> Selection:
    """Thresholds and (optionally) class-balances teacher predictions.

    Args:
      probabilities: `[N, K]` teacher softmax outputs.
      threshold: keep rows whose max probability is >= threshold.
      mode: `hard` (one-hot of the argmax) or `soft` (the probabilities).
      balance: equalize the number of pseudo-labels per class.
      per_class: images per class when balancing; default: the mean number of
        confident images over classes that have any (rounded).

    Returns:
      A Selection. Deterministic: ties in confidence break by row order.

    Raises:
      ValueError: on a bad mode, threshold or probability array.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(f"probabilities must be [N, K] with K >= 2; got shape {probabilities.shape}.")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1]; got {threshold}.")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be >= 1; got {per_class}.")
    num_classes = probabilities.shape[1]
    labels = np.argmax(probabilities, axis=1)
    confidence = probabilities[np.arange(len(probabilities)), labels]
    confident = confidence >= threshold
    by_class: List[np.ndarray] = []
    for label in range(num_classes):
        rows = np.flatnonzero(confident & (labels == label))
        # Most confident first; stable sort keeps row order among ties.
        by_class.append(rows[np.argsort(-confidence[rows], kind="stable")])
    counts = np.array([len(rows) for rows in by_class])
    if balance and counts.sum() > 0:
        target = per_class or int(round(counts[counts > 0].mean()))
        empty = [label for label in range(num_classes) if counts[label] == 0]
        if empty:
            logger.warning("pseudo-labels: classes %s have no image above confidence %.3f", empty, threshold)
        by_class = [np.resize(rows, target) if len(rows) else rows for rows in by_class]
    indices = np.concatenate(by_class).astype(np.int64) if by_class else np.zeros([0], np.int64)
    if mode == HARD:
        targets = np.eye(num_classes, dtype=np.float32)[labels[indices]]
    else:
        targets = probabilities[indices]
    logger.info(
        "pseudo-labels: %d of %d above %.3f (per class %s) -> %d selected",
        int(confident.sum()), len(probabilities), threshold, counts.tolist(), len(indices),
    )
    return Selection(indices, targets, labels[indices], confidence[indices], counts)
