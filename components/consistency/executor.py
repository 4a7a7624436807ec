"""Consistency training executor: artifact I/O around `consistency.run_consistency_training`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List, Tuple

from tfx import types

from components.common import model_io, recipe, resume
from components.common.artifact_io import write_json
from components.common.augmentation import load_augmentation_layer
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.common.recipe import Recipe, write_recipe
from components.consistency import checkpoint, consistency, spec
from components.contrastive import backbone

logger = logging.getLogger(__name__)


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


class Executor(ComponentExecutor):
    """Trains with FixMatch (resuming from its checkpoint) and writes the EMA model and its evidence."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.ConsistencyConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        policy_artifact = self.optional(input_dict, spec.AUGMENTATION_POLICY_KEY)
        policy = None
        if policy_artifact:
            policy = load_augmentation_layer(policy_artifact.uri, config.seed, consumer="ConsistencyTraining").policy
        warm = self.optional(input_dict, spec.WARM_START_MODEL_KEY)
        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        work_dir, log_dir = resolve_work_dir(config, model_artifact.uri)

        backbone.reset_layer_names()  # Layer names as in a fresh process (warm starts downstream match by name).
        warm_start = model_io.load_model(warm.uri) if warm else None
        run = consistency.run_consistency_training(
            examples.uri, data_spec, config, work_dir, policy=policy, warm_start=warm_start, log_dir=log_dir
        )
        history = {key: [record.get(key) for record in run.history] for key in run.history[-1]}
        model_io.save_model_artifact(run.model, model_artifact.uri, history=history, metrics=run.metrics)
        record_metrics(model_artifact, run.metrics)
        model_artifact.set_string_custom_property("architecture", config.module_file or config.architecture)
        model_artifact.set_string_custom_property("threshold_mode", config.threshold_mode)
        model_artifact.set_int_custom_property("distribution_alignment", int(config.distribution_alignment))
        model_artifact.set_int_custom_property("epochs_trained", len(run.history))
        model_artifact.set_int_custom_property("resumed_epochs", run.resumed_epochs)
        model_artifact.set_string_custom_property(
            "weak_view_ops", ",".join(op["name"] for op in (run.views["weak"] or {}).get("ops", []))
        )
        write_json(
            os.path.join(model_artifact.uri, spec.SUMMARY_FILE_NAME),
            {"config": dataclasses.asdict(config), "metrics": run.metrics, "epochs": run.history,
             "views": run.views, "steps_per_epoch": run.steps_per_epoch, "num_labeled": run.num_labeled,
             "num_unlabeled": run.num_unlabeled, "resumed_epochs": run.resumed_epochs, "examples": examples.uri,
             "augmentation_policy": policy_artifact.uri if policy_artifact else None,
             "warm_start_model": warm.uri if warm else None, "work_dir": work_dir,
             "fine_tune_unfrozen_at_epoch": run.unfrozen_at_epoch},
        )
        # What Refit reruns on train + eval (components/refit): this config, the artifacts it read, its epochs.
        write_recipe(model_artifact.uri, Recipe(
            recipe.CONSISTENCY_TRAINING, dataclasses.asdict(config),
            {spec.AUGMENTATION_POLICY_KEY: policy_artifact.uri if policy_artifact else None,
             spec.WARM_START_MODEL_KEY: warm.uri if warm else None}, len(run.history),
        ))
        checkpoint.remove(work_dir)  # The artifact is written: nothing is left to resume.
        backbone.reset_layer_names()  # The next in-process component builds with fresh layer names.
        logger.info("consistency: model written to %s: %s", model_artifact.uri, run.metrics)
