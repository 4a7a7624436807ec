"""Student noise, the noisy-student loop (resume, best pick) and its executor on tiny data."""

import json
import os

import keras
import numpy as np
import pytest

from components.common.mlmd_metrics import RUN_DECISION
import tensorflow as tf
from tfx.types import standard_artifacts

from components.noisy_student import noise, noisy_student
from components.noisy_student.component import NoisyStudent
from components.noisy_student.executor import Executor
from components.noisy_student.spec import CONFIG_KEY, SUMMARY_FILE_NAME, NoisyStudentConfig
from components.common import model_io
from components.training import models
from components.types import config_json, features
from tests.support.canonical import artifact_pair

SPLITS = {"train": 96, "eval": 30, "unlabeled": 48}


def test_stochastic_depth_drops_the_branch_per_sample_and_is_a_sum_at_inference():
    layer = noise.StochasticDepthAdd(rate=0.5, seed=1)
    branch, shortcut = tf.ones([64, 2, 2, 1]), tf.fill([64, 2, 2, 1], 10.0)
    np.testing.assert_array_equal(layer([branch, shortcut], training=False), branch + shortcut)
    values = np.unique(np.asarray(layer([branch, shortcut], training=True))[:, 0, 0, 0])
    assert set(values.tolist()) == {10.0, 12.0}  # Dropped, or kept and scaled by 1 / 0.5.
    with pytest.raises(ValueError, match="rate"):
        noise.StochasticDepthAdd(rate=1.0)


