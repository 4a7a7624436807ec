"""The two-pass augmentation search, without TFX (the executor's math).

Pass 1 (inference only): a briefly trained proxy (or a given model) measures
how far each candidate (op, magnitude) moves held-out images in its feature
space; ops with alike response curves are clustered.
Pass 2: short warm-started trainings per cluster at a few magnitudes (clusters
that relabel most images even at the smallest magnitude are pruned; each
trial leaves out the cluster's ops that barely move the data at its
magnitude, see `moving_ops`), then
the helpful clusters combined at a few probabilities. The search's candidate
is the strongest searched policy within noise of the best one; it is output
only when it beats the simpler options (no augmentation, then RandAugment)
beyond the noise of the held-out split (a one-sided 95% paired bootstrap
bound, selection.final_choice). Label-mixing ops (mixup, cutmix) are trained
like the others: trials and the Training component both mix images and soft
labels (components/common/augmentation.py).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Dict, List, Optional, Sequence

import keras
import numpy as np

from augment_ops.policy import Policy
from components.augmentation_search import candidates as candidates_lib
from components.augmentation_search import clustering, distances, proxy, search_policy, selection, trials
from components.augmentation_search.spec import AugmentationSearchConfig
from components.training.spec import TrainingConfig
from components.types import features

logger = logging.getLogger(__name__)

BASELINE, CLUSTER, COMBINED = trials.BASELINE, trials.CLUSTER, trials.COMBINED


@dataclasses.dataclass
class SearchResult:
    """Everything the search decided and the evidence for it.

    Attributes:
      policy: the chosen augment_ops Policy (a baseline when one won pass 2;
        the identity policy when no augmentation won).
      chosen: the pass-2 trial of the chosen policy.
      seconds: wall time per phase: proxy, pass1, pass2, total.
      final: the final choice with its paired comparisons (selection.FinalChoice).
    """

    policy: Policy
    chosen: trials.TrialResult
    effects: List[distances.CandidateEffect]
    clusters: List[clustering.Cluster]
    trials: List[trials.TrialResult]
    seconds: Dict[str, float]
    trial_magnitudes: Dict[int, List[float]]
    proxy_accuracy: float
    final: Optional[selection.FinalChoice] = None

    def baseline_accuracy(self, name_prefix: str) -> Optional[float]:
        for trial in self.trials:
            if trial.kind == BASELINE and trial.name.startswith(name_prefix):
                return trial.accuracy
        return None

    @property
    def source(self) -> str:
        """'searched', or the name of the baseline that won."""
        return self.chosen.name if self.chosen.kind == BASELINE else "searched"


def training_config(config: AugmentationSearchConfig, epochs: int, learning_rate: Optional[float] = None) -> TrainingConfig:
    """The suite's TrainingConfig for a proxy or trial run of this search."""
    return TrainingConfig(
        architecture=config.architecture,
        module_file=config.module_file,
        epochs=epochs,
        batch_size=config.batch_size,
        learning_rate=learning_rate or config.learning_rate,
        schedule="cosine",
        optimizer="adam",
        seed=config.seed,
        image_size=config.image_size,
        distribution="default",
        verbose=0,
    )


def probe_indices(num_examples: int, size: int, seed: int) -> np.ndarray:
    """A seeded subset of held-out rows for pass 1 (all rows when fewer)."""
    rows = np.arange(num_examples)
    if size >= num_examples:
        return rows
    return np.sort(np.random.default_rng(seed).permutation(num_examples)[:size])


def trial_magnitudes(cluster: clustering.Cluster, grid: Sequence[float], count: int, max_label_change: float) -> List[float]:
    """The `count` largest grid magnitudes at which the cluster still keeps labels.

    The strongest transforms whose pass-1 mean label change stays within
    `max_label_change` add the most variety without teaching wrong labels.
    Clusters that change too many labels even at the smallest magnitude are
    tried once there, so pass 2 shows their cost.
    """
    curve = sorted(zip((float(m) for m in grid), cluster.mean_label_change))
    acceptable = [magnitude for magnitude, change in curve if change <= max_label_change]
    if not acceptable:
        return [curve[0][0]]
    return acceptable[-count:]


