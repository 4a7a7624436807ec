"""Export executor: artifact I/O around `export.export_formats`."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from tfx import types

from components.common import model_io
from components.common.artifact_io import write_json
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.common.splits import choose_split, examples_splits, model_image_size
from components.export import export
from components.export import spec as keys
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


def load_images(
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    image_size: Tuple[int, int],
    limit: int,
    seed: int,
    batch_size: int,
) -> Tuple[np.ndarray, np.ndarray]:
    """Up to `limit` (0 = all) images `[N,H,W,C]` and labels of a split, in a seeded shuffled order."""
    dataset = examples_io.load_split(
        examples_uri, split, data_spec, batch_size=batch_size, image_size=image_size, shuffle=limit > 0, seed=seed
    )
    images: List[np.ndarray] = []
    labels: List[np.ndarray] = []
    count = 0
    for batch_images, batch_labels in dataset.as_numpy_iterator():
        images.append(batch_images)
        labels.append(batch_labels)
        count += len(batch_images)
        if limit and count >= limit:
            break
    if not images:
        raise ValueError(f"Split {split!r} of {examples_uri} has no examples to export with.")
    end = limit or count
    return np.concatenate(images)[:end], np.concatenate(labels)[:end]


class Executor(ComponentExecutor):
    """Writes the configured formats, checks each against the Keras model, records parity in MLMD."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, keys.ExportConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        if data_spec.task not in (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL):
            raise ValueError(f"Export checks classifiers (probabilities out); the DataSpec's task is {data_spec.task!r}.")
        model_uri = self.single(input_dict, keys.MODEL_KEY).uri
        available = examples_splits(examples)
        check_split = choose_split(config.check_split, available, examples.uri)
        representative: Optional[np.ndarray] = None
        if export.TFLITE_INT8 in config.formats and config.representative_split not in available:
            raise ValueError(
                f"Examples at {examples.uri} have splits {available}; no representative_split "
                f"{config.representative_split!r} for tflite_int8 calibration."
            )

        model = model_io.load_model(model_uri)
        image_size = model_image_size(model, data_spec, model_uri)
        check_images, check_labels = load_images(
            examples.uri, check_split, data_spec, image_size, config.check_examples, config.seed, config.batch_size
        )
        if export.TFLITE_INT8 in config.formats:
            representative, _ = load_images(
                examples.uri, config.representative_split, data_spec, image_size, config.representative_examples,
                config.seed + 1, config.batch_size,
            )

        output = self.single(output_dict, keys.EXPORTED_MODEL_KEY)
        tf.io.gfile.makedirs(output.uri)
        # The Keras model travels along, so the exported artifact is a complete Model artifact for later components.
        tf.io.gfile.copy(model_io.keras_path(model_uri), model_io.keras_path(output.uri), overwrite=True)
        if model_io.is_trusted_code(model_uri):
            model_io.mark_trusted_code(output.uri)
        results = export.export_formats(
            model, config.formats, output.uri, check_images, check_labels, data_spec.task,
            representative_images=representative, onnx_opset=config.onnx_opset, batch_size=config.batch_size,
        )
        passed = {
            name: export.within_tolerance(name, result, config.float_tolerance, config.int8_max_accuracy_drop)
            for name, result in results.items()
        }
        report = {
            "source_model": model_uri,
            "check_split": check_split,
            "check_examples": int(len(check_images)),
            "representative_split": config.representative_split if representative is not None else None,
            "representative_examples": int(len(representative)) if representative is not None else 0,
            "float_tolerance": config.float_tolerance,
            "int8_max_accuracy_drop": config.int8_max_accuracy_drop,
            "formats": {name: {**result, "within_tolerance": passed[name]} for name, result in results.items()},
            "parity_ok": all(passed.values()),
        }
        write_json(os.path.join(output.uri, keys.REPORT_FILE_NAME), report)
        for name, result in results.items():
            record_metrics(output, {key: value for key, value in result.items() if key != "file"}, prefix=f"{name}_")
        output.set_string_custom_property(keys.FORMATS_PROPERTY, ",".join(config.formats))
        output.set_int_custom_property(keys.PARITY_OK_PROPERTY, int(report["parity_ok"]))
        logger.info("Export written to %s; parity %s", output.uri, passed)
        failed = sorted(name for name, ok in passed.items() if not ok)
        if failed:
            message = (
                f"Export parity missed its tolerance for {failed} (float max |p diff| <= {config.float_tolerance}, "
                f"int8 accuracy drop <= {config.int8_max_accuracy_drop}); see {keys.REPORT_FILE_NAME} in {output.uri}."
            )
            if config.fail_on_parity:
                raise ValueError(message)
            logger.warning(message)
