"""Local pipelines: translation -> contrastive -> training (warm start) -> noisy student -> evaluation,
and translation (source, target) -> training -> domain adaptation, with their ML Metadata lineage."""

import os

import numpy as np
import pytest
import tensorflow as tf

from components.contrastive.component import Contrastive
from components.contrastive.spec import ContrastiveConfig
from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.domain_adaptation.component import DomainAdaptation
from components.domain_adaptation.spec import DomainAdaptationConfig
from components.evaluation.component import Evaluation
from components.noisy_student.component import NoisyStudent
from components.noisy_student.spec import NoisyStudentConfig
from components.training.component import Training
from components.training.spec import TrainingConfig
from components.types import features
from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.pipeline import create_pipeline
from pipelines.runners import run_pipeline
from tests.support.canonical import class_image, write_image_folder

pytestmark = pytest.mark.slow


def write_unlabeled(directory, count, size=12, seed=5, invert=False):
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    for index in range(count):
        image = class_image(index % 3, 3, size, rng)
        image = 255 - image if invert else image
        tf.io.write_file(os.path.join(directory, f"u{index:03d}.png"), tf.io.encode_png(image))


def run_config(tmp_path, name):
    return config_from_dict({"pipeline_name": name, "run_dir": str(tmp_path / "run"),
                             "data": {"format": "image_folder", "path": str(tmp_path / "data")}})


def edges(lineage, execution, direction):
    listed = lineage.inputs_of(execution.id) if direction == "input" else lineage.outputs_of(execution.id)
    return {edge.key: edge.artifact_id for edge in listed}


def test_unlabeled_data_pipeline_lineage(tmp_path):
    data = write_image_folder(str(tmp_path / "data"), per_class=20)
    write_unlabeled(os.path.join(data, "unlabeled"), 36)
    translation = DataTranslation(config=TranslationConfig(
        format="image_folder", path=data, eval_fraction=0.25, test_fraction=0.25))
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    contrastive = Contrastive(examples=examples, data_spec=data_spec, config=ContrastiveConfig(
        architecture="tiny_cnn", epochs=1, batch_size=16, verbose=0))
    training = Training(examples=examples, data_spec=data_spec, warm_start_model=contrastive.outputs["model"],
                        config=TrainingConfig(architecture="tiny_cnn", epochs=6, batch_size=16, learning_rate=0.03,
                                              verbose=0))
    noisy_student = NoisyStudent(examples=examples, data_spec=data_spec, teacher_model=training.outputs["model"],
                                 config=NoisyStudentConfig(iterations=1, epochs=2, batch_size=16, learning_rate=0.03,
                                                           confidence_threshold=0.0, verbose=0))
    evaluation = Evaluation(examples=examples, data_spec=data_spec, model=noisy_student.outputs["model"])
    config = run_config(tmp_path, "semi")
    components = [translation, contrastive, training, noisy_student, evaluation]
    run_pipeline(config, pipeline=create_pipeline(config, components=components))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert [node.component for node in lineage.executions] == [
        "DataTranslation", "Contrastive", "Training", "NoisyStudent", "Evaluation"]
    assert all(node.state == "COMPLETE" for node in lineage.executions)
    translation_run, contrastive_run, training_run, student_run, evaluation_run = lineage.executions
    assert edges(lineage, contrastive_run, "input")["examples"] == edges(lineage, translation_run, "output")["examples"]
    backbone_id = edges(lineage, contrastive_run, "output")["model"]
    assert edges(lineage, training_run, "input")["warm_start_model"] == backbone_id
    teacher_id = edges(lineage, training_run, "output")["model"]
    assert edges(lineage, student_run, "input")["teacher_model"] == teacher_id
    student_outputs = edges(lineage, student_run, "output")
    assert edges(lineage, evaluation_run, "input")["model"] == student_outputs["model"]

    assert "linear_probe_accuracy" in lineage.artifacts[backbone_id].properties
    student_model = lineage.artifacts[student_outputs["model"]]
    assert student_model.properties["beat_teacher"] in (0, 1)
    assert "teacher_eval_accuracy" in student_model.properties
    # Every pseudo-label names the teacher artifact that lineage links to the student.
    teacher_uri = lineage.artifacts[teacher_id].uri
    pseudo = lineage.artifacts[student_outputs["pseudo_labels"]]
    assert pseudo.properties["iteration_1_teacher"] == teacher_uri
    files = tf.io.gfile.glob(os.path.join(pseudo.uri, "Split-iteration_1", "*"))
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, "GZIP")]
    assert records and all(
        r.features.feature[features.PROVENANCE_MODEL].bytes_list.value[0].decode() == teacher_uri for r in records)
    assert lineage.artifacts[edges(lineage, evaluation_run, "output")["evaluation"]].properties["accuracy"] >= 0


def test_domain_adaptation_pipeline_lineage(tmp_path):
    write_image_folder(str(tmp_path / "data"), per_class=20)
    target = str(tmp_path / "target")
    for label in range(3):  # Labeled target images (few) for validation/test, plus unlabeled ones.
        rng = np.random.default_rng(label)
        os.makedirs(os.path.join(target, f"class_{label}"))
        for index in range(8):
            image = 255 - class_image(label, 3, 12, rng)
            tf.io.write_file(os.path.join(target, f"class_{label}", f"{index}.png"), tf.io.encode_png(image))
    write_unlabeled(os.path.join(target, "unlabeled"), 30, invert=True)
    source_translation = DataTranslation(config=TranslationConfig(
        format="image_folder", path=str(tmp_path / "data"), eval_fraction=0.25))
    target_translation = DataTranslation(config=TranslationConfig(
        format="image_folder", path=target, eval_fraction=0.5, test_fraction=0.4)).with_id("TargetTranslation")
    training = Training(examples=source_translation.outputs["examples"],
                        data_spec=source_translation.outputs["data_spec"],
                        config=TrainingConfig(architecture="small_cnn", epochs=2, batch_size=16, verbose=0))
    adaptation = DomainAdaptation(
        source_examples=source_translation.outputs["examples"], data_spec=source_translation.outputs["data_spec"],
        target_examples=target_translation.outputs["examples"],
        target_data_spec=target_translation.outputs["data_spec"], source_model=training.outputs["model"],
        config=DomainAdaptationConfig(methods=("source_only", "adabn", "coral"), epochs=1, batch_size=8,
                                      target_labeled_split=None, verbose=0))
    config = run_config(tmp_path, "adapt")
    components = [source_translation, target_translation, training, adaptation]
    run_pipeline(config, pipeline=create_pipeline(config, components=components))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert all(node.state == "COMPLETE" for node in lineage.executions)
    adaptation_run = lineage.execution("DomainAdaptation")
    inputs = edges(lineage, adaptation_run, "input")
    assert inputs["source_model"] == edges(lineage, lineage.execution("Training"), "output")["model"]
    assert inputs["target_examples"] == edges(lineage, lineage.execution("TargetTranslation"), "output")["examples"]
    adapted = lineage.artifacts[edges(lineage, adaptation_run, "output")["model"]]
    assert adapted.properties["best_method"] in ("source_only", "adabn", "coral")
    assert {"target_test_accuracy_source_only", "target_test_accuracy_adabn", "target_test_accuracy_coral"} <= set(
        adapted.properties)
    pseudo = lineage.artifacts[edges(lineage, adaptation_run, "output")["pseudo_labels"]]
    assert pseudo.properties["teacher"] == adapted.uri and pseudo.properties["pseudo_labels"] > 0
    assert pseudo.properties["target_records"] == 30  # the target's unlabeled split
