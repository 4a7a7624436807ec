"""Domain adaptation executor: artifact I/O around `domain_adaptation.adapt`."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from typing import Any, Dict, List

from tfx import types
from tfx.types import artifact_utils

from components.common import model_io
from components.common.artifact_io import write_json
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.contrastive import backbone
from components.domain_adaptation import domain_adaptation, spec
from components.pseudo_labels import labeling, selection
from components.types import features
from components.types.data_spec import read_data_spec

logger = logging.getLogger(__name__)


def check_same_classes(source, target, target_uri: str) -> None:
    """A labeled target must name the source's classes in order; an unlabeled-only target (no classes) may not."""
    if target is not None and target.class_names and list(target.class_names) != list(source.class_names):
        raise ValueError(
            f"Target DataSpec at {target_uri} has classes {target.class_names}, but the source has "
            f"{source.class_names}; domain adaptation needs the same classes in the same order."
        )


class Executor(ComponentExecutor):
    """Adapts the source model to the target domain; writes the picked model with every method's scores."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.DomainAdaptationConfig, examples_key=None)
        config, data_spec = inputs.config, inputs.data_spec
        source = self.single(input_dict, spec.SOURCE_EXAMPLES_KEY)
        target = self.single(input_dict, spec.TARGET_EXAMPLES_KEY)
        target_spec_artifact = self.optional(input_dict, spec.TARGET_DATA_SPEC_KEY)
        if target_spec_artifact is not None:
            check_same_classes(data_spec, read_data_spec(target_spec_artifact.uri), target_spec_artifact.uri)
        source_model_artifact = self.optional(input_dict, spec.SOURCE_MODEL_KEY)

        backbone.reset_layer_names()
        source_model = model_io.load_model(source_model_artifact.uri) if source_model_artifact else None
        model, results, picked = domain_adaptation.adapt(source.uri, target.uri, data_spec, config, source_model)

        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        metrics = {}
        for result in results:
            if result.validation_accuracy is not None:
                metrics[f"target_validation_accuracy_{result.method}"] = result.validation_accuracy
            if result.test_accuracy is not None:
                metrics[f"target_test_accuracy_{result.method}"] = result.test_accuracy
        model_io.save_model_artifact(model, model_artifact.uri, metrics=metrics)
        record_metrics(model_artifact, metrics)
        model_artifact.set_string_custom_property(spec.BEST_METHOD, picked)
        model_artifact.set_int_custom_property("picked_on_validation", int(any(
            result.validation_accuracy is not None for result in results)))
        write_json(
            os.path.join(model_artifact.uri, spec.SUMMARY_FILE_NAME),
            {"config": dataclasses.asdict(config), "best_method": picked,
             "results": [dataclasses.asdict(result) for result in results],
             "source_examples": source.uri, "target_examples": target.uri,
             "source_model": source_model_artifact.uri if source_model_artifact else None},
        )
        pseudo_artifact = self.single(output_dict, spec.PSEUDO_LABELS_KEY)
        write_target_pseudo_labels(model, target.uri, data_spec, config, pseudo_artifact, model_artifact.uri, picked)
        backbone.reset_layer_names()
        logger.info("domain adaptation: picked %s; model written to %s", picked, model_artifact.uri)


def write_target_pseudo_labels(model, target_uri, data_spec, config, artifact: types.Artifact, model_id: str, method: str) -> int:
    """The picked model's confident predictions on the target's unlabeled split, as labeled Examples.

    Same threshold and class balancing as self-training; each record keeps
    its source id and gets provenance (kind pseudo_label, the model's URI,
    its confidence), so a later Training on target data can use and audit it.
    """
    split = config.target_unlabeled_split
    with tempfile.TemporaryDirectory() as progress_dir:  # one pass: nothing to resume
        predictions = labeling.predict_split(
            model, target_uri, split, data_spec, backbone.image_shape(model)[:2], progress_dir, model_id=model_id
        )
    chosen = selection.select_pseudo_labels(
        predictions.probabilities, config.confidence_threshold, selection.HARD, config.balance_classes
    )
    written = labeling.write_pseudo_labels(
        target_uri, split, predictions, chosen, artifact.uri, features.TRAIN_SPLIT, teacher_id=model_id
    )
    artifact.split_names = artifact_utils.encode_split_names([features.TRAIN_SPLIT])
    artifact.set_int_custom_property("pseudo_labels", written)
    artifact.set_int_custom_property("target_records", len(predictions.source_ids))
    artifact.set_string_custom_property("teacher", model_id)
    artifact.set_string_custom_property("method", method)
    artifact.set_float_custom_property("confidence_threshold", config.confidence_threshold)
    logger.info("domain adaptation: %d pseudo-labels of %d target records written to %s", written,
                len(predictions.source_ids), artifact.uri)
    return written
