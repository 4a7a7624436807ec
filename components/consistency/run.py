"""One consistency training from artifact URIs to a written Model: what ConsistencyTraining and Refit both run.

The executor adds its MLMD properties, summary and recipe; Refit reruns a
stored recipe on train + eval. Both need the same middle: the work and
TensorBoard folders of the execution, the policy's image ops, the warm
start, the FixMatch run (resuming from its checkpoint), the written model.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

from components.common import model_io, resume
from components.common.augmentation import load_augmentation_layer
from components.consistency import checkpoint, consistency, spec
from components.contrastive import backbone
from components.types.data_spec import DataSpecContent


def resolve_work_dir(config: spec.ConsistencyConfig, model_uri: str) -> Tuple[str, str]:
    """(where the per-epoch checkpoint lives, TensorBoard folder or "").

    The checkpoint: the configured `work_dir`; else, inside a TFX
    execution, the stable resume directory
    (`<pipeline_root>/_resume/<component>/<run key>/...`, which a rerun with
    the same inputs and config finds again); else `<model uri>/progress`.
    TensorBoard: inside a TFX execution the scope's folder for the same
    training (a resumed run continues its curves), else none.
    """
    scope = resume.current_scope()
    label = scope.next_fit_label("consistency") if scope is not None else ""
    log_dir = scope.tensorboard_dir(label) if scope is not None else ""
    if config.work_dir:
        return config.work_dir, log_dir
    if scope is not None:
        return scope.checkpoint_dir(label), log_dir
    return os.path.join(model_uri, spec.PROGRESS_DIR_NAME), log_dir


def train_and_save(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: spec.ConsistencyConfig,
    model_uri: str,
    policy_uri: Optional[str] = None,
    warm_start_uri: Optional[str] = None,
    consumer: str = "ConsistencyTraining",
) -> Tuple[consistency.ConsistencyRun, str]:
    """Trains (or resumes) FixMatch as `config` says and writes the EMA model to `model_uri`.

    The checkpoint is removed once the model is written (nothing is left to resume).

    Returns:
      (the run with its evidence, the work directory it used).
    """
    policy = load_augmentation_layer(policy_uri, config.seed, consumer=consumer).policy if policy_uri else None
    work_dir, log_dir = resolve_work_dir(config, model_uri)
    backbone.reset_layer_names()  # Layer names as in a fresh process (warm starts downstream match by name).
    warm_start = model_io.load_model(warm_start_uri) if warm_start_uri else None
    run = consistency.run_consistency_training(
        examples_uri, data_spec, config, work_dir, policy=policy, warm_start=warm_start, log_dir=log_dir
    )
    history = {key: [record.get(key) for record in run.history] for key in run.history[-1]}
    model_io.save_model_artifact(run.model, model_uri, history=history, metrics=run.metrics)
    checkpoint.remove(work_dir)
    backbone.reset_layer_names()  # The next in-process component builds with fresh layer names.
    return run, work_dir
