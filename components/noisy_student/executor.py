"""Noisy student executor: artifact I/O around `noisy_student.run_noisy_student`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.types import artifact_utils

from components.common import model_io
from components.common.artifact_io import write_json
from components.common.augmentation import load_augmentation
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics, record_run_decision
from components.common.optimization_params import scaled_learning_rate
from components.contrastive import backbone
from components.noisy_student import noisy_student, spec

logger = logging.getLogger(__name__)


class Executor(ComponentExecutor):
    """Runs K noisy-student iterations; writes the best model and the pseudo-labeled examples."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.NoisyStudentConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        learned = self.optional(input_dict, spec.OPTIMIZATION_PARAMS_KEY)
        if learned is not None:
            config = dataclasses.replace(config, learning_rate=scaled_learning_rate(learned.uri, config.batch_size))
        policy = self.optional(input_dict, spec.AUGMENTATION_POLICY_KEY)
        # The image ops noise the student in front of the model; mixup/cutmix mix images and pseudo-labels together.
        augmentation = load_augmentation(policy.uri, config.seed) if policy else None
        teacher_artifact = self.optional(input_dict, spec.TEACHER_MODEL_KEY)
        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        pseudo_artifact = self.single(output_dict, spec.PSEUDO_LABELS_KEY)
        work_dir = config.work_dir or os.path.join(model_artifact.uri, spec.PROGRESS_DIR_NAME)

        backbone.reset_layer_names()
        teacher = model_io.load_model(teacher_artifact.uri) if teacher_artifact else None
        run = noisy_student.run_noisy_student(
            examples.uri, data_spec, config, pseudo_artifact.uri, work_dir,
            teacher=teacher, teacher_id=teacher_artifact.uri if teacher_artifact else "",
            augmentation=augmentation and augmentation.layer, mixing_policy=augmentation and augmentation.mixing,
        )
        best_model, results, best = run.best_model, run.results, run.best
        best_metrics = {f"eval_{name}": value for name, value in results[best].metrics.items()}
        model_io.save_model_artifact(best_model, model_artifact.uri, metrics=best_metrics)
        record_results(model_artifact, results, best, config.selection_metric)
        model_artifact.set_string_custom_property("stopped_early", run.stopped)
        record_pseudo_labels(pseudo_artifact, results)
        write_json(
            os.path.join(model_artifact.uri, spec.SUMMARY_FILE_NAME),
            {"config": dataclasses.asdict(config), "best_iteration": best, "beat_teacher": best > 0,
             "stopped_early": run.stopped, "iterations": [dataclasses.asdict(result) for result in results],
             "examples": examples.uri, "pseudo_labels": pseudo_artifact.uri},
        )
        backbone.reset_layer_names()
        logger.info("noisy student: best iteration %d of %d -> %s", best, config.iterations, model_artifact.uri)


def record_results(artifact: types.Artifact, results, best: int, metric: str) -> None:
    """Best model's eval metrics as `eval_*`, every iteration's as `iteration_<k>_*` (0 = teacher)."""
    record_metrics(artifact, results[best].metrics, prefix="eval_")
    for result in results[1:]:
        record_metrics(artifact, result.metrics, prefix=f"iteration_{result.iteration}_")
    record_metrics(artifact, results[0].metrics, prefix="teacher_eval_")
    artifact.set_int_custom_property(spec.BEST_ITERATION, best)
    artifact.set_int_custom_property(spec.BEAT_TEACHER, int(best > 0))
    record_metrics(
        artifact, {f"improvement_over_teacher_{metric}": results[best].metrics[metric] - results[0].metrics[metric]}
    )
    artifact.set_string_custom_property("teacher", results[0].model_path)
    teacher, chosen = results[0].metrics[metric], results[best].metrics[metric]
    if best > 0:
        verdict = f"student {best} beat its teacher on eval {metric} ({teacher:.4f} -> {chosen:.4f}): it is the model"
    else:
        students = ", ".join(f"{result.metrics[metric]:.4f}" for result in results[1:]) or "none trained"
        verdict = (f"no student beat its teacher on eval {metric} (teacher {teacher:.4f}, students {students}): "
                   "the teacher is kept")
    record_run_decision(artifact, verdict)


def record_pseudo_labels(artifact: types.Artifact, results) -> None:
    """Split names and, per split, how many pseudo-labels and which teacher made them."""
    students = results[1:]
    artifact.split_names = artifact_utils.encode_split_names([spec.pseudo_split_name(r.iteration) for r in students])
    for result in students:
        split = spec.pseudo_split_name(result.iteration)
        artifact.set_int_custom_property(f"{split}_count", result.pseudo_labels)
        artifact.set_string_custom_property(f"{split}_teacher", result.teacher)
