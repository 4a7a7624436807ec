"""Distillation on tiny data: soft targets teach, self distillation keeps every generation, the executor."""

import json
import os

import numpy as np
import tensorflow as tf
from tfx.types import channel_utils, standard_artifacts

from components.distillation import distillation
from components.distillation.component import Distillation
from components.distillation.executor import Executor
from components.distillation.spec import CONFIG_KEY, DistillationConfig
from components.common import model_io
from components.training import training
from components.training.spec import TrainingConfig
from components.types import config_json, examples_io
from components.types.artifacts import DataSpec

TINY_STUDENT = TrainingConfig(architecture="tiny_cnn", epochs=6, batch_size=16, learning_rate=0.03, verbose=0)


def eval_accuracy(model, examples_uri, data_spec):
    correct = total = 0
    for images, labels in examples_io.load_split(examples_uri, "eval", data_spec, batch_size=48):
        correct += int(np.sum(np.argmax(model.predict(images, verbose=0), 1) == labels.numpy()))
        total += len(labels)
    return correct / total


def test_student_learns_from_teacher_predictions_alone(teacher):
    """Trained on unlabeled images only (no hard label), the student recovers the classes."""
    examples, _, data_spec, teacher_artifact, _ = teacher
    teacher_model = model_io.load_model(teacher_artifact.uri)
    unlabeled = training.labeled_dataset(examples.uri, "unlabeled", data_spec, TINY_STUDENT, (12, 12), True)
    _, targets = next(iter(unlabeled))
    assert float(tf.reduce_sum(targets)) == 0.0  # no hard labels reach the loss
    config = DistillationConfig(student=TINY_STUDENT, temperature=2.0, soft_weight=0.5)
    build = training.model_builder(TINY_STUDENT, data_spec, (12, 12))
    student, history = distillation.distill(build, [teacher_model], unlabeled, None, config, 3, 96)
    assert history["loss"][-1] < history["loss"][0]
    assert eval_accuracy(student, examples.uri, data_spec) > 0.6


def run_executor(teacher, tmp_path, config, teachers=None):
    examples, data_spec_artifact, _, teacher_artifact, _ = teacher
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "student")
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "teacher_model": teachers or [teacher_artifact]},
        {"model": [output]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return output


def test_knowledge_distillation_into_a_smaller_student_with_unlabeled_images(teacher, tmp_path):
    _, _, _, _, teacher_accuracy = teacher
    output = run_executor(teacher, tmp_path, DistillationConfig(student=TINY_STUDENT, use_unlabeled=True))
    properties = output.mlmd_artifact.custom_properties
    assert properties["eval_accuracy"].double_value > 0.6
    assert properties["teacher_eval_accuracy"].double_value == teacher_accuracy
    assert 4 * properties["student_parameters"].int_value <= properties["teacher_parameters"].int_value
    assert properties["architecture"].string_value == "tiny_cnn"
    summary = json.load(open(os.path.join(output.uri, "summary.json")))
    assert summary["use_unlabeled"] is True and len(summary["generations"]) == 1
    history = json.load(open(os.path.join(output.uri, "history.json")))
    assert len(history["loss"]) == TINY_STUDENT.epochs
    assert model_io.load_model(output.uri).count_params() == properties["student_parameters"].int_value


def test_self_distillation_keeps_each_generation(teacher, tmp_path):
    examples, _, data_spec, teacher_artifact, _ = teacher
    student = TrainingConfig(architecture="tiny_cnn", epochs=2, batch_size=16, learning_rate=0.01, verbose=0, seed=5)
    config = DistillationConfig(student=student, generations=2, same_architecture_as_teacher=True)
    output = run_executor(teacher, tmp_path, config)
    properties = output.mlmd_artifact.custom_properties
    assert properties["generations"].int_value == 2
    assert properties["student_parameters"].int_value == properties["teacher_parameters"].int_value
    assert properties["architecture"].string_value == "same_as_teacher"
    summary = json.load(open(os.path.join(output.uri, "summary.json")))
    assert [g["seed"] for g in summary["generations"]] == [5, 6]
    final = summary["generations"][-1]["eval"]["accuracy"]
    assert properties["generation_2_eval_accuracy"].double_value == final == properties["eval_accuracy"].double_value
    assert "generation_1_eval_nll" in properties
    assert "student generation 2" in open(os.path.join(output.uri, "summary.md")).read()
    student_model = model_io.load_model(output.uri)
    teacher_model = model_io.load_model(teacher_artifact.uri)
    assert [layer.__class__ for layer in student_model.layers] == [layer.__class__ for layer in teacher_model.layers]
    assert eval_accuracy(student_model, examples.uri, data_spec) == final


def test_component_accepts_several_teacher_channels():
    teachers = [channel_utils.as_channel([standard_artifacts.Model()]) for _ in range(2)]
    component = Distillation(
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        teacher_model=teachers,
        config={"student": {"architecture": "tiny_cnn", "epochs": 2}, "temperature": 3.0},
    )
    assert "model" in component.outputs
    config = config_json.config_from_json(DistillationConfig, component.exec_properties[CONFIG_KEY])
    assert config.temperature == 3.0 and config.student.epochs == 2


def test_learned_optimization_params_reach_the_student_except_fields_the_user_set(teacher, tmp_path):
    import dataclasses

    from components.types.artifacts import OPTIMIZATION_PARAMS_FILE_NAME, OptimizationParams

    examples, data_spec_artifact, _, teacher_artifact, _ = teacher
    learned = OptimizationParams()
    learned.uri = str(tmp_path / "learned")
    os.makedirs(learned.uri)
    with open(os.path.join(learned.uri, OPTIMIZATION_PARAMS_FILE_NAME), "w") as handle:
        json.dump({"batch_size": 8, "learning_rate": 0.01, "epochs": 2}, handle)
    student = dataclasses.replace(TINY_STUDENT, explicit_fields=("learning_rate",))
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "student")
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "teacher_model": [teacher_artifact],
         "optimization_params": [learned]},
        {"model": [output]},
        {CONFIG_KEY: config_json.config_to_json(DistillationConfig(student=student))},
    )
    with open(os.path.join(output.uri, "history.json")) as handle:
        history = json.load(handle)
    assert len(history["loss"]) == 2  # the learned epochs replaced the student's 6


def test_a_fine_tuned_student_gets_the_training_schedule_callbacks(monkeypatch):
    from components.training import fine_tuning, trainer

    captured = {}

    def fake_fit(*args, **kwargs):
        captured.update(kwargs)
        return None, {}

    monkeypatch.setattr(trainer, "fit", fake_fit)
    student = TrainingConfig(architecture="mobilenet_v3_small", epochs=4, fine_tune={"warmup_epochs": 2}, verbose=0)
    config = DistillationConfig(student=student)
    import keras

    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    distillation.distill(lambda: None, [teacher], None, None, config, num_classes=3, num_train_examples=8)
    expected = fine_tuning.schedule_callbacks(config.student.fine_tune, 4)
    assert expected and [type(c) for c in captured["extra_callbacks"]] == [type(c) for c in expected]
