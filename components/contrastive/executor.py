"""Contrastive pretraining executor: artifact I/O around `contrastive.pretrain_backbone`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List

from tfx import types

from components.common import model_io
from components.common.artifact_io import write_json
from components.common.augmentation import load_augmentation_layer
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.contrastive import backbone, contrastive, spec

logger = logging.getLogger(__name__)


class Executor(ComponentExecutor):
    """Pretrains the backbone and writes it as a Model artifact (a warm start for Training)."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.ContrastiveConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        policy = self.optional(input_dict, spec.AUGMENTATION_POLICY_KEY)
        views = load_augmentation_layer(policy.uri, config.seed, consumer="Contrastive") if policy else None

        backbone.reset_layer_names()
        model, history, metrics = contrastive.pretrain_backbone(examples.uri, data_spec, config, views)
        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        model_io.save_model_artifact(model, model_artifact.uri, history=history, metrics=metrics)
        record_metrics(model_artifact, metrics)
        model_artifact.set_string_custom_property("method", config.method)
        model_artifact.set_string_custom_property("architecture", config.module_file or config.architecture)
        model_artifact.set_string_custom_property("pretrained_on_splits", ",".join(config.pretrain_splits))
        write_json(
            os.path.join(model_artifact.uri, spec.SUMMARY_FILE_NAME),
            {"config": dataclasses.asdict(config), "metrics": metrics, "history": history,
             "examples": examples.uri, "augmentation_policy": policy.uri if policy else None},
        )
        backbone.reset_layer_names()  # The next in-process component builds with fresh layer names.
        logger.info("Pretrained backbone written to %s: %s", model_artifact.uri, metrics)
