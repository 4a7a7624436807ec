"""Rerun the champion's recipe on train + eval (AutoGluon's `refit_full`).

With few labels the eval images are expensive: once they have chosen the
recipe, the final model learns from them too. The refit trains exactly as
the champion did (same config, seed, augmentation policy, warm start,
transform graph) for the epochs behind the champion's weights (the best
epoch when early stopping restored one: with no held-out split left there
is nothing to stop on). Trainers whose models carry no recipe (noisy
student, distillation, ensembles) are not refitted; the champion passes
through and the reason is recorded.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional, Sequence

from components.common import recipe
from components.common.artifact_io import copy_tree
from components.refit import merge
from components.types import features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RefitResult:
    """What the refit did.

    Attributes:
      refitted: whether a new model was trained (False: the champion passed through).
      reason: why, in words people read.
      trainer: the recipe's trainer ("" without a recipe).
      images: labeled images the refit trained on (train + merged splits).
      epochs: epochs it trained.
      metrics: the trainer's metrics of the refitted model (its eval split is no longer held out).
    """

    refitted: bool
    reason: str
    trainer: str = ""
    images: int = 0
    epochs: int = 0
    metrics: Optional[dict] = None


def refit_champion(
    examples_uri: str, data_spec: DataSpecContent, champion_uri: str, output_uri: str,
    merge_splits: Sequence[str], scratch_uri: str, trainers: Sequence[str] = (recipe.TRAINING,),
) -> RefitResult:
    """Writes the refitted model (or the champion, when its recipe is not rerun) to `output_uri`.

    Args:
      trainers: the trainers whose recipes are rerun; other champions pass through.
    """
    found = recipe.read_recipe(champion_uri)
    if found is None or found.trainer not in trainers:
        copy_tree(champion_uri, output_uri)
        if found is None:
            why = "its trainer writes no rerunnable recipe (noisy student, distillation and ensembles are not refitted)"
        else:
            why = f"refit.trainers is {list(trainers)} (a {found.trainer} refit was over the budget)"
        return RefitResult(False, f"the champion is kept as trained: {why}", found.trainer if found else "")
    merged_spec = merge.merged_data_spec(data_spec, merge_splits)
    needed = (features.EVAL_SPLIT, features.UNLABELED_SPLIT) if found.trainer == recipe.CONSISTENCY_TRAINING else (
        features.EVAL_SPLIT,)  # only FixMatch reads the unlabeled pool
    keep = [split for split in needed if split in data_spec.splits]
    counts = merge.write_merged_examples(examples_uri, merge_splits, scratch_uri, keep)
    logger.info("refit: %s recipe for %d epochs on %s", found.trainer, found.epochs, counts)
    try:
        rerun = _refit_training if found.trainer == recipe.TRAINING else _refit_consistency
        config, metrics = rerun(found, scratch_uri, merged_spec, output_uri)
    finally:
        _remove_tree(scratch_uri)
    recipe.write_recipe(output_uri, dataclasses.replace(found, config=dataclasses.asdict(config)))  # as it ran
    images = counts[features.TRAIN_SPLIT]
    reason = (f"{found.trainer} recipe rerun on train + {'+'.join(merge_splits)} ({images} labeled images, "
              f"{found.epochs} epochs)")
    return RefitResult(True, reason, found.trainer, images, found.epochs, metrics)


def _refit_training(found: recipe.Recipe, examples_uri: str, data_spec: DataSpecContent, output_uri: str):
    """(config, metrics) of the Training recipe rerun for its epochs, without early stopping."""
    from components.training import run, task_training
    from components.training.spec import (AUGMENTATION_POLICY_KEY, SYNTHETIC_EXAMPLES_KEY, TRANSFORM_GRAPH_KEY,
                                          WARM_START_MODEL_KEY, TrainingConfig)
    from components.types import config_json

    config = config_json.config_from_dict(
        TrainingConfig, dict(found.config, epochs=found.epochs, early_stopping_patience=0))
    if data_spec.task in task_training.TASKS:  # detectors and segmenters: their own trainers and model layout
        _, metrics, _ = task_training.train_and_save(
            examples_uri, data_spec, config, output_uri, found.input_uri(AUGMENTATION_POLICY_KEY))
        return config, metrics
    _, _, metrics = run.train_and_save(
        examples_uri, data_spec, config, output_uri, found.input_uri(AUGMENTATION_POLICY_KEY),
        found.input_uri(WARM_START_MODEL_KEY), found.input_uris(SYNTHETIC_EXAMPLES_KEY),
        found.input_uri(TRANSFORM_GRAPH_KEY),
    )
    return config, metrics


def _refit_consistency(found: recipe.Recipe, examples_uri: str, data_spec: DataSpecContent, output_uri: str):
    """(config, metrics) of the ConsistencyTraining recipe rerun for its epochs (its own work dir)."""
    from components.consistency import run
    from components.consistency.spec import AUGMENTATION_POLICY_KEY, WARM_START_MODEL_KEY, ConsistencyConfig
    from components.types import config_json

    config = config_json.config_from_dict(ConsistencyConfig, dict(found.config, epochs=found.epochs, work_dir=None))
    result, _ = run.train_and_save(
        examples_uri, data_spec, config, output_uri, found.input_uri(AUGMENTATION_POLICY_KEY),
        found.input_uri(WARM_START_MODEL_KEY), consumer="Refit",
    )
    return result.config, result.metrics


def _remove_tree(uri: str) -> None:
    import tensorflow as tf

    if tf.io.gfile.exists(uri):
        tf.io.gfile.rmtree(uri)