def test_noisy_clone_keeps_names_reinitialises_and_strips_back(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    teacher = models.build_architecture("small_resnet", data_spec, (12, 12))
    student = noise.noisy_clone(teacher, dropout=0.5, stochastic_depth=0.3, seed=2)
    adds = sum(isinstance(layer, keras.layers.Add) for layer in teacher.layers)
    assert adds == 3 and noise.count_noise_layers(student) == adds
    assert [layer.name for layer in student.layers][-2:] == [noise.STUDENT_DROPOUT_NAME, "probabilities"]
    assert {layer.name for layer in teacher.layers} < {layer.name for layer in student.layers}
    first_conv = teacher.layers[1].name
    teacher_kernel = teacher.get_layer(first_conv).get_weights()[0]
    assert not np.allclose(teacher_kernel, student.get_layer(first_conv).get_weights()[0])
    images = tf.random.stateless_uniform([4, 12, 12, 1], seed=[0, 1])
    plain = noise.strip_noise(student)
    assert noise.count_noise_layers(plain) == 0
    np.testing.assert_allclose(plain(images), student(images, training=False), rtol=1e-5, atol=1e-6)
    again = noise.noisy_clone(plain, dropout=0.2)  # A student as the next teacher: one student dropout only.
    assert sum(layer.name == noise.STUDENT_DROPOUT_NAME for layer in again.layers) == 1
    assert again.get_layer(noise.STUDENT_DROPOUT_NAME).rate == 0.2
    path = str(tmp_path / "plain.keras")
    plain.save(path)
    keras.saving.load_model(path)  # Loads without custom objects.


def test_student_starts_from_the_teacher_or_its_own_architecture(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    teacher = models.build_architecture("small_cnn", data_spec, (12, 12))
    config = NoisyStudentConfig(init_from_teacher=True, dropout=0.2)
    warm = noisy_student.build_student(teacher, config, data_spec, (12, 12), seed=0)
    for layer in teacher.layers:
        for expected, actual in zip(layer.get_weights(), warm.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(expected, actual)
    own = noisy_student.build_student(teacher, NoisyStudentConfig(student_architecture="tiny_cnn"), data_spec,
                                      (12, 12), seed=0)
    assert own.count_params() < teacher.count_params() / 10
    assert own.get_layer(noise.STUDENT_DROPOUT_NAME).rate == 0.3


def test_best_iteration_prefers_the_teacher_on_ties():
    results = [noisy_student.IterationResult(i, {"accuracy": a, "nll": n}, 0, "") for i, (a, n) in
               enumerate([(0.8, 0.5), (0.8, 0.4), (0.7, 0.3)])]
    assert noisy_student.best_iteration(results, "accuracy") == 0
    assert noisy_student.best_iteration(results, "nll") == 2  # Lower is better.


def test_config_validation():
    with pytest.raises(ValueError, match="mode"):
        NoisyStudentConfig(mode="fuzzy")
    with pytest.raises(ValueError, match="selection_metric"):
        NoisyStudentConfig(selection_metric="f2")
    with pytest.raises(ValueError, match="Unknown augmentation op"):
        NoisyStudentConfig(noise_steps=(("warp_drive", 0.5, 0.5),))
    config = NoisyStudentConfig(iterations=3, mode="soft", stochastic_depth=0.1)
    assert config_json.config_from_json(NoisyStudentConfig, config_json.config_to_json(config)) == config


def tiny_config(**overrides):
    values = dict(architecture="tiny_cnn", iterations=2, teacher_epochs=6, epochs=2, batch_size=16,
                  learning_rate=0.03, confidence_threshold=0.0, verbose=0, prediction_batch_size=16, chunk_batches=2)
    values.update(overrides)
    return NoisyStudentConfig(**values)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("noisy_student")
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, SPLITS)
    model, pseudo = standard_artifacts.Model(), standard_artifacts.Examples()
    model.uri, pseudo.uri = str(tmp_path / "model"), str(tmp_path / "pseudo")
    config = tiny_config()
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]},
        {"model": [model], "pseudo_labels": [pseudo]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return examples, data_spec, model, pseudo, config


def test_executor_records_every_iteration_and_whether_it_beat_the_teacher(executed):
    _, _, model, _, _ = executed
    summary = json.load(open(os.path.join(model.uri, SUMMARY_FILE_NAME)))
    accuracies = [entry["metrics"]["accuracy"] for entry in summary["iterations"]]
    assert [entry["iteration"] for entry in summary["iterations"]] == [0, 1, 2]
    best = model.get_int_custom_property("best_iteration")
    assert best == summary["best_iteration"] == accuracies.index(max(accuracies))
    assert model.get_int_custom_property("beat_teacher") == int(max(accuracies[1:]) > accuracies[0])
    decision = model.get_string_custom_property(RUN_DECISION)  # what `autofit run` prints as [decided]
    if best > 0:
        assert decision.startswith(f"student {best} beat its teacher on eval accuracy")
    else:
        assert decision.startswith("no student beat its teacher") and "the teacher is kept" in decision
    assert model.get_float_custom_property("teacher_eval_accuracy") == pytest.approx(accuracies[0])
    for iteration in (1, 2):
        assert model.get_float_custom_property(f"iteration_{iteration}_accuracy") == pytest.approx(
            accuracies[iteration])
    assert model.get_float_custom_property("eval_accuracy") == pytest.approx(max(accuracies))
    assert accuracies[0] > 0.6  # The teacher trained here learned the stripes.


def test_output_model_is_the_best_iteration_and_loads(executed):
    examples, data_spec, model, _, _ = executed
    from components.noisy_student.noisy_student import evaluate_on_eval

    loaded = model_io.load_model(model.uri)
    assert noise.count_noise_layers(loaded) == 0
    assert evaluate_on_eval(loaded, examples.uri, data_spec, "output")["accuracy"] == pytest.approx(
        model.get_float_custom_property("eval_accuracy"))
    assert os.path.isdir(model_io.serving_path(model.uri))


def test_pseudo_label_examples_name_their_teacher(executed):
    _, _, model, pseudo, _ = executed
    assert json.loads(pseudo.split_names) == ["iteration_1", "iteration_2"]
    assert pseudo.get_string_custom_property("iteration_1_teacher").endswith(os.path.join("progress", "teacher"))
    assert pseudo.get_string_custom_property("iteration_2_teacher").endswith("iteration_1")
    path = os.path.join(pseudo.uri, "Split-iteration_2")
    record = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(
        tf.io.gfile.glob(path + "/*"), compression_type="GZIP"))).numpy())
    assert record.features.feature[features.PROVENANCE_MODEL].bytes_list.value[0].decode().endswith("iteration_1")
    assert pseudo.get_int_custom_property("iteration_1_count") > 0


