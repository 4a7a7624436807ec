"""Calibration executor: artifact I/O around `calibration.fit_calibration`."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional

import numpy as np
from tfx import types

from components.calibration import calibration, held_out, layers
from components.calibration import spec as keys
from components.common import model_io
from components.common.artifact_io import write_bytes
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics, record_run_decision
from components.common.splits import examples_splits
from components.evaluation import metrics as metric_names
from components.evaluation import plots
from components.types import features

logger = logging.getLogger(__name__)
UNCALIBRATED_PREFIX = "uncalibrated_"


def report_split(config: keys.CalibrationConfig, available: List[str], examples_uri: str) -> str:
    """The configured report split, else `test` when present, else the fit split."""
    for split in (config.fit_split, config.report_split):
        if split is not None and split not in available:
            raise ValueError(
                f"Examples at {examples_uri} have splits {available}; no {split!r} split to calibrate with."
            )
    if config.report_split:
        return config.report_split
    return features.TEST_SPLIT if features.TEST_SPLIT in available else config.fit_split


def reused_parameters(source: types.Artifact, prior) -> calibration.CalibrationParameters:
    """The temperature and prior weight an earlier Calibration fitted (its MLMD properties).

    Raises:
      ValueError: when `source` is not a Calibration output.
    """
    if not source.has_custom_property("temperature"):
        raise ValueError(f"parameters_from {source.uri} has no 'temperature' property: wire a Calibration output.")
    weight = float(source.get_float_custom_property("prior_weight")) if source.has_custom_property("prior_weight") else 0.0
    return calibration.CalibrationParameters(
        float(source.get_float_custom_property("temperature")), prior if weight else None, weight
    )


def out_of_fold_check(labels, probabilities, config, prior) -> Optional[Dict[str, Any]]:
    """Whether the fitted calibration lowers NLL out of fold beyond the noise (None when config.check_folds is 0).

    Fitting and judging the parameters on the same images always looks like a gain; with ~100 eval images a
    temperature near 1 can raise the test calibration error. So each fold is calibrated by parameters fitted on
    the others, and the per-image NLL gains get a one-sided 95% paired bootstrap lower bound.
    """
    from components.common.paired_stats import paired_bootstrap

    if not config.check_folds or len(labels) < 2 * config.check_folds:
        return None
    gain = calibration.out_of_fold_nll_gain(labels, probabilities, config.method, prior, config.check_folds,
                                            config.seed)
    bound = paired_bootstrap(np.zeros_like(gain), gain, seed=config.seed)
    kept = bound["low"] > 0
    text = (f"out-of-fold NLL change {-bound['delta']:+.4f} per image over {config.check_folds} folds, "
            f"[{-bound['high']:+.4f}, {-bound['low']:+.4f}]: "
            + ("lower beyond the noise" if kept else "not lower beyond the noise"))
    return {"kept": kept, "delta": bound["delta"], "low": bound["low"], "high": bound["high"], "text": text}


class Executor(ComponentExecutor):
    """Fits calibration on the held-out split and writes the calibrated Model artifact."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, keys.CalibrationConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        model_uri = self.single(input_dict, keys.MODEL_KEY).uri
        if data_spec.task != features.TASK_CLASSIFICATION:
            raise ValueError(
                f"Calibration supports single-label classification; the DataSpec's task is {data_spec.task!r}."
            )
        shown_split = report_split(config, examples_splits(examples), examples.uri)

        model = held_out.load_model(model_uri)
        fit_labels, fit_probabilities = held_out.predictions(
            model, examples.uri, config.fit_split, data_spec, config.batch_size, name=f"uncalibrated {model_uri}"
        )
        prior = calibration.class_prior(data_spec, config.prior) if config.method != calibration.TEMPERATURE else None
        source = self.optional(input_dict, keys.PARAMETERS_FROM_KEY)
        check = None
        if source is not None:  # fitted before a refit, on images the refitted model has since trained on
            parameters = reused_parameters(source, prior)
            logger.info("Calibration parameters reused from %s: %s", source.uri, parameters)
        else:
            parameters = calibration.fit_calibration(fit_labels, fit_probabilities, config.method, prior)
            logger.info("Calibration fitted on %r: %s", config.fit_split, parameters)
            check = out_of_fold_check(fit_labels, fit_probabilities, config, prior)
            if check is not None and not check["kept"]:
                logger.info("Calibration not kept: %s", check["text"])
                parameters = calibration.CalibrationParameters(1.0)
        splits = {config.fit_split: (fit_labels, fit_probabilities)}
        if shown_split != config.fit_split:
            splits[shown_split] = held_out.predictions(model, examples.uri, shown_split, data_spec, config.batch_size)
        results = {
            split: calibration.before_after(labels, probabilities, parameters, data_spec.class_names, config.ece_bins)
            for split, (labels, probabilities) in splits.items()
        }

        calibrated = layers.calibrated_model(model, parameters.temperature, parameters.prior, parameters.prior_weight)
        output = self.single(output_dict, keys.CALIBRATED_MODEL_KEY)
        flat_metrics = {
            f"{split}_{name}": value
            for split, result in results.items()
            for name, value in result["after"]["metrics"].items()
        }
        model_io.save_model_artifact(calibrated, output.uri, metrics=flat_metrics)
        self._write_plots(output.uri, results[shown_split])
        self._record(output, config, parameters, results, shown_split, model_uri, fitted_here=source is None,
                     check=check)
        output.set_string_custom_property("parameters_from", source.uri if source is not None else "")
        logger.info("Calibrated model written to %s", output.uri)

    def _write_plots(self, uri: str, result: Dict[str, Any]) -> None:
        files = {"before": keys.RELIABILITY_BEFORE_FILE_NAME, "after": keys.RELIABILITY_AFTER_FILE_NAME}
        for stage, file_name in files.items():
            ece = result[stage]["metrics"][metric_names.EXPECTED_CALIBRATION_ERROR]
            png = plots.reliability_diagram_png(result[stage]["reliability"], ece)
            write_bytes(os.path.join(uri, file_name), png)

    def _record(self, output, config, parameters, results, shown_split, model_uri, fitted_here: bool,
                check=None) -> None:
        for split, result in results.items():
            record_metrics(output, result["after"]["metrics"], prefix=f"{split}_")
            record_metrics(output, result["before"]["metrics"], prefix=f"{UNCALIBRATED_PREFIX}{split}_")
        shown = results[shown_split]
        ece = metric_names.EXPECTED_CALIBRATION_ERROR
        ece_reduction = calibration.relative_reduction(shown["before"]["metrics"][ece], shown["after"]["metrics"][ece])
        output.set_float_custom_property("temperature", parameters.temperature)
        output.set_float_custom_property("prior_weight", parameters.prior_weight)
        record_metrics(output, {"ece_reduction": ece_reduction})
        if fitted_here:  # a refitted model reuses these parameters: one decision, recorded where it was made
            checked = f"; {check['text']}" if check else ""
            if check and not check["kept"]:
                text = f"no calibration ({config.method} fitted on {config.fit_split}{checked}: kept uncalibrated)"
            else:
                text = (f"temperature {parameters.temperature:.3g} fitted on {config.fit_split} ({config.method}"
                        f"{checked}): expected calibration error on {shown_split} "
                        f"{shown['before']['metrics'][ece]:.4f} -> {shown['after']['metrics'][ece]:.4f}")
            record_run_decision(output, text)
        if check:
            output.set_int_custom_property("calibration_kept", int(check["kept"]))
        for name, value in (("method", config.method), ("prior", config.prior), ("fit_split", config.fit_split),
                            ("report_split", shown_split), ("architecture", "calibrated")):
            output.set_string_custom_property(name, value)
        summary = {
            "method": config.method,
            "prior": parameters.prior,
            "prior_kind": config.prior,
            "temperature": parameters.temperature,
            "prior_weight": parameters.prior_weight,
            "fit_split": config.fit_split,
            "report_split": shown_split,
            "ece_reduction": ece_reduction,
            "source_model": model_uri,
            "splits": {
                split: {stage: held_out.headline(result[stage]["metrics"]) for stage in ("before", "after")}
                for split, result in results.items()
            },
        }
        body = [
            f"- method: `{config.method}` (prior: {config.prior}), fitted on `{config.fit_split}`",
            f"- temperature: {parameters.temperature:.4f}, prior weight: {parameters.prior_weight:.4f}",
            f"- ECE on `{shown_split}`: {shown['before']['metrics'][ece]:.4f} -> {shown['after']['metrics'][ece]:.4f} "
            f"({100 * ece_reduction:.1f}% reduction)",
            f"- source model: `{model_uri}`",
        ]
        if shown_split == config.fit_split:
            body.append(f"- note: reported on the split it was fitted on (`{shown_split}`): optimistic numbers.")
        for split, result in results.items():
            body += ["", f"## `{split}`", ""]
            body += held_out.metrics_table({"before": result["before"]["metrics"], "after": result["after"]["metrics"]})
        body += ["", f"Reliability diagrams: {keys.RELIABILITY_BEFORE_FILE_NAME}, {keys.RELIABILITY_AFTER_FILE_NAME}."]
        held_out.write_summary(output.uri, "Calibration", summary, body)
