"""Evaluation executor: artifact I/O around `evaluation.evaluate_model`."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.evaluation import blessing as blessing_lib
from components.evaluation import metrics as metric_names
from components.evaluation import plots, report
from components.evaluation import spec as keys
from components.evaluation.evaluation import evaluate_model
from components.training import model_io
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent, read_data_spec

# Same names and values as tfx.components.evaluator.constants, so Pusher,
# InfraValidator and tfx.dsl.Cond treat our blessing like Evaluator's
# (that module is not imported: it pulls in every TFX component and TFMA).
BLESSED_KEY = "blessed"
BLESSED_VALUE = 1
NOT_BLESSED_VALUE = 0
BLESSED_FILE_NAME = "BLESSED"
NOT_BLESSED_FILE_NAME = "NOT_BLESSED"
CURRENT_MODEL_URI_KEY = "current_model"
CURRENT_MODEL_ID_KEY = "current_model_id"
BASELINE_MODEL_URI_KEY = "baseline_model"
BASELINE_MODEL_ID_KEY = "baseline_model_id"
REASONS_KEY = "reasons"
BASELINE_PROPERTY_PREFIX = "baseline_"


def choose_split(requested: Optional[str], available: List[str], examples_uri: str) -> str:
    """The configured split, else 'test' when present, else 'eval'."""
    if requested:
        candidates = [requested]
    else:
        candidates = [features.TEST_SPLIT, features.EVAL_SPLIT]
    for split in candidates:
        if split in available:
            return split
    raise ValueError(
        f"Examples at {examples_uri} have splits {available}; none of {candidates} to evaluate "
        "(set EvaluationConfig.split)."
    )


def examples_splits(examples: types.Artifact) -> List[str]:
    """Split names from the artifact, or from its Split-* folders when unset."""
    if examples.split_names:
        return list(artifact_utils.decode_split_names(examples.split_names))
    prefix = examples_io.SPLIT_DIR_PREFIX
    folders = tf.io.gfile.listdir(examples.uri) if tf.io.gfile.isdir(examples.uri) else []
    return sorted(name.rstrip("/")[len(prefix) :] for name in folders if name.startswith(prefix))


def model_image_size(model, data_spec: DataSpecContent, model_uri: str) -> Tuple[int, int]:
    """The model's fixed input (height, width), else the DataSpec default."""
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4:
        raise ValueError(f"Model at {model_uri} must take one image input [B,H,W,C]; input_shape is {shape}.")
    channels = shape[3]
    if isinstance(channels, int) and channels != data_spec.channels:
        raise ValueError(
            f"Model at {model_uri} expects {channels} channels but the DataSpec says {data_spec.channels}."
        )
    height, width = shape[1], shape[2]
    if isinstance(height, int) and isinstance(width, int):
        return height, width
    return examples_io.default_image_size(data_spec)


def _write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def _write_bytes(path: str, data: bytes) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data)


def _write_json(path: str, content: Any) -> None:
    _write_text(path, json.dumps(report.json_ready(content), indent=2, sort_keys=True))


def set_metric_properties(artifact: types.Artifact, metrics: Dict[str, float], prefix: str = "") -> None:
    """Scalar metrics as float MLMD custom properties (NaN ones are skipped and logged)."""
    for name, value in metrics.items():
        if value is None or not math.isfinite(value):
            logging.warning("Metric %s%s is undefined (%s); not recorded in MLMD.", prefix, name, value)
            continue
        artifact.set_float_custom_property(f"{prefix}{name}", float(value))