def pruned(cluster: clustering.Cluster, grid: Sequence[float], limit: Optional[float]) -> bool:
    """True when the cluster changes more than `limit` of predicted labels even at its smallest magnitude."""
    if limit is None or cluster.inert:
        return False
    smallest = min(range(len(grid)), key=lambda index: float(grid[index]))
    return cluster.mean_label_change[smallest] > limit


def moving_ops(
    ops: Sequence[str], effects: Sequence[distances.CandidateEffect], magnitude: float, min_share: float
) -> tuple:
    """The ops that visibly move the data at `magnitude`: pass-1 relative Frechet >= min_share x their mean.

    A policy draws one op per sample, so an op that barely changes the image
    at this magnitude (gamma or posterize on near-binary digits) spends draws
    on near-copies and dilutes the ops that do augment. Ops without a pass-1
    measurement at this magnitude are kept.
    """
    lookup = clustering.effect_lookup(effects)
    moved = {
        op: lookup[key].relative_frechet
        for op in ops
        if (key := (op, candidates_lib.canonical_magnitude(op, float(magnitude)))) in lookup
    }
    if min_share <= 0.0 or not moved:
        return tuple(ops)
    floor = min_share * float(np.mean(list(moved.values())))
    return tuple(op for op in ops if op not in moved or moved[op] >= floor)


def run_pass_two(
    runner: trials.TrialRunner,
    clusters: Sequence[clustering.Cluster],
    magnitudes: Dict[int, List[float]],
    config: AugmentationSearchConfig,
    effects: Sequence[distances.CandidateEffect] = (),
) -> selection.FinalChoice:
    """Baselines, single-cluster trials, then the helpful clusters combined; returns the final choice."""
    tolerance = config.selection_tolerance
    none = runner.run(search_policy.NO_AUGMENTATION_NAME, None, BASELINE)
    randaugment = search_policy.randaugment_baseline(config.randaugment_num_ops, config.randaugment_magnitude)
    runner.run(randaugment.name, randaugment, BASELINE)
    probability = max(config.probabilities)
    for cluster in clusters:
        ops = cluster.ops
        if cluster.inert or not ops or pruned(cluster, config.magnitudes, config.prune_label_change):
            continue
        for magnitude in magnitudes[cluster.index]:
            name = f"cluster{cluster.index}_m{magnitude:.2f}_p{probability:.2f}"
            active = moving_ops(ops, effects, magnitude, config.min_effect_share)
            runner.run(
                name, search_policy.cluster_policy(active, magnitude, probability, name), CLUSTER,
                cluster=cluster.index, magnitude=magnitude, probability=probability,
            )
    choices = selection.cluster_choices(runner.results, tolerance)
    helpful = sorted(
        (choice for choice in choices.values() if selection.helpful(choice, none, tolerance)),
        key=lambda choice: (-choice.accuracy, choice.cluster),
    )
    logger.info("pass 2: helpful clusters %s", [choice.cluster for choice in helpful])
    for level in sorted(config.probabilities):
        if not helpful or (len(helpful) == 1 and level == probability):
            continue  # A single helpful cluster at the top probability was already trained.
        name = "combined_" + "_".join(f"c{choice.cluster}" for choice in helpful) + f"_p{level:.2f}"
        parts = [search_policy.with_probability(choice.policy, level) for choice in helpful]
        runner.run(name, search_policy.combined_policy(parts, name), COMBINED, probability=level)
    final = selection.final_choice(
        runner.results, config.choose_baselines, tolerance, config.confidence, config.num_resamples, config.seed
    )
    for decision in final.decisions:
        logger.info("final choice: %s vs %s: %s", decision.candidate, decision.against, decision.reason())
    logger.info("final choice: %s (%s)", final.role, final.chosen.name)
    return final


