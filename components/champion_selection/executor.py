"""ChampionSelection executor: predictions of each candidate on one split, then `selection.select_champion`."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Tuple

import numpy as np

from tfx import types

from components.calibration import held_out
from components.champion_selection import selection
from components.champion_selection import spec as keys
from components.common import artifact_io, model_io
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import RUN_DECISION
from components.common.splits import examples_splits

logger = logging.getLogger(__name__)
SCORED_TASKS = ("classification", "multilabel")
DENSE_TASKS = ("detection", "segmentation")  # scored by corpus metrics (mAP, mean IoU) under image resampling


class Executor(ComponentExecutor):
    """Scores every wired candidate on the same split and copies the champion to the output Model."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict, exec_properties: Dict[str, Any]) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, keys.SelectionConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        wired = [(name, self.optional(input_dict, key)) for name, key in zip(config.candidate_names, keys.CANDIDATE_KEYS)]
        present = [(name, artifact) for name, artifact in wired if artifact is not None]
        missing = [name for name, artifact in wired if artifact is None]
        if missing:
            logger.warning("Candidates without a model (skipped upstream): %s", missing)
        if not present:
            raise ValueError(f"ChampionSelection got no candidate model (expected {list(config.candidate_names)}).")
        names = [name for name, _ in present]
        uris = [artifact.uri for _, artifact in present]
        if data_spec.task in SCORED_TASKS and config.split in examples_splits(examples):
            scores, brier = [], []
            for name, uri in zip(names, uris):
                labels, probabilities = held_out.predictions(
                    model_io.load_model(uri), examples.uri, config.split, data_spec, config.batch_size, name=name
                )
                scores.append(selection.per_example_scores(labels, probabilities, data_spec.task))
                brier.append(selection.per_example_brier(labels, probabilities, data_spec.task))
            result = selection.select_champion(names, scores, config.num_resamples, config.seed, config.confidence,
                                               uris=uris, proper_scores=brier if config.use_brier else None)
            metric = "accuracy" if data_spec.task == "classification" else "label_accuracy"
        elif data_spec.task in DENSE_TASKS and config.split in examples_splits(examples):
            result, metric = select_dense(names, uris, examples.uri, data_spec, config)
        else:
            reason = (f"task {data_spec.task} is not scored here" if data_spec.task not in SCORED_TASKS + DENSE_TASKS
                      else f"no {config.split!r} split to compare on")
            if len(present) > 1:
                logger.warning("%s: keeping the simplest candidate %s", reason, names[0])
            result = selection.SelectionResult(names[0], [{"name": n, "model_uri": u} for n, u in zip(names, uris)], [])
            metric = ""
        champion_index = names.index(result.champion)
        model_out = self.single(output_dict, keys.MODEL_KEY)
        artifact_io.copy_tree(uris[champion_index], model_out.uri)
        self._record(model_out, present[champion_index][1], result, champion_index)
        report = self.single(output_dict, keys.SELECTION_KEY)
        payload = dict(result.to_dict(), metric=metric, split=config.split, confidence=config.confidence,
                       num_resamples=config.num_resamples, missing=missing,
                       use_brier=config.use_brier and data_spec.task in SCORED_TASKS,
                       refit="decided after selection (Refit, when planned, reruns the champion's recipe on train + eval)")
        artifact_io.write_json(os.path.join(report.uri, keys.SELECTION_FILE_NAME), payload)
        artifact_io.write_text(os.path.join(report.uri, keys.SUMMARY_FILE_NAME), "\n".join(summary_lines(payload)) + "\n")
        report.set_string_custom_property(keys.CHAMPION_PROPERTY, result.champion)
        for line in summary_lines(payload):
            logger.info(line)

    @staticmethod
    def _record(model_out, champion_artifact, result, champion_index) -> None:
        for name, value in champion_artifact.mlmd_artifact.custom_properties.items():
            if name == RUN_DECISION:  # the trainer's decision, not selection's (lineage.run_decisions credits it)
                continue
            if value.HasField("double_value"):
                model_out.set_float_custom_property(name, value.double_value)
            elif value.HasField("string_value"):
                model_out.set_string_custom_property(name, value.string_value)
            elif value.HasField("int_value"):
                model_out.set_int_custom_property(name, value.int_value)
        model_out.set_string_custom_property(keys.CHAMPION_PROPERTY, result.champion)
        candidate = result.candidates[champion_index]
        if "metric" in candidate:
            model_out.set_float_custom_property(keys.CHAMPION_METRIC_PROPERTY, candidate["metric"])
            model_out.set_float_custom_property(keys.CHAMPION_LOW_PROPERTY, candidate["interval"][0])
            model_out.set_float_custom_property(keys.CHAMPION_HIGH_PROPERTY, candidate["interval"][1])


def select_dense(names, uris, examples_uri: str, data_spec, config) -> Tuple[selection.SelectionResult, str]:
    """(selection, metric) for detection / segmentation: every candidate scored on the same image resamples."""
    from components.evaluation import resampled_metrics, task_evaluation

    full, resampled, metric, num_images, counts = [], [], "", 0, None
    for name, uri in zip(names, uris):
        metric, num_images, scorer = task_evaluation.held_out_scorer(
            uri, examples_uri, config.split, data_spec, config.batch_size)
        if counts is None:
            counts = resampled_metrics.bootstrap_counts(num_images, config.num_resamples, config.seed)
        full.append(float(scorer(np.ones((1, num_images)))[0]))
        resampled.append(scorer(counts))
        logger.info("%s: %s %.4f on %d %s images", name, metric, full[-1], num_images, config.split)
    result = selection.select_champion_resampled(names, resampled, full, metric, config.confidence, uris=uris,
                                                 num_images=num_images)
    return result, metric


def summary_lines(payload: Dict[str, Any]) -> List[str]:
    """The selection as people read it (selection.md and the log)."""
    lines = [f"# Champion selection on the {payload['split']} split", ""]
    if payload.get("metric"):
        lines += [f"| candidate | {payload['metric']} | {int(100 * payload['confidence'])}% interval |", "|---|---|---|"]
        rule = (f"Kept only when the one-sided {int(100 * payload['confidence'])}% paired bootstrap lower "
                "bound of the difference is above zero; differences show [lower, upper] bounds.")
        if payload.get("use_brier"):
            rule = ("Kept when accuracy is better beyond the noise, or not lower with the Brier score better beyond "
                    f"the noise (one-sided paired bootstrap bounds, the {int(100 * payload['confidence'])}% error "
                    "budget split between the two tests); differences show [lower, upper] bounds.")
        lines.insert(1, rule)
        for c in payload["candidates"]:
            lines.append(f"| {c['name']} | {c['metric']:.4f} | [{c['interval'][0]:.4f}, {c['interval'][1]:.4f}] |")
        lines.append("")
    for d in payload["decisions"]:
        lines.append(f"- {d['candidate']} vs {d['against']}: {'KEPT' if d['kept'] else 'not kept'} — {d['reason']}")
    lines.append(f"\nChampion: **{payload['champion']}** ({payload['refit']}).")
    return lines
