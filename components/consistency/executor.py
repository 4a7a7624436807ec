"""Consistency training executor: artifact I/O around `run.train_and_save` (FixMatch, components/consistency)."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List

from tfx import types

from components.common import recipe
from components.common.artifact_io import write_json
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics, record_run_decision
from components.common.recipe import Recipe, write_recipe
from components.consistency import spec
from components.consistency.run import train_and_save

logger = logging.getLogger(__name__)


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
        warm = self.optional(input_dict, spec.WARM_START_MODEL_KEY)
        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        run, work_dir = train_and_save(
            examples.uri, data_spec, config, model_artifact.uri,
            policy_artifact.uri if policy_artifact else None, warm.uri if warm else None,
        )
        config = run.config  # as it ran: weak_flip decided from the data when the config left it open
        record_metrics(model_artifact, run.metrics)
        model_artifact.set_string_custom_property("architecture", config.module_file or config.architecture)
        model_artifact.set_string_custom_property("threshold_mode", config.threshold_mode)
        model_artifact.set_int_custom_property("distribution_alignment", int(config.distribution_alignment))
        model_artifact.set_int_custom_property("epochs_trained", len(run.history))
        model_artifact.set_int_custom_property("resumed_epochs", run.resumed_epochs)
        model_artifact.set_string_custom_property(
            "weak_view_ops", ",".join(op["name"] for op in (run.views["weak"] or {}).get("ops", []))
        )
        if run.mirror_check is not None:
            model_artifact.set_string_custom_property("mirror_check", str(run.mirror_check["reason"]))
            record_run_decision(model_artifact, str(run.mirror_check["reason"]))
        write_json(
            os.path.join(model_artifact.uri, spec.SUMMARY_FILE_NAME),
            {"config": dataclasses.asdict(config), "metrics": run.metrics, "epochs": run.history,
             "views": run.views, "steps_per_epoch": run.steps_per_epoch, "num_labeled": run.num_labeled,
             "num_unlabeled": run.num_unlabeled, "resumed_epochs": run.resumed_epochs, "examples": examples.uri,
             "augmentation_policy": policy_artifact.uri if policy_artifact else None,
             "warm_start_model": warm.uri if warm else None, "work_dir": work_dir,
             "fine_tune_unfrozen_at_epoch": run.unfrozen_at_epoch, "mirror_check": run.mirror_check},
        )
        # What Refit reruns on train + eval (components/refit): this config, the artifacts it read, its epochs.
        write_recipe(model_artifact.uri, Recipe(
            recipe.CONSISTENCY_TRAINING, dataclasses.asdict(config),
            {spec.AUGMENTATION_POLICY_KEY: policy_artifact.uri if policy_artifact else None,
             spec.WARM_START_MODEL_KEY: warm.uri if warm else None}, len(run.history),
        ))
        logger.info("consistency: model written to %s: %s", model_artifact.uri, run.metrics)