def run_search(
    build_model: Callable[[], keras.Model],
    train_images: np.ndarray,
    train_labels: np.ndarray,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    num_classes: int,
    config: AugmentationSearchConfig,
    task: str = features.TASK_CLASSIFICATION,
    model: Optional[keras.Model] = None,
) -> SearchResult:
    """Runs both passes.

    Args:
      build_model: returns a fresh model (probabilities out); used for the proxy.
      train_images, eval_images: [N,H,W,C] float in [0,1].
      train_labels, eval_labels: int class ids [N].
      model: a trained model to measure pass 1 with and warm-start pass 2 from,
        instead of training a proxy.

    Returns:
      The SearchResult (chosen policy, distance table, clusters, trials, wall times).
    """
    start = time.perf_counter()
    train_targets = np.eye(num_classes, dtype="float32")[train_labels]
    eval_targets = np.eye(num_classes, dtype="float32")[eval_labels]
    if model is None:
        logger.info("proxy: training %d epochs on %d images", config.proxy_epochs, len(train_images))
        proxy_config = training_config(config, config.proxy_epochs)
        model = proxy.train_proxy(build_model, train_images, train_targets, proxy_config, task)
    proxy_seconds = time.perf_counter() - start
    proxy_accuracy = float(np.mean(np.argmax(model.predict(eval_images, verbose=0), -1) == eval_labels))
    logger.info("proxy ready in %.1fs: held-out accuracy %.4f", proxy_seconds, proxy_accuracy)

    pass_one_start = time.perf_counter()
    search_space = candidates_lib.enumerate_candidates(config.magnitudes, ops=config.ops, exclude=config.excluded_ops)
    rows = probe_indices(len(eval_images), config.probe_examples, config.seed)
    logger.info("pass 1: %d candidates on %d held-out images", len(search_space), len(rows))
    effects = distances.measure_candidates(
        model, eval_images[rows], eval_targets[rows], search_space, seed=config.seed,
        progress=distances.log_progress(max(1, len(search_space) // 10)),
    )
    clusters = clustering.cluster_ops(
        effects, config.magnitudes, config.max_clusters, config.num_clusters, config.inert_threshold, config.seed,
        config.min_clusters,
    )
    magnitudes = {
        c.index: trial_magnitudes(c, config.magnitudes, config.magnitudes_per_cluster, config.max_label_change)
        for c in clusters
        if not c.inert and not pruned(c, config.magnitudes, config.prune_label_change)
    }
    pass_one_seconds = time.perf_counter() - pass_one_start
    for cluster in clusters:
        state = " (inert)" if cluster.inert else "" if cluster.index in magnitudes else " (pruned: relabels images)"
        logger.info("cluster %d%s: %s", cluster.index, state, ", ".join(cluster.ops))
    logger.info("pass 1 done in %.1fs", pass_one_seconds)

    pass_two_start = time.perf_counter()
    runner = trials.TrialRunner(
        model, train_images, train_targets, eval_images, eval_targets,
        training_config(config, config.trial_epochs, config.trial_learning_rate), task,
    )
    final = run_pass_two(runner, clusters, magnitudes, config, effects)
    chosen = final.chosen
    pass_two_seconds = time.perf_counter() - pass_two_start
    policy = chosen.policy if chosen.policy is not None else search_policy.IDENTITY_POLICY
    logger.info(
        "pass 2 done in %.1fs (%d trials); chosen %s", pass_two_seconds, len(runner.results), search_policy.describe(policy)
    )
    return SearchResult(
        policy=policy,
        chosen=chosen,
        effects=effects,
        clusters=clusters,
        trials=runner.results,
        seconds={
            "proxy": proxy_seconds,
            "pass1": pass_one_seconds,
            "pass2": pass_two_seconds,
            "total": time.perf_counter() - start,
        },
        trial_magnitudes=magnitudes,
        proxy_accuracy=proxy_accuracy,
        final=final,
    )
