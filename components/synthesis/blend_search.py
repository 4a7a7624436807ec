"""Searching the synthetic/real blend ratio by short trainings scored on real held-out data.

Every candidate ratio trains the same model with the same seed(s) through
`components.training.trainer.fit`; the ratio with the best accuracy on the
real `eval` split wins (ties and gains under `min_improvement` go to the
smaller ratio, so ratio 0 stays unless synthetic data measurably helps).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np

from components.training import trainer
from components.training.spec import TrainingConfig
from components.types import features

logger = logging.getLogger(__name__)

# (ratio, seed) -> (batched one-hot train dataset, examples per epoch)
TrainDatasetFn = Callable[[float, int], Tuple[object, int]]


@dataclasses.dataclass
class RatioResult:
    ratio: float
    eval_accuracy: float
    eval_accuracy_std: float
    eval_loss: float
    per_seed_accuracy: List[float]
    examples_per_epoch: int


@dataclasses.dataclass
class BlendSearchResult:
    chosen_ratio: float
    curve: List[RatioResult]
    model: keras.Model
    history: Dict[str, list]

    def to_dict(self) -> Dict[str, object]:
        return {"chosen_ratio": self.chosen_ratio, "curve": [dataclasses.asdict(point) for point in self.curve]}

    def point(self, ratio: float) -> Optional[RatioResult]:
        return next((point for point in self.curve if point.ratio == ratio), None)


def choose_ratio(curve: Sequence[RatioResult], min_improvement: float = 0.0) -> float:
    """Highest mean accuracy, smallest ratio on ties; a gain over the smallest ratio below `min_improvement` loses."""
    ordered = sorted(curve, key=lambda point: point.ratio)
    best = max(ordered, key=lambda point: (point.eval_accuracy, -point.ratio))
    baseline = ordered[0]
    if best.eval_accuracy - baseline.eval_accuracy < min_improvement:
        return baseline.ratio
    return best.ratio


def search_blend_ratio(
    build_model: Callable[[], keras.Model],
    train_dataset_fn: TrainDatasetFn,
    eval_dataset,
    config: TrainingConfig,
    ratios: Sequence[float],
    seeds: Sequence[int],
    min_improvement: float = 0.0,
    task: str = features.TASK_CLASSIFICATION,
) -> BlendSearchResult:
    """Trains at every ratio and seed, scores on `eval_dataset` (real only), picks the ratio.

    Args:
      build_model: zero-argument model builder (called per run).
      train_dataset_fn: `(ratio, seed) -> (batched (images, one-hot) dataset,
        examples per epoch)`.
      eval_dataset: batched `(images, one-hot)` of real held-out images.
      config: the short training run's config; its seed is replaced per run.
      seeds: one training run per seed and ratio; accuracies are averaged.

    Returns:
      The chosen ratio, the curve, and the model (and history) of the chosen
      ratio's first seed.
    """
    if not ratios or not seeds:
        raise ValueError("search_blend_ratio needs at least one ratio and one seed.")
    curve: List[RatioResult] = []
    models: Dict[float, Tuple[keras.Model, Dict[str, list]]] = {}
    for ratio in sorted(float(r) for r in ratios):
        accuracies, losses = [], []
        for seed in seeds:
            run_config = dataclasses.replace(config, seed=int(seed))
            keras.utils.set_random_seed(int(seed))
            train_dataset, examples_per_epoch = train_dataset_fn(ratio, int(seed))
            model, history = trainer.fit(
                build_model, train_dataset, None, run_config, task, examples_per_epoch,
                log_prefix=f"blend ratio {ratio:g} seed {seed}",
            )
            scores = trainer.evaluate(model, eval_dataset, task)
            accuracies.append(scores["accuracy"])
            losses.append(scores["loss"])
            if ratio not in models:
                models[ratio] = (model, history)
        point = RatioResult(
            ratio=ratio,
            eval_accuracy=float(np.mean(accuracies)),
            eval_accuracy_std=float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
            eval_loss=float(np.mean(losses)),
            per_seed_accuracy=[float(a) for a in accuracies],
            examples_per_epoch=int(examples_per_epoch),
        )
        curve.append(point)
        logger.info("blend ratio %g: eval accuracy %.4f (%d seeds)", ratio, point.eval_accuracy, len(seeds))
    chosen = choose_ratio(curve, min_improvement)
    logger.info("blend search chose ratio %g", chosen)
    model, history = models[chosen]
    return BlendSearchResult(chosen_ratio=chosen, curve=curve, model=model, history=history)


def curve_png(curve: Sequence[RatioResult], chosen_ratio: float, title: str = "Synthetic blend ratio search") -> bytes:
    """Held-out accuracy vs ratio (mean and spread over seeds), the chosen ratio marked."""
    from matplotlib.figure import Figure

    from components.evaluation.plots import figure_png

    ratios = [point.ratio for point in curve]
    means = [point.eval_accuracy for point in curve]
    spreads = [point.eval_accuracy_std for point in curve]
    figure = Figure(figsize=(5, 3.5))
    axes = figure.add_subplot(1, 1, 1)
    axes.errorbar(ratios, means, yerr=spreads, marker="o", capsize=3, label="real eval accuracy")
    axes.axvline(chosen_ratio, color="tab:red", linestyle="--", label=f"chosen ratio {chosen_ratio:g}")
    axes.set_xlabel("synthetic examples per real example")
    axes.set_ylabel("accuracy on real held-out data")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    return figure_png(figure)
