"""Distillation executor: artifact I/O around `distillation.distill_from_examples`."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List

from tfx import types

from components.calibration import held_out
from components.common import model_io
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.common.optimization_params import apply_optimization_params
from components.distillation import distillation, losses
from components.distillation import spec as keys
from components.ensemble.ensemble import average_models
from components.evaluation import metrics as metric_names
from components.types import features

logger = logging.getLogger(__name__)
# Per-generation metrics recorded in MLMD as generation_<g>_eval_<name>.
GENERATION_METRICS = (metric_names.ACCURACY, metric_names.NLL, metric_names.EXPECTED_CALIBRATION_ERROR)


class Executor(ComponentExecutor):
    """Distills the teacher Model artifact(s) into a student and writes its Model artifact."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, keys.DistillationConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        learned = self.optional(input_dict, keys.OPTIMIZATION_PARAMS_KEY)
        if learned is not None:
            student = apply_optimization_params(config.student, learned.uri, set(config.student.explicit_fields))
            config = dataclasses.replace(config, student=student)
        teacher_uris = [artifact.uri for artifact in input_dict[keys.TEACHER_MODEL_KEY]]
        if not teacher_uris:
            raise ValueError("Distillation got no teacher Model artifact.")
        teachers = [held_out.load_model(uri) for uri in teacher_uris]
        losses.check_teachers(teachers, data_spec.num_classes, data_spec.channels, teacher_uris)
        batch_size = config.student.batch_size

        def evaluate(model, name="student"):
            return held_out.score(model, examples.uri, features.EVAL_SPLIT, data_spec, batch_size, name=name)["metrics"]

        teacher_view = teachers[0] if len(teachers) == 1 else average_models(list(teachers), name="teachers")
        teacher_metrics = evaluate(teacher_view, name="teacher")
        student, history, generations = distillation.distill_from_examples(
            examples.uri, data_spec, teachers, config, evaluate
        )
        metrics = generations[-1]["metrics"]
        output = self.single(output_dict, keys.MODEL_KEY)
        model_io.save_model_artifact(
            student, output.uri, history=history, metrics={f"eval_{name}": value for name, value in metrics.items()}
        )
        self._record(output, config, metrics, teacher_metrics, generations, student, teachers, teacher_uris)
        logger.info("Student written to %s", output.uri)

    def _record(self, output, config, metrics, teacher_metrics, generations, student, teachers, teacher_uris):
        record_metrics(output, metrics, prefix="eval_")
        record_metrics(output, teacher_metrics, prefix="teacher_eval_")
        for generation in generations:
            chosen = {name: generation["metrics"][name] for name in GENERATION_METRICS}
            record_metrics(output, chosen, prefix=f"generation_{generation['generation']}_eval_")
        student_parameters = int(student.count_params())
        teacher_parameters = int(sum(teacher.count_params() for teacher in teachers))
        architecture = "same_as_teacher" if config.same_architecture_as_teacher else (
            config.student.module_file or config.student.architecture
        )
        output.set_int_custom_property("generations", len(generations))
        output.set_int_custom_property("student_parameters", student_parameters)
        output.set_int_custom_property("teacher_parameters", teacher_parameters)
        output.set_float_custom_property("temperature", config.temperature)
        output.set_float_custom_property("soft_weight", config.soft_weight)
        output.set_string_custom_property("architecture", architecture)
        output.set_int_custom_property("epochs_trained", len(generations[-1]["history"].get("loss", [])))
        summary = {
            "teachers": teacher_uris,
            "teacher_eval": held_out.headline(teacher_metrics),
            "student_architecture": architecture,
            "student_parameters": student_parameters,
            "teacher_parameters": teacher_parameters,
            "temperature": config.temperature,
            "soft_weight": config.soft_weight,
            "use_unlabeled": config.use_unlabeled,
            "generations": [
                {"generation": g["generation"], "seed": g["seed"], "eval": held_out.headline(g["metrics"])}
                for g in generations
            ],
        }
        rows = {"teacher" if len(teachers) == 1 else f"teachers (mean of {len(teachers)})": teacher_metrics}
        rows.update({f"student generation {g['generation']}": g["metrics"] for g in generations})
        body = [
            f"- student: `{architecture}`, {student_parameters} parameters "
            f"(teacher{'s' if len(teachers) > 1 else ''}: {teacher_parameters})",
            f"- temperature {config.temperature}, soft-target weight {config.soft_weight}, "
            f"unlabeled images {'used' if config.use_unlabeled else 'not used'}",
            "- metrics on the `eval` split:",
            "",
            *held_out.metrics_table(rows),
        ]
        held_out.write_summary(output.uri, "Distillation", summary, body)
