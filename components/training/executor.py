"""Training executor: artifact I/O around `training.train_classifier`."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from tfx import types

from components.common import model_io, recipe
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.common.optimization_params import apply_optimization_params
from components.common.recipe import Recipe, write_recipe
from components.training import run, spec
from components.types.artifacts import SYNTHETIC_RATIO_PROPERTY
from components.types.data_spec import check_trainable

logger = logging.getLogger(__name__)


def ratio_from_blend_report(config: spec.TrainingConfig, report: Optional[types.Artifact]):
    """(config, source): BlendSearch's chosen synthetic ratio replaces the configured one when its report is wired in.

    Raises:
      ValueError: when the report carries no synthetic_ratio property (not a BlendSearch report).
    """
    if report is None:
        return config, "config"
    if not report.has_custom_property(SYNTHETIC_RATIO_PROPERTY):
        raise ValueError(
            f"The blend_report at {report.uri} has no {SYNTHETIC_RATIO_PROPERTY!r} property; wire BlendSearch's "
            "report output there."
        )
    ratio = float(report.get_float_custom_property(SYNTHETIC_RATIO_PROPERTY))
    if config.synthetic_ratio not in (0.0, ratio):
        logger.warning("synthetic_ratio %s from the config is replaced by BlendSearch's %s.", config.synthetic_ratio, ratio)
    logger.info("synthetic_ratio %s from BlendSearch's report %s", ratio, report.uri)
    return dataclasses.replace(config, synthetic_ratio=ratio), "blend_search"


class Executor(ComponentExecutor):
    """Trains the configured model and writes the Model artifact."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.TrainingConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        check_trainable(data_spec)  # One line naming the problem (e.g. a single class) before any training.
        policy = self.optional(input_dict, spec.AUGMENTATION_POLICY_KEY)
        transform = self.optional(input_dict, spec.TRANSFORM_GRAPH_KEY)
        if transform is not None and data_spec.task in ("detection", "segmentation"):
            raise ValueError(f"transform_graph feeds classifiers; this DataSpec's task is {data_spec.task!r}.")
        if data_spec.task in ("detection", "segmentation"):  # Own models, metrics and serving: task_training.py.
            from components.training import task_training

            model_artifact = self.single(output_dict, spec.MODEL_KEY)
            task_training.train_and_write(examples.uri, data_spec, config, model_artifact, policy.uri if policy else None)
            return
        warm = self.optional(input_dict, spec.WARM_START_MODEL_KEY)
        synthetic_uris = self.uris(input_dict, spec.SYNTHETIC_EXAMPLES_KEY)
        config, ratio_source = ratio_from_blend_report(config, self.optional(input_dict, spec.BLEND_REPORT_KEY))
        learned = self.optional(input_dict, spec.OPTIMIZATION_PARAMS_KEY)
        if learned is not None:
            config = apply_optimization_params(config, learned.uri, set(config.explicit_fields))
        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        inputs = {
            spec.AUGMENTATION_POLICY_KEY: policy.uri if policy else None,
            spec.WARM_START_MODEL_KEY: warm.uri if warm else None,
            spec.SYNTHETIC_EXAMPLES_KEY: list(synthetic_uris),
            spec.TRANSFORM_GRAPH_KEY: transform.uri if transform else None,
        }
        _, history, metrics = run.train_and_save(
            examples.uri, data_spec, config, model_artifact.uri, inputs[spec.AUGMENTATION_POLICY_KEY],
            inputs[spec.WARM_START_MODEL_KEY], synthetic_uris, inputs[spec.TRANSFORM_GRAPH_KEY],
        )
        # What Refit reruns on train + eval: this config as it ran, the artifacts it read, the epochs behind the weights.
        write_recipe(model_artifact.uri, Recipe(
            recipe.TRAINING, dataclasses.asdict(config), inputs,
            recipe.weights_epochs(history, config.early_stopping_patience),
        ))
        model_artifact.set_int_custom_property(model_io.TRUSTED_CODE_PROPERTY, int(config.trust_module_code))
        record_metrics(model_artifact, metrics)
        model_artifact.set_string_custom_property("architecture", config.module_file or config.architecture)
        model_artifact.set_int_custom_property("epochs_trained", len(history.get("loss", [])))
        model_artifact.set_float_custom_property(SYNTHETIC_RATIO_PROPERTY, config.synthetic_ratio if synthetic_uris else 0.0)
        model_artifact.set_string_custom_property("synthetic_ratio_source", ratio_source if synthetic_uris else "")
        model_artifact.set_string_custom_property("transform_graph", transform.uri if transform is not None else "")
        logger.info("Model written to %s", model_artifact.uri)
