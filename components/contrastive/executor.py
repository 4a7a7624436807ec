"""Contrastive pretraining executor: artifact I/O around `contrastive.pretrain_backbone`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.contrastive import backbone, contrastive, spec
from components.training import model_io
from components.training.executor import load_augmentation_layer, optional_single
from components.types import config_json
from components.types.data_spec import read_data_spec

logger = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    """Pretrains the backbone and writes it as a Model artifact (a warm start for Training)."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        config = config_json.config_from_json(spec.ContrastiveConfig, exec_properties[spec.CONFIG_KEY])
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        data_spec = read_data_spec(artifact_utils.get_single_uri(input_dict[spec.DATA_SPEC_KEY]))
        policy = optional_single(input_dict, spec.AUGMENTATION_POLICY_KEY)
        views = load_augmentation_layer(policy.uri, config.seed) if policy else None

        backbone.reset_layer_names()
        model, history, metrics = contrastive.pretrain_backbone(examples.uri, data_spec, config, views)
        model_artifact = artifact_utils.get_single_instance(output_dict[spec.MODEL_KEY])
        model_io.save_model_artifact(model, model_artifact.uri, history=history, metrics=metrics)
        model_io.record_metrics(model_artifact, metrics)
        model_artifact.set_string_custom_property("method", config.method)
        model_artifact.set_string_custom_property("architecture", config.module_file or config.architecture)
        model_artifact.set_string_custom_property("pretrained_on_splits", ",".join(config.pretrain_splits))
        model_io.write_json(
            os.path.join(model_artifact.uri, spec.SUMMARY_FILE_NAME),
            {"config": dataclasses.asdict(config), "metrics": metrics, "history": history,
             "examples": examples.uri, "augmentation_policy": policy.uri if policy else None},
        )
        backbone.reset_layer_names()  # The next in-process component builds with fresh layer names.
        logger.info("Pretrained backbone written to %s: %s", model_artifact.uri, metrics)
