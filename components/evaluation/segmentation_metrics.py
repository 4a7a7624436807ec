"""Semantic segmentation metrics from a pixel confusion matrix (NumPy only).

Everything derives from one `[K, K]` confusion matrix accumulated over the
split (rows true class, columns predicted class), so metrics over a large
split are exact without holding every mask in memory. Pixels whose true
class is MASK_IGNORE_VALUE (255, VOC's "void" border and occluded areas)
are not counted.

Scalar names (blessing thresholds, MLMD properties, reports):
  mean_iou        mean over classes present in truth or prediction of IoU
  pixel_accuracy  fraction of counted pixels labelled correctly
  foreground_iou  IoU of "any non-background class" vs background (class 0
                  when the first class name is "background"; else NaN)
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

MEAN_IOU = "mean_iou"
PIXEL_ACCURACY = "pixel_accuracy"
FOREGROUND_IOU = "foreground_iou"
SEGMENTATION_METRICS = (MEAN_IOU, PIXEL_ACCURACY, FOREGROUND_IOU)
IGNORE_VALUE = 255  # == components.types.features.MASK_IGNORE_VALUE
BACKGROUND_NAMES = ("background", "_background_", "bg")


def confusion_matrix(true_masks: np.ndarray, pred_masks: np.ndarray, num_classes: int) -> np.ndarray:
    """`[K, K]` int64 pixel counts, rows true class, columns predicted.

    Args:
      true_masks: `[...]` int class ids; IGNORE_VALUE pixels are skipped.
      pred_masks: same shape, predicted class ids in [0, K).

    Raises:
      ValueError: on shape mismatch, or ids outside [0, K) (other than ignore in truth).
    """
    true_masks, pred_masks = np.asarray(true_masks).astype(np.int64), np.asarray(pred_masks).astype(np.int64)
    if true_masks.shape != pred_masks.shape:
        raise ValueError(f"True masks {true_masks.shape} and predicted masks {pred_masks.shape} differ in shape.")
    counted = true_masks != IGNORE_VALUE
    truth, prediction = true_masks[counted], pred_masks[counted]
    for name, values in (("true", truth), ("predicted", prediction)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} masks hold class ids {int(values.min())}..{int(values.max())}, outside the "
                f"{num_classes} classes of the DataSpec (255 = ignore)."
            )
    return np.bincount(truth * num_classes + prediction, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def has_background(class_names: Sequence[str]) -> bool:
    return bool(class_names) and class_names[0].lower() in BACKGROUND_NAMES


def segmentation_metrics(confusion: np.ndarray, class_names: Sequence[str]) -> Dict[str, object]:
    """Scalars and per-class IoU from a confusion matrix.

    Returns:
      `metrics` {mean_iou, pixel_accuracy, foreground_iou}, `per_class`
      {name: {iou, pixels}} (iou NaN for a class absent from truth and
      prediction), `confusion_matrix`, `num_pixels`.
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    if confusion.shape != (len(class_names), len(class_names)):
        raise ValueError(f"Confusion matrix {confusion.shape} does not match {len(class_names)} class names.")
    total = int(confusion.sum())
    if total == 0:
        raise ValueError("Segmentation metrics need at least one labelled pixel; every pixel is ignore (255).")
    true_positive = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positive
    iou = np.divide(true_positive, union, out=np.full(len(class_names), np.nan), where=union > 0)
    foreground = float("nan")
    if has_background(class_names) and len(class_names) > 1:
        fg_tp = confusion[1:, 1:].sum()
        fg_union = confusion.sum() - confusion[0, 0]
        foreground = float(fg_tp / fg_union) if fg_union > 0 else float("nan")
    return {
        "metrics": {
            MEAN_IOU: float(np.nanmean(iou)),
            PIXEL_ACCURACY: float(true_positive.sum() / total),
            FOREGROUND_IOU: foreground,
        },
        "per_class": {
            name: {"iou": float(iou[k]), "pixels": int(confusion[k].sum())} for k, name in enumerate(class_names)
        },
        "confusion_matrix": confusion.tolist(),
        "num_pixels": total,
    }
