"""The LR range test plot: training loss against learning rate (log scale), with the pick marked."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from components.evaluation.plots import figure_png
from components.optimization.lr_range import RangeTestResult


def range_test_png(result: RangeTestResult) -> bytes:
    """PNG bytes: raw and smoothed loss per step against its learning rate, lines at the chosen and key rates."""
    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.add_subplot(1, 1, 1)
    rates = result.learning_rates
    axes.plot(rates, result.losses, color="0.75", linewidth=0.8, label="loss per step")
    axes.plot(rates, result.smoothed, color="tab:blue", linewidth=1.6, label="smoothed loss")
    marks = (
        (result.learning_rate, "tab:green", "chosen"),
        (result.steepest_lr, "tab:orange", "steepest descent"),
        (result.min_loss_lr, "tab:purple", "lowest loss"),
        (result.diverged_at, "tab:red", "diverged"),
    )
    for rate, color, name in marks:
        if rate is not None:
            axes.axvline(rate, color=color, linestyle="--", linewidth=1.0, label=f"{name}: {rate:.3g}")
    finite = [value for value in result.smoothed if math.isfinite(value)]
    if finite:  # Keep the useful region readable when the loss explodes at the end.
        low, top = min(finite), min(max(finite), 1.5 * max(finite[0], min(finite)))
        axes.set_ylim(low - 0.05 * abs(top - low), top + 0.05 * abs(top - low) + 1e-6)
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss")
    axes.set_title("LR range test")
    axes.legend(fontsize=8)
    axes.grid(True, alpha=0.3)
    return figure_png(figure)