def test_rerun_resumes_finished_iterations_without_training(executed, tmp_path, monkeypatch):
    examples, data_spec, model, _, config = executed
    work_dir = os.path.join(model.uri, "progress")
    summary = json.load(open(os.path.join(model.uri, SUMMARY_FILE_NAME)))

    def no_training(*args, **kwargs):
        raise AssertionError("a finished iteration was trained again")

    monkeypatch.setattr(noisy_student, "train_student", no_training)
    monkeypatch.setattr(noisy_student.training, "train_classifier", no_training)
    run = noisy_student.run_noisy_student(examples.uri, data_spec, config, str(tmp_path / "p"), work_dir)
    assert run.best == summary["best_iteration"] and run.stopped == ""
    assert [r.metrics["accuracy"] for r in run.results] == [e["metrics"]["accuracy"] for e in summary["iterations"]]


def test_no_confident_image_stops_early_and_keeps_the_teacher(tmp_path):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS)
    config = tiny_config(iterations=2, teacher_epochs=1, confidence_threshold=1.0)
    run = noisy_student.run_noisy_student(examples.uri, data_spec, config, str(tmp_path / "p"), str(tmp_path / "w"))
    assert run.best == 0 and len(run.results) == 1
    assert "iteration 1: no unlabeled image reached confidence 1.0" in run.stopped


def test_component_constructs_with_channels():
    from tfx.types import channel_utils

    from components.types.artifacts import DataSpec

    component = NoisyStudent(
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        teacher_model=channel_utils.as_channel([standard_artifacts.Model()]),
        config=NoisyStudentConfig(iterations=2, confidence_threshold=0.8, epochs=10),
    )
    assert {"model", "pseudo_labels"} <= set(component.outputs)
    assert json.loads(component.exec_properties[CONFIG_KEY])["iterations"] == 2


def test_a_policy_with_mixup_mixes_the_students_images_and_pseudo_labels(tmp_path, monkeypatch):
    from augment_ops.policy import Policy
    from components.types.artifacts import POLICY_FILE_NAME, AugmentationPolicy

    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 32, "eval": 16, "unlabeled": 32})
    policy = AugmentationPolicy()
    policy.uri = str(tmp_path / "policy")
    tf.io.gfile.makedirs(policy.uri)
    with open(os.path.join(policy.uri, POLICY_FILE_NAME), "w") as handle:
        handle.write(Policy.from_ops([("brightness", 0.3, 0.5), ("mixup", 0.4, 0.5)], sampling="random_n",
                                     num_ops=1).to_json())
    seen = []
    real_fit = noisy_student.trainer.fit

    def recording_fit(*args, **kwargs):
        seen.append(kwargs.get("mixing_policy"))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(noisy_student.trainer, "fit", recording_fit)
    model, pseudo = standard_artifacts.Model(), standard_artifacts.Examples()
    model.uri, pseudo.uri = str(tmp_path / "model"), str(tmp_path / "pseudo")
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "augmentation_policy": [policy]},
        {"model": [model], "pseudo_labels": [pseudo]},
        {CONFIG_KEY: config_json.config_to_json(tiny_config(iterations=1, teacher_epochs=1, epochs=1))},
    )
    students = [policy for policy in seen if policy is not None]
    assert students and students[-1].op_names == ("mixup",)  # the student's step mixes; the image op noises it
    assert model.get_int_custom_property("best_iteration") in (0, 1)
