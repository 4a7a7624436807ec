"""Choosing the epoch count from one early-stopped run.

The model trains at the chosen batch size, starting at the chosen learning
rate, up to `max_epochs`. When the eval loss has not improved for
`decay_patience(patience)` epochs the rate is cut by LR_DECAY_FACTOR (at
most LR_DECAYS times: reduce-on-plateau, a step schedule that ends itself),
and the run stops once the eval loss has not improved for `patience`
epochs. The epoch with the lowest eval loss is the epoch count Training
uses (at least `min_epochs`); Training anneals its rate (cosine) over those
epochs, so the count must be that of a whole annealed schedule: a
constant-rate run stops on its first noisy plateau, long before the model
has learned what a decaying rate lets it learn (on MNIST with 500 labels it
stopped at 10 epochs where 20 were better).

Eval loss, not accuracy, decides: on a small eval split accuracy moves in
steps of one image and ties for many epochs, while the loss is smooth and
also rises when the model grows over-confident (the first sign of
overfitting).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

# Patience covers about this many optimizer steps, so a run with short epochs (few images) waits more
# epochs for the noisy eval loss to improve, and a run with long epochs does not waste many.
PATIENCE_STEPS = 150
MIN_PATIENCE = 2
MAX_PATIENCE = 10
# Reduce-on-plateau of the early-stopping run: factor per cut and the most cuts.
LR_DECAY_FACTOR = 0.2
LR_DECAYS = 2


@dataclasses.dataclass(frozen=True)
class EpochChoice:
    epochs: int
    best_epoch: int  # 1-based epoch of the lowest eval loss.
    epochs_trained: int
    stopped_early: bool
    patience: int
    reason: str


def auto_patience(steps_per_epoch: int, max_epochs: int) -> int:
    """Epochs covering ~PATIENCE_STEPS steps, within [MIN_PATIENCE, MAX_PATIENCE] and at most a quarter of the run.

    500 images at batch 16 (32 steps an epoch) wait 5 epochs; 50,000 at
    batch 256 (196 steps) wait 2.
    """
    patience = math.ceil(PATIENCE_STEPS / max(1, steps_per_epoch))
    return int(max(MIN_PATIENCE, min(patience, MAX_PATIENCE, max(MIN_PATIENCE, max_epochs // 4))))


def decay_patience(patience: int) -> int:
    """Epochs without improvement before a learning-rate cut: half the stopping patience, so cuts come first."""
    return max(1, patience // 2)


def best_epoch(eval_losses: Sequence[float]) -> int:
    """1-based epoch of the lowest finite eval loss (the earliest on ties)."""
    finite = [(value, index) for index, value in enumerate(eval_losses) if value is not None and math.isfinite(value)]
    if not finite:
        raise ValueError(f"The early-stopping run has no finite eval loss ({list(eval_losses)}); the learning rate "
                         "may be too high for this model.")
    return min(finite)[1] + 1


def choose_epochs(
    eval_losses: Sequence[float],
    min_epochs: int,
    max_epochs: int,
    patience: int,
    learning_rates: Optional[Sequence[float]] = None,
) -> EpochChoice:
    """The epoch count from the eval-loss curve of an early-stopped run (`learning_rates` per epoch, for the reason)."""
    best = best_epoch(eval_losses)
    trained = len(eval_losses)
    stopped_early = trained < max_epochs
    epochs = max(best, min_epochs)
    losses = f"eval loss {eval_losses[best - 1]:.4f} at epoch {best} (first epoch: {eval_losses[0]:.4f})"
    if stopped_early:
        how = f"stopped after {trained} epochs, {patience} without improvement"
    else:
        how = f"ran to the cap of {max_epochs} epochs, improving within its last {patience} (raise max_epochs)"
    floor = f"; raised to the minimum of {min_epochs}" if epochs > best else ""
    rates = list(learning_rates or ())
    cuts = [index for index in range(1, len(rates)) if rates[index] < rates[index - 1]]
    decayed = f"; learning rate cut after epochs {cuts}" if cuts else ""
    reason = f"{epochs}: early stopping on eval loss {how}{decayed}; lowest {losses}{floor}."
    return EpochChoice(epochs, best, trained, stopped_early, patience, reason)


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    return max(1, math.ceil(num_train / batch_size))


def resolve_patience(configured: Optional[int], num_train: int, batch_size: int, max_epochs: int) -> int:
    return int(configured) if configured else auto_patience(steps_per_epoch(num_train, batch_size), max_epochs)
