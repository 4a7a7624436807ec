"""PNG plots of evaluation results, drawn with matplotlib's Agg canvas.

Figures are built with `matplotlib.figure.Figure` directly (not pyplot), so
no global backend or figure state is touched and nothing needs a display.
Each function returns PNG bytes; the caller decides where they go.
"""

from __future__ import annotations

import io
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Beyond this many classes, cell counts and tick labels become unreadable.
MAX_ANNOTATED_CLASSES = 25
MAX_LABELLED_CLASSES = 60


def figure_png(figure: Figure) -> bytes:
    """PNG bytes of a bare matplotlib Figure (Agg canvas, no pyplot state); every report plot goes through here."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _annotate(axes, counts: np.ndarray, shade: np.ndarray) -> None:
    for row in range(counts.shape[0]):
        for column in range(counts.shape[1]):
            color = "white" if shade[row, column] > 0.5 else "black"
            axes.text(column, row, str(int(counts[row, column])), ha="center", va="center", color=color, fontsize=8)


def confusion_matrix_png(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> bytes:
    """Heatmap of a `[K, K]` confusion matrix (rows true, columns predicted).

    Colour is the row-normalized rate (per-class recall on the diagonal), so
    rare classes stay visible; the cell text is the raw count.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    num_classes = counts.shape[0]
    row_sums = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, row_sums, out=np.zeros(counts.shape, dtype=np.float64), where=row_sums > 0)
    side = min(4 + 0.4 * num_classes, 20)
    figure = Figure(figsize=(side + 1.5, side))
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="fraction of true class")
    if num_classes <= MAX_LABELLED_CLASSES:
        ticks = np.arange(num_classes)
        axes.set_xticks(ticks, labels=list(class_names), rotation=90)
        axes.set_yticks(ticks, labels=list(class_names))
    if num_classes <= MAX_ANNOTATED_CLASSES:
        _annotate(axes, counts, rates)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"Confusion matrix ({int(counts.sum())} examples)")
    return figure_png(figure)


def multilabel_confusion_png(matrices: Sequence[Sequence[Sequence[int]]], class_names: Sequence[str]) -> bytes:
    """Per-label binary outcomes from a `[K, 2, 2]` stack of [[TN, FP], [FN, TP]].

    One row per label, columns TN, FP, FN, TP; colour is the row fraction.
    """
    counts = np.asarray(matrices, dtype=np.int64).reshape(len(class_names), 4)
    row_sums = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, row_sums, out=np.zeros(counts.shape, dtype=np.float64), where=row_sums > 0)
    figure = Figure(figsize=(6, min(2 + 0.35 * len(class_names), 30)))
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    figure.colorbar(image, ax=axes, label="fraction of examples")
    axes.set_xticks(np.arange(4), labels=["TN", "FP", "FN", "TP"])
    if len(class_names) <= MAX_LABELLED_CLASSES:
        axes.set_yticks(np.arange(len(class_names)), labels=list(class_names))
        _annotate(axes, counts, rates)
    axes.set_title("Per-label outcomes at threshold 0.5")
    return figure_png(figure)


def reliability_diagram_png(reliability: Mapping[str, Sequence[float]], expected_calibration_error: float) -> bytes:
    """Accuracy versus confidence per bin, with the diagonal of perfect calibration.

    Args:
      reliability: output of `metrics.reliability_bins` (bin_edges, count,
        accuracy, confidence; NaN for empty bins).
    """
    edges = np.asarray(reliability["bin_edges"], dtype=np.float64)
    counts = np.asarray(reliability["count"], dtype=np.float64)
    bin_accuracy = np.nan_to_num(np.asarray(reliability["accuracy"], dtype=np.float64))
    bin_confidence = np.asarray(reliability["confidence"], dtype=np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    filled = counts > 0
    figure = Figure(figsize=(6, 7))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(centers, bin_accuracy, width=widths, edgecolor="black", color="tab:blue", label="accuracy")
    top.bar(
        centers[filled],
        bin_confidence[filled] - bin_accuracy[filled],
        bottom=bin_accuracy[filled],
        width=widths[filled],
        color="tab:red",
        alpha=0.3,
        label="gap to confidence",
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"Reliability diagram (ECE = {expected_calibration_error:.4f})")
    top.legend(loc="upper left")
    bottom.bar(centers, counts, width=widths, edgecolor="black", color="gray")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("count")
    return figure_png(figure)
