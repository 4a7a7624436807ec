"""Local pipeline: DataTranslation -> Training -> Distillation -> Calibration -> Evaluation, lineage in MLMD."""

import json
import os

import pytest

from components.calibration.component import Calibration
from components.calibration.spec import CalibrationConfig
from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.distillation.component import Distillation
from components.distillation.spec import DistillationConfig
from components.evaluation.component import Evaluation
from components.evaluation.spec import EvaluationConfig
from components.training.component import Training
from components.training.spec import TrainingConfig
from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.pipeline import create_pipeline, training_config
from pipelines.runners import run_pipeline
from tests.support.canonical import write_image_folder

COMPONENTS = ["DataTranslation", "Training", "Distillation", "Calibration", "Evaluation"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("regularization_pipeline")
    config = config_from_dict({
        "pipeline_name": "regularization",
        "run_dir": str(tmp_path / "run"),
        "data": {"format": "image_folder", "path": write_image_folder(str(tmp_path / "data"), per_class=40),
                 "eval_fraction": 0.25, "test_fraction": 0.25},
        "training": {"architecture": "tiny_cnn", "epochs": 10, "batch_size": 16, "learning_rate": 0.01,
                     "verbose": 0},
    })
    translation = DataTranslation(config=TranslationConfig.from_dict(config.data))
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    training = Training(examples=examples, data_spec=data_spec, config=training_config(config))
    student = TrainingConfig(architecture="tiny_cnn", epochs=10, batch_size=16, learning_rate=0.01, verbose=0)
    distillation = Distillation(
        examples=examples, data_spec=data_spec, teacher_model=training.outputs["model"],
        config=DistillationConfig(student=student, temperature=2.0),
    )
    calibration = Calibration(
        model=distillation.outputs["model"], examples=examples, data_spec=data_spec,
        config=CalibrationConfig(method="temperature_map"),
    )
    evaluation = Evaluation(
        examples=examples, data_spec=data_spec, model=calibration.outputs["calibrated_model"],
        baseline_model=training.outputs["model"], config=EvaluationConfig(thresholds={"accuracy": 0.4}),
    )
    components = [translation, training, distillation, calibration, evaluation]
    run_pipeline(config, pipeline=create_pipeline(config, components=components))
    return config


def test_five_executions_complete_and_events_link_outputs_to_inputs(finished_run):
    lineage = lineage_lib.read_lineage(finished_run.run_dir)
    assert [node.component for node in lineage.executions] == COMPONENTS
    assert all(node.state == "COMPLETE" for node in lineage.executions)
    translation, training, distillation, calibration, evaluation = lineage.executions

    def outputs(node):
        return {edge.key: edge.artifact_id for edge in lineage.outputs_of(node.id)}

    def inputs(node):
        return {edge.key: edge.artifact_id for edge in lineage.inputs_of(node.id)}

    assert inputs(distillation)["teacher_model"] == outputs(training)["model"]
    assert inputs(distillation)["examples"] == outputs(translation)["examples"]
    assert inputs(calibration)["model"] == outputs(distillation)["model"]
    assert inputs(calibration)["data_spec"] == outputs(translation)["data_spec"]
    assert inputs(evaluation)["model"] == outputs(calibration)["calibrated_model"]
    assert inputs(evaluation)["baseline_model"] == outputs(training)["model"]


def test_held_out_metrics_are_mlmd_properties_of_each_model(finished_run):
    lineage = lineage_lib.read_lineage(finished_run.run_dir)
    teacher = lineage_lib.find_output(lineage, "Training", "model")
    student = lineage_lib.find_output(lineage, "Distillation", "model")
    assert teacher.properties["eval_accuracy"] > 0.5
    assert student.properties["teacher_eval_accuracy"] == pytest.approx(teacher.properties["eval_accuracy"], abs=1e-5)
    assert student.properties["eval_accuracy"] > 0.4  # 3 classes: chance is 1/3
    assert student.properties["generation_1_eval_accuracy"] == student.properties["eval_accuracy"]
    calibrated = lineage_lib.find_output(lineage, "Calibration", "calibrated_model")
    assert calibrated.properties["report_split"] == "test"
    assert calibrated.properties["test_accuracy"] == calibrated.properties["uncalibrated_test_accuracy"]
    assert calibrated.properties["temperature"] > 0
    for uri in (student.uri, calibrated.uri):
        assert os.path.exists(os.path.join(uri, "summary.json")) and os.path.exists(os.path.join(uri, "summary.md"))


def test_evaluation_scored_the_calibrated_model(finished_run):
    lineage = lineage_lib.read_lineage(finished_run.run_dir)
    evaluation = lineage_lib.find_output(lineage, "Evaluation", "evaluation")
    calibrated = lineage_lib.find_output(lineage, "Calibration", "calibrated_model")
    metrics = json.load(open(os.path.join(evaluation.uri, "metrics.json")))
    assert metrics["model_uri"] == calibrated.uri and metrics["split"] == "test"
    # Evaluation and Calibration score the same model on the same split (MLMD keeps 6 significant digits).
    assert metrics["metrics"]["accuracy"] == pytest.approx(calibrated.properties["test_accuracy"], abs=1e-5)
    assert metrics["metrics"]["nll"] == pytest.approx(calibrated.properties["test_nll"], abs=1e-4)
