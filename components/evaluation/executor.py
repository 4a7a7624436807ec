"""Evaluation executor: artifact I/O around `evaluation.evaluate_model`."""

from __future__ import annotations

import os
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types

from components.common import model_io
from components.common.artifact_io import write_bytes, write_json, write_text
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.common.splits import choose_split, examples_splits, model_image_size  # noqa: F401 (re-exported)
from components.evaluation import blessing as blessing_lib
from components.evaluation import metrics as metric_names
from components.evaluation import plots, report
from components.evaluation import spec as keys
from components.evaluation import task_evaluation
from components.evaluation.evaluation import evaluate_model
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

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
RULE_KEY = "blessing_rule"
BASELINE_PROPERTY_PREFIX = "baseline_"


class Executor(ComponentExecutor):
    """Evaluates `model` (and `baseline_model`) and writes evaluation + blessing."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, keys.EvaluationConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        split = choose_split(config.split, examples_splits(examples), examples.uri)
        model = self.single(input_dict, keys.MODEL_KEY)
        baseline = self.optional(input_dict, keys.BASELINE_MODEL_KEY)
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
            trivial_stats=result.get("trivial_baselines"),
            beat_trivial_baselines=config.beat_trivial_baselines,
            confidence=config.blessing_confidence,
        )
        logging.info("Blessing: %s (rule: %s). %s", decision.blessed, decision.rule, decision.reasons)

        evaluation = self.single(output_dict, keys.EVALUATION_KEY)
        blessing = self.single(output_dict, keys.BLESSING_KEY)
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
        if data_spec.task in task_evaluation.TASKS:  # Detection / segmentation: COCO mAP, IoU (task_evaluation.py).
            return task_evaluation.evaluate_task_model(model_uri, examples_uri, split, data_spec, config.batch_size, name)
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
        if result["task"] in task_evaluation.TASKS:
            return task_evaluation.write_task_evaluation(uri, result, decision, split, model_uri, baseline_uri, baseline_result)
        tf.io.gfile.makedirs(uri)
        write_json(os.path.join(uri, keys.METRICS_FILE_NAME), dict(result, split=split, model_uri=model_uri))
        write_json(os.path.join(uri, keys.BLESSING_FILE_NAME), decision.to_dict())
        comparison = None
        if baseline_result is not None:
            comparison = report.compare(result["metrics"], baseline_result["metrics"])
            write_json(
                os.path.join(uri, keys.BASELINE_METRICS_FILE_NAME),
                dict(baseline_result, split=split, model_uri=baseline_uri),
            )
            write_json(os.path.join(uri, keys.COMPARISON_FILE_NAME), comparison)
        if result["task"] == features.TASK_MULTILABEL:
            confusion_png = plots.multilabel_confusion_png(result["confusion_matrix"], result["class_names"])
        else:
            confusion_png = plots.confusion_matrix_png(result["confusion_matrix"], result["class_names"])
        write_bytes(os.path.join(uri, keys.CONFUSION_MATRIX_FILE_NAME), confusion_png)
        ece = result["metrics"][metric_names.EXPECTED_CALIBRATION_ERROR]
        write_bytes(
            os.path.join(uri, keys.RELIABILITY_DIAGRAM_FILE_NAME),
            plots.reliability_diagram_png(result["reliability"], ece),
        )
        markdown = report.summary_markdown(result, decision, split, model_uri, comparison, baseline_uri)
        write_text(os.path.join(uri, keys.SUMMARY_FILE_NAME), markdown)
        logging.info("Evaluation report written to %s.", uri)

    def _record_evaluation(self, evaluation, result, decision, split, baseline_result):
        record_metrics(evaluation, result["metrics"])
        if baseline_result is not None:
            record_metrics(evaluation, baseline_result["metrics"], prefix=BASELINE_PROPERTY_PREFIX)
        evaluation.set_string_custom_property("split", split)
        evaluation.set_int_custom_property("num_examples", result["num_examples"])
        evaluation.set_int_custom_property(BLESSED_KEY, BLESSED_VALUE if decision.blessed else NOT_BLESSED_VALUE)

    def _write_blessing(self, blessing, decision, result, model, baseline):
        tf.io.gfile.makedirs(blessing.uri)
        file_name = BLESSED_FILE_NAME if decision.blessed else NOT_BLESSED_FILE_NAME
        write_text(os.path.join(blessing.uri, file_name), "")
        blessing.set_int_custom_property(BLESSED_KEY, BLESSED_VALUE if decision.blessed else NOT_BLESSED_VALUE)
        blessing.set_string_custom_property(REASONS_KEY, decision.reasons)
        blessing.set_string_custom_property(RULE_KEY, decision.rule)
        blessing.set_string_custom_property(CURRENT_MODEL_URI_KEY, model.uri)
        blessing.set_int_custom_property(CURRENT_MODEL_ID_KEY, model.id)
        if baseline is not None:
            blessing.set_string_custom_property(BASELINE_MODEL_URI_KEY, baseline.uri)
            blessing.set_int_custom_property(BASELINE_MODEL_ID_KEY, baseline.id)
        record_metrics(blessing, result["metrics"])
        logging.info("Blessing %s written to %s.", file_name, blessing.uri)
