"""PNG figures for detection and segmentation evaluation: overlays on held-out images, PR curves.

Drawn with matplotlib's Agg canvas through `plots.figure_png` (no pyplot
state, no display). Each function returns PNG bytes.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import patches
from matplotlib.figure import Figure

from components.evaluation.plots import figure_png

TRUTH_COLOUR = "lime"
PREDICTION_COLOUR = "red"
OVERLAY_ALPHA = 0.45
IGNORE_VALUE = 255


def _show(axes, image: np.ndarray, title: str) -> None:
    image = np.asarray(image, dtype=np.float32)
    axes.imshow(image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0)
    axes.set_title(title, fontsize=9)
    axes.axis("off")


def _draw_boxes(axes, boxes, names, colour, height, width, scores=None) -> None:
    for index, (box, name) in enumerate(zip(boxes, names)):
        ymin, xmin, ymax, xmax = (float(v) for v in box)
        axes.add_patch(
            patches.Rectangle(
                (xmin * width - 0.5, ymin * height - 0.5), (xmax - xmin) * width, (ymax - ymin) * height,
                fill=False, edgecolor=colour, linewidth=1.5,
            )
        )
        text = name if scores is None else f"{name} {float(scores[index]):.2f}"
        axes.text(xmin * width, ymin * height - 1, text, color=colour, fontsize=7, va="bottom")


def detection_overlay_png(
    image: np.ndarray,
    true_boxes: np.ndarray,
    true_labels: np.ndarray,
    pred_boxes: np.ndarray,
    pred_scores: np.ndarray,
    pred_classes: np.ndarray,
    class_names: Sequence[str],
    score_threshold: float = 0.3,
) -> bytes:
    """Ground truth (green) and predictions with score >= threshold (red) on one image.

    Boxes are normalized (ymin, xmin, ymax, xmax); padded rows (label -1) are skipped.
    """
    height, width = image.shape[:2]
    figure = Figure(figsize=(4, 4 * height / max(width, 1) + 0.3))
    axes = figure.add_subplot()
    kept = pred_scores >= score_threshold
    _show(axes, image, f"truth (green) / predictions >= {score_threshold:g} (red): {int(kept.sum())}")
    real = np.asarray(true_labels) >= 0
    _draw_boxes(axes, true_boxes[real], [class_names[int(k)] for k in true_labels[real]], TRUTH_COLOUR, height, width)
    _draw_boxes(
        axes, pred_boxes[kept], [class_names[int(k)] for k in pred_classes[kept]], PREDICTION_COLOUR, height, width,
        scores=pred_scores[kept],
    )
    return figure_png(figure)


def _colour_masks(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """`[H,W]` class ids -> `[H,W,4]` RGBA: class 0 transparent, ignore grey, others a tab20 colour."""
    from matplotlib import colormaps

    palette = colormaps["tab20"](np.arange(max(num_classes, 1)) % 20)
    rgba = np.zeros((*mask.shape, 4), np.float32)
    for class_id in range(1, num_classes):
        rgba[mask == class_id] = (*palette[class_id][:3], OVERLAY_ALPHA)
    rgba[mask == IGNORE_VALUE] = (0.5, 0.5, 0.5, OVERLAY_ALPHA)
    return rgba


def segmentation_overlay_png(image: np.ndarray, true_mask: np.ndarray, pred_mask: np.ndarray, num_classes: int) -> bytes:
    """Image, truth overlay and prediction overlay side by side (class 0 left uncoloured, ignore grey)."""
    figure = Figure(figsize=(10, 3.6))
    for axes, (title, mask) in zip(figure.subplots(1, 3), (("image", None), ("truth", true_mask), ("prediction", pred_mask))):
        _show(axes, image, title)
        if mask is not None:
            axes.imshow(_colour_masks(np.asarray(mask), num_classes))
    return figure_png(figure)


def pr_curves_png(pr_curves: Mapping[str, Mapping[str, Sequence[float]]], per_class: Mapping[str, Mapping[str, float]]) -> bytes:
    """Precision vs recall at IoU 0.5 per class (COCO's interpolated curve), AP@.5 in the legend."""
    figure = Figure(figsize=(6, 5))
    axes = figure.add_subplot()
    for name, curve in pr_curves.items():
        ap = per_class.get(name, {}).get("ap_50", float("nan"))
        axes.plot(curve["recall"], curve["precision"], label=f"{name} (AP@.5 {ap:.3f})")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_title("Precision-recall at IoU 0.5")
    if pr_curves:
        axes.legend(loc="lower left", fontsize=7)
    return figure_png(figure)
