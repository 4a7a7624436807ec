"""Training executor: artifact I/O around `training.train_classifier`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.training import model_io, spec, training
from components.types import artifacts, config_json
from components.types.artifacts import SYNTHETIC_RATIO_PROPERTY
from components.types.data_spec import read_data_spec

logger = logging.getLogger(__name__)



def load_augmentation_layer(policy_uri: str, seed: int):
    """An augment_ops layer from an AugmentationPolicy artifact (None when absent)."""
    from augment_ops import layers, policy  # Only when a policy is wired in.

    path = os.path.join(policy_uri, artifacts.POLICY_FILE_NAME)
    with open(path) as handle:
        loaded = policy.Policy.from_json(handle.read())
    return layers.AugmentationLayer(loaded, seed=seed)


def optional_single(input_dict: Dict[str, List[types.Artifact]], key: str) -> Optional[types.Artifact]:
    artifacts = input_dict.get(key) or []
    return artifacts[0] if artifacts else None


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


class Executor(base_executor.BaseExecutor):
    """Trains the configured model and writes the Model artifact."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        config = config_json.config_from_json(spec.TrainingConfig, exec_properties[spec.CONFIG_KEY])
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        data_spec = read_data_spec(artifact_utils.get_single_uri(input_dict[spec.DATA_SPEC_KEY]))
        policy = optional_single(input_dict, spec.AUGMENTATION_POLICY_KEY)
        augmentation = load_augmentation_layer(policy.uri, config.seed) if policy else None
        warm = optional_single(input_dict, spec.WARM_START_MODEL_KEY)
        warm_start = model_io.load_model(warm.uri) if warm else None

        synthetic_uris = [artifact.uri for artifact in input_dict.get(spec.SYNTHETIC_EXAMPLES_KEY) or []]
        config, ratio_source = ratio_from_blend_report(config, optional_single(input_dict, spec.BLEND_REPORT_KEY))
        model, history, metrics = training.train_classifier(
            examples.uri, data_spec, config, augmentation=augmentation, warm_start=warm_start,
            synthetic_uris=synthetic_uris,
        )
        model_artifact = artifact_utils.get_single_instance(output_dict[spec.MODEL_KEY])
        model_io.save_model_artifact(model, model_artifact.uri, history=history, metrics=metrics)
        model_io.record_metrics(model_artifact, metrics)
        model_artifact.set_string_custom_property("architecture", config.module_file or config.architecture)
        model_artifact.set_int_custom_property("epochs_trained", len(history.get("loss", [])))
        model_artifact.set_float_custom_property(SYNTHETIC_RATIO_PROPERTY, config.synthetic_ratio if synthetic_uris else 0.0)
        model_artifact.set_string_custom_property("synthetic_ratio_source", ratio_source if synthetic_uris else "")
        logger.info("Model written to %s", model_artifact.uri)
