"""Refit executor: artifact I/O around `refit.refit_champion`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List

from tfx import types

from components.common.artifact_io import write_json
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.refit import refit, spec

logger = logging.getLogger(__name__)
# The champion's properties that still describe the refitted model (how it was chosen, what it is).
KEPT_PROPERTIES = ("champion", "selection_metric_value", "selection_interval_low", "selection_interval_high",
                   "architecture", "trusted_module_code")


class Executor(ComponentExecutor):
    """Refits the champion's recipe on train + the held-out splits, or passes the champion through."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.RefitConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        champion = self.single(input_dict, spec.CHAMPION_KEY)
        output = self.single(output_dict, spec.MODEL_KEY)
        scratch = os.path.join(os.path.dirname(output.uri.rstrip("/")), spec.SCRATCH_DIR_NAME)
        result = refit.refit_champion(examples.uri, data_spec, champion.uri, output.uri, config.merge_splits, scratch,
                                     config.trainers)
        for name, value in champion.mlmd_artifact.custom_properties.items():
            if name in KEPT_PROPERTIES:
                output.mlmd_artifact.custom_properties[name].CopyFrom(value)
            elif name.startswith("eval_"):  # the held-out score of the recipe, before its eval images joined
                kept = output.mlmd_artifact.custom_properties[spec.HELD_OUT_PREFIX + name]
                kept.CopyFrom(value)
        output.set_int_custom_property(spec.REFIT_PROPERTY, int(result.refitted))
        output.set_string_custom_property(spec.REFIT_REASON_PROPERTY, result.reason)
        output.set_string_custom_property(spec.REFIT_TRAINER_PROPERTY, result.trainer)
        output.set_int_custom_property(spec.REFIT_IMAGES_PROPERTY, result.images)
        output.set_int_custom_property(spec.REFIT_EPOCHS_PROPERTY, result.epochs)
        if result.refitted and result.metrics:  # scored on splits it trained on: a training score, named so
            record_metrics(output, {f"refit_{name}": value for name, value in result.metrics.items()})
        write_json(os.path.join(output.uri, spec.SUMMARY_FILE_NAME),
                   dict(dataclasses.asdict(result), champion=champion.uri, merge_splits=list(config.merge_splits)))
        logger.info("refit: %s -> %s", result.reason, output.uri)
