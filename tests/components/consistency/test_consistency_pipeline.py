"""A local pipeline: translation -> consistency training -> noisy student (its teacher) -> evaluation, with lineage."""

import json
import os

import pytest

from components.consistency.component import ConsistencyTraining
from components.consistency.spec import ConsistencyConfig
from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.evaluation.component import Evaluation
from components.noisy_student.component import NoisyStudent
from components.noisy_student.spec import NoisyStudentConfig
from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.pipeline import create_pipeline
from pipelines.runners import run_pipeline
from tests.components.noisy_student.test_semi_supervised_pipeline import edges, write_unlabeled
from tests.support.canonical import write_image_folder

pytestmark = pytest.mark.slow


def test_consistency_model_feeds_noisy_student_with_lineage(tmp_path):
    data = write_image_folder(str(tmp_path / "data"), per_class=20)
    write_unlabeled(os.path.join(data, "unlabeled"), 36)
    translation = DataTranslation(config=TranslationConfig(
        format="image_folder", path=data, eval_fraction=0.25, test_fraction=0.25))
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    consistency = ConsistencyTraining(examples=examples, data_spec=data_spec, config=ConsistencyConfig(
        architecture="tiny_cnn", epochs=2, steps_per_epoch=3, batch_size=8, mu=2, threshold_mode="flexmatch",
        optimizer="adam", learning_rate=0.003))
    student = NoisyStudent(examples=examples, data_spec=data_spec, teacher_model=consistency.outputs["model"],
                           config=NoisyStudentConfig(iterations=1, epochs=1, batch_size=16, confidence_threshold=0.0,
                                                     verbose=0))
    evaluation = Evaluation(examples=examples, data_spec=data_spec, model=consistency.outputs["model"])
    config = config_from_dict({"pipeline_name": "consistency", "run_dir": str(tmp_path / "run"),
                               "data": {"format": "image_folder", "path": data}})
    run_pipeline(config, pipeline=create_pipeline(config, components=[translation, consistency, student, evaluation]))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert all(node.state == "COMPLETE" for node in lineage.executions)
    consistency_run = lineage.execution("ConsistencyTraining")
    model_id = edges(lineage, consistency_run, "output")["model"]
    assert edges(lineage, lineage.execution("NoisyStudent"), "input")["teacher_model"] == model_id
    assert edges(lineage, lineage.execution("Evaluation"), "input")["model"] == model_id
    properties = lineage.artifacts[model_id].properties
    assert {"eval_accuracy", "pseudo_label_rate", "threshold_mean", "mask_rate"} <= set(properties)
    assert properties["threshold_mode"] == "flexmatch" and properties["epochs_trained"] == 2
    model_uri = lineage.artifacts[model_id].uri
    with open(os.path.join(model_uri, "consistency_summary.json")) as handle:
        summary = json.load(handle)
    resume_root = os.path.join(config.pipeline_root, "_resume", "ConsistencyTraining")
    leftovers = [name for _, _, names in os.walk(resume_root) for name in names if name.endswith(".npz")]
    assert summary["work_dir"].startswith(resume_root)  # The stable directory a rerun of the pipeline finds.
    assert leftovers == []  # The stable checkpoint was used and removed once the model was written.