class Executor(base_executor.BaseExecutor):
    """Evaluates `model` (and `baseline_model`) and writes evaluation + blessing."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        config = keys.EvaluationConfig.from_json(exec_properties[keys.CONFIG_KEY])
        examples = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
        data_spec = read_data_spec(artifact_utils.get_single_uri(input_dict[keys.DATA_SPEC_KEY]))
        split = choose_split(config.split, examples_splits(examples), examples.uri)
        model = artifact_utils.get_single_instance(input_dict[keys.MODEL_KEY])
        baselines = input_dict.get(keys.BASELINE_MODEL_KEY) or []
        baseline = baselines[0] if baselines else None
        logging.info("Evaluating %s on split %r of %s.", model.uri, split, examples.uri)

        result = self._evaluate(model.uri, examples.uri, split, data_spec, config, "candidate model")
        baseline_result = None
        if baseline is not None:
            baseline_result = self._evaluate(baseline.uri, examples.uri, split, data_spec, config, "baseline model")
        decision = blessing_lib.decide_blessing(
            result["metrics"],
            config.thresholds,
            config.min_improvement_over_baseline,
            baseline_result["metrics"] if baseline_result else None,
        )
        logging.info("Blessing: %s. %s", decision.blessed, decision.reasons)

        evaluation = artifact_utils.get_single_instance(output_dict[keys.EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[keys.BLESSING_KEY])
        baseline_uri = baseline.uri if baseline is not None else None
        self._write_evaluation(evaluation.uri, result, decision, split, model.uri, baseline_uri, baseline_result)
        self._record_evaluation(evaluation, result, decision, split, baseline_result)
        self._write_blessing(blessing, decision, result, model, baseline)

    def _evaluate(
        self,
        model_uri: str,
        examples_uri: str,
        split: str,
        data_spec: DataSpecContent,
        config: keys.EvaluationConfig,
        name: str,
    ) -> Dict[str, Any]:
        model = model_io.load_model(model_uri)
        image_size = model_image_size(model, data_spec, model_uri)
        dataset = examples_io.load_split(examples_uri, split, data_spec, config.batch_size, image_size=image_size)
        return evaluate_model(
            model,
            dataset,
            data_spec.class_names,
            data_spec.task,
            top_k=config.top_k,
            ece_bins=config.ece_bins,
            log_every_n_batches=config.log_every_n_batches,
            total_examples=data_spec.split_count(split) or None,
            name=name,
        )

    def _write_evaluation(self, uri, result, decision, split, model_uri, baseline_uri, baseline_result):
        tf.io.gfile.makedirs(uri)
        _write_json(os.path.join(uri, keys.METRICS_FILE_NAME), dict(result, split=split, model_uri=model_uri))
        _write_json(os.path.join(uri, keys.BLESSING_FILE_NAME), decision.to_dict())
        comparison = None
        if baseline_result is not None:
            comparison = report.compare(result["metrics"], baseline_result["metrics"])
            _write_json(
                os.path.join(uri, keys.BASELINE_METRICS_FILE_NAME),
                dict(baseline_result, split=split, model_uri=baseline_uri),
            )
            _write_json(os.path.join(uri, keys.COMPARISON_FILE_NAME), comparison)
        if result["task"] == features.TASK_MULTILABEL:
            confusion_png = plots.multilabel_confusion_png(result["confusion_matrix"], result["class_names"])
        else:
            confusion_png = plots.confusion_matrix_png(result["confusion_matrix"], result["class_names"])
        _write_bytes(os.path.join(uri, keys.CONFUSION_MATRIX_FILE_NAME), confusion_png)
        ece = result["metrics"][metric_names.EXPECTED_CALIBRATION_ERROR]
        _write_bytes(
            os.path.join(uri, keys.RELIABILITY_DIAGRAM_FILE_NAME),
            plots.reliability_diagram_png(result["reliability"], ece),
        )
        markdown = report.summary_markdown(result, decision, split, model_uri, comparison, baseline_uri)
        _write_text(os.path.join(uri, keys.SUMMARY_FILE_NAME), markdown)
        logging.info("Evaluation report written to %s.", uri)

    def _record_evaluation(self, evaluation, result, decision, split, baseline_result):
        set_metric_properties(evaluation, result["metrics"])
        if baseline_result is not None:
            set_metric_properties(evaluation, baseline_result["metrics"], prefix=BASELINE_PROPERTY_PREFIX)
        evaluation.set_string_custom_property("split", split)
        evaluation.set_int_custom_property("num_examples", result["num_examples"])
        evaluation.set_int_custom_property(BLESSED_KEY, BLESSED_VALUE if decision.blessed else NOT_BLESSED_VALUE)

    def _write_blessing(self, blessing, decision, result, model, baseline):
        tf.io.gfile.makedirs(blessing.uri)
        file_name = BLESSED_FILE_NAME if decision.blessed else NOT_BLESSED_FILE_NAME
        _write_text(os.path.join(blessing.uri, file_name), "")
        blessing.set_int_custom_property(BLESSED_KEY, BLESSED_VALUE if decision.blessed else NOT_BLESSED_VALUE)
        blessing.set_string_custom_property(REASONS_KEY, decision.reasons)
        blessing.set_string_custom_property(CURRENT_MODEL_URI_KEY, model.uri)
        blessing.set_int_custom_property(CURRENT_MODEL_ID_KEY, model.id)
        if baseline is not None:
            blessing.set_string_custom_property(BASELINE_MODEL_URI_KEY, baseline.uri)
            blessing.set_int_custom_property(BASELINE_MODEL_ID_KEY, baseline.id)
        set_metric_properties(blessing, result["metrics"])
        logging.info("Blessing %s written to %s.", file_name, blessing.uri)
