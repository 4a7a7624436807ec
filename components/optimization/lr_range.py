"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates"; popularised by fastai).

A fresh model trains for a few hundred steps while the learning rate grows
exponentially from `lr_min` to `lr_max`; the training loss per step, smoothed,
traces three regions: too small (flat), useful (falling) and too large
(rising, then diverging). The chosen rate sits in the falling region:

- `min_loss_lr`: where the smoothed loss is lowest. Beyond it, steps are so
  large that they undo progress; a rate one order of magnitude below it
  (Smith's rule) is the largest that stays clearly stable.
- `steepest_lr`: where the smoothed loss falls fastest per unit of log LR,
  looking only at rates below `min_loss_lr`.
The pick is the geometric mean of `min_loss_lr / 10` and `steepest_lr`, each
a standard heuristic that is noisy on its own (a short curve from a small
batch has a noisy gradient; the minimum of a smoothed curve lags). When the
loss diverges before it ever falls, `lr_min` is returned with that reason.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

# The run stops once the smoothed loss exceeds this multiple of its lowest value so far (or is not finite).
DIVERGENCE_FACTOR = 4.0
# EMA weight of the past in the smoothed loss; ~10 steps of memory suits a curve of a few hundred steps.
SMOOTHING = 0.9
# Steps ignored at the start when looking for the steepest descent (the EMA has not settled yet).
SETTLING_FRACTION = 0.05


@dataclasses.dataclass(frozen=True)
class RangeTestResult:
    learning_rates: List[float]  # One per step run.
    losses: List[float]  # Raw training loss per step (non-finite as NaN).
    smoothed: List[float]  # Bias-corrected EMA of `losses`.
    learning_rate: float  # The chosen rate.
    steepest_lr: Optional[float]
    min_loss_lr: Optional[float]
    diverged_at: Optional[float]  # The rate where the loss diverged; None when it never did.
    reason: str

    def curve(self) -> List[dict]:
        """`[{learning_rate, loss, smoothed_loss}]` per step, for the artifact's JSON."""
        return [
            {"learning_rate": lr, "loss": loss, "smoothed_loss": smooth}
            for lr, loss, smooth in zip(self.learning_rates, self.losses, self.smoothed)
        ]


def schedule(lr_min: float, lr_max: float, num_steps: int) -> np.ndarray:
    """`[num_steps]` rates growing exponentially from lr_min to lr_max (both included)."""
    return np.exp(np.linspace(math.log(lr_min), math.log(lr_max), num_steps))


def smooth(losses: Sequence[float], beta: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average; a non-finite loss makes every later value infinite."""
    smoothed, average, poisoned = [], 0.0, False
    for index, loss in enumerate(losses, start=1):
        poisoned = poisoned or not math.isfinite(loss)
        if poisoned:
            smoothed.append(math.inf)
            continue
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta**index))
    return np.asarray(smoothed, dtype=np.float64)


def divergence_index(smoothed: np.ndarray, factor: float = DIVERGENCE_FACTOR) -> Optional[int]:
    """The first step whose smoothed loss is not finite or above `factor` x the lowest before it."""
    lowest = math.inf
    for index, value in enumerate(smoothed):
        if not math.isfinite(value) or (index > 0 and value > factor * lowest):
            return index
        lowest = min(lowest, value)
    return None


def descent_slopes(rates: np.ndarray, smoothed: np.ndarray) -> np.ndarray:
    """d(smoothed loss) / d(log rate) per step, as a central difference over +-5% of the steps.

    A wider difference than neighbouring steps keeps one lucky batch from
    making the steepest point.
    """
    half_width = max(1, len(rates) // 20)
    log_rates = np.log(rates)
    slopes = np.zeros(len(rates))
    for index in range(len(rates)):
        low, high = max(0, index - half_width), min(len(rates) - 1, index + half_width)
        if high > low:
            slopes[index] = (smoothed[high] - smoothed[low]) / (log_rates[high] - log_rates[low])
    return slopes


def suggest(
    learning_rates: Sequence[float], losses: Sequence[float], lr_min: float, lr_max: float, beta: float = SMOOTHING
) -> RangeTestResult:
    """Picks a learning rate from a range-test curve (the rule of the module docstring)."""
    rates = np.asarray(learning_rates, dtype=np.float64)
    smoothed = smooth(losses, beta)
    stop = divergence_index(smoothed)
    diverged_at = float(rates[stop]) if stop is not None else None
    end = len(rates) if stop is None else stop
    raw = [float(value) if math.isfinite(value) else float("nan") for value in losses]
    shown_smoothed = [float(value) if math.isfinite(value) else float("nan") for value in smoothed]

    def result(rate, steepest, lowest, reason):
        rate = float(min(max(rate, lr_min), lr_max))
        return RangeTestResult(
            [float(r) for r in rates], raw, shown_smoothed, rate, steepest, lowest, diverged_at, reason
        )

    settle = max(1, int(round(SETTLING_FRACTION * len(rates))))
    lowest_index = int(np.argmin(smoothed[:end])) if end > 0 else 0
    if end < 3 or lowest_index <= settle:
        what = f"diverged at {diverged_at:.3g} before it fell" if diverged_at is not None else "never fell"
        return result(
            lr_min, None, None,
            f"{lr_min:.3g}: in the LR range test the loss {what}; using lr_min, the range's low end "
            "(lower lr_min to search further down).",
        )
    min_loss_lr = float(rates[lowest_index])
    slopes = descent_slopes(rates[: lowest_index + 1], smoothed[: lowest_index + 1])
    steepest_index = settle + int(np.argmin(slopes[settle:]))
    steepest_lr = float(rates[steepest_index])
    chosen = min(max(math.sqrt(steepest_lr * min_loss_lr / 10.0), lr_min), lr_max)
    if diverged_at is not None:
        divergence = f"diverged at {diverged_at:.3g}"
    elif lowest_index == len(rates) - 1:
        divergence = f"still falling at the last rate, {rates[-1]:.3g} (raise lr_max to search further up)"
    else:
        divergence = f"did not diverge up to {rates[-1]:.3g}"
    reason = (
        f"{chosen:.3g}: LR range test over {len(rates)} steps ({rates[0]:.3g} to {rates[-1]:.3g}); smoothed loss "
        f"lowest at {min_loss_lr:.3g}, falling fastest at {steepest_lr:.3g}, {divergence}; chose the geometric mean of "
        f"{min_loss_lr / 10:.3g} (a tenth of the lowest-loss rate) and the steepest-descent rate."
    )
    return result(chosen, steepest_lr, min_loss_lr, reason)


def run_range_test(
    train_step,
    set_learning_rate,
    batches: Iterator[Tuple[object, object]],
    lr_min: float,
    lr_max: float,
    num_steps: int,
) -> RangeTestResult:
    """Runs the sweep and returns `suggest(...)` of its curve.

    Args:
      train_step: `(images, targets) -> loss` that updates the model (see steps.make_train_step).
      set_learning_rate: `(rate) -> None`, called before every step.
      batches: an endless iterator of `(images [B,H,W,C], targets [B,K])`.
      num_steps: the budget; the sweep stops early once the loss diverges.
    """
    rates = schedule(lr_min, lr_max, num_steps)
    run_rates: List[float] = []
    losses: List[float] = []
    for rate in rates:
        images, targets = next(batches)
        set_learning_rate(rate)
        loss = float(train_step(images, targets))
        run_rates.append(float(rate))
        losses.append(loss)
        if divergence_index(smooth(losses)) is not None:  # O(n^2) over a few hundred steps: negligible.
            break
    logger.info("LR range test ran %d of %d steps (last rate %.3g)", len(losses), num_steps, run_rates[-1])
    return suggest(run_rates, losses, lr_min, lr_max)
