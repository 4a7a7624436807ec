"""The consistency-training run and executor on tiny data: artifact and evidence, resume after a kill, config errors."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from augment_ops.policy import Policy
from components.common import model_io, resume
from components.consistency import checkpoint, consistency
from components.consistency.component import ConsistencyTraining
from components.consistency.executor import Executor
from components.consistency.run import resolve_work_dir
from components.consistency.spec import CONFIG_KEY, SUMMARY_FILE_NAME, ConsistencyConfig
from components.types import config_json
from components.types.artifacts import POLICY_FILE_NAME, AugmentationPolicy
from tests.support import kills
from tests.support.canonical import artifact_pair

SPLITS = {"train": 24, "eval": 12, "unlabeled": 48}
# A searched policy without flip_left_right: the weak view may only translate (x, up to 0.2 * 0.3 of the side).
POLICY = Policy.from_ops([("rotate", 0.3, 0.5), ("translate_x", 0.2, 0.5), ("brightness", 0.4, 0.5)],
                         sampling="random_n", num_ops=1)
MODULE_FILE = '''
import keras

def build_model(data_spec, image_size):
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="user_conv")(inputs)
    x = keras.layers.BatchNormalization(name="user_bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(data_spec.num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="user_model")
'''


def tiny_config(**overrides):
    values = dict(architecture="tiny_cnn", epochs=2, steps_per_epoch=3, batch_size=8, mu=2, threshold=0.6,
                  learning_rate=0.03, eval_batch_size=8)
    values.update(overrides)
    return ConsistencyConfig(**values)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("consistency")
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, SPLITS, size=16)
    policy = AugmentationPolicy()
    policy.uri = str(tmp_path / "policy")
    tf.io.gfile.makedirs(policy.uri)
    with open(os.path.join(policy.uri, POLICY_FILE_NAME), "w") as handle:
        handle.write(POLICY.to_json())
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    config = tiny_config(threshold_mode="flexmatch", distribution_alignment=True)
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "augmentation_policy": [policy]},
        {"model": [model]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return examples, data_spec, model, config


def test_executor_writes_the_ema_model_with_its_evidence(executed):
    examples, data_spec, model, _ = executed
    for name in ("eval_accuracy", "eval_loss", "pseudo_label_rate", "mask_rate", "threshold_min", "threshold_mean",
                 "threshold_max"):
        assert model.has_custom_property(name), name
    assert 0.0 <= model.get_float_custom_property("pseudo_label_rate") <= 1.0
    assert model.get_string_custom_property("threshold_mode") == "flexmatch"
    assert model.get_int_custom_property("epochs_trained") == 2
    loaded = model_io.load_model(model.uri)
    images, labels = consistency.labeled_arrays(examples.uri, data_spec, (16, 16), 8)
    accuracy = consistency.evaluate(consistency.predict(loaded, images, 8), labels)["accuracy"]
    assert accuracy == pytest.approx(model.get_float_custom_property("eval_accuracy"))
    assert os.path.isdir(model_io.serving_path(model.uri))
    assert not os.path.exists(checkpoint.checkpoint_path(os.path.join(model.uri, "progress")))  # Cleaned up.


def test_summary_has_the_per_epoch_trajectory_and_the_policy_restricted_views(executed):
    _, _, model, config = executed
    summary = json.load(open(os.path.join(model.uri, SUMMARY_FILE_NAME)))
    assert [epoch["epoch"] for epoch in summary["epochs"]] == [1, 2]
    for epoch in summary["epochs"]:
        assert {"pseudo_label_rate", "pseudo_label_accuracy", "mask_rate", "threshold_mean", "eval_accuracy",
                "class_thresholds"} <= set(epoch)
        assert len(epoch["class_thresholds"]) == 3
    assert summary["num_labeled"] == 24 and summary["num_unlabeled"] == 24 + 48
    weak_ops = [op["name"] for op in summary["views"]["weak"]["ops"]]
    assert weak_ops == ["translate_x"]  # The policy has no flip: the weak view never mirrors.
    assert summary["mirror_check"] is None and summary["config"]["weak_flip"] is True  # The policy decided.
    assert model.get_string_custom_property("weak_view_ops") == "translate_x"
    assert {op["name"] for op in summary["views"]["strong"]["ops"]} == {"rotate", "translate_x", "brightness"}
    assert summary["config"]["threshold_mode"] == config.threshold_mode


def _scalar_steps(log_dir, tag):
    """Sorted steps at which TensorBoard event files under `log_dir` hold scalar `tag`."""
    steps = []
    for path in kills.tensorboard_event_files(log_dir):
        for event in tf.compat.v1.train.summary_iterator(path):
            steps.extend(event.step for value in event.summary.value if value.tag == tag)
    return sorted(steps)


def test_a_killed_run_resumes_after_its_last_finished_epoch(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS, size=16)
    module_file = tmp_path / "user_model.py"
    module_file.write_text(MODULE_FILE)
    config = tiny_config(module_file=str(module_file), threshold_mode="freematch", epochs=2, steps_per_epoch=2)
    work_dir = str(tmp_path / "work")
    real_train_epoch = consistency.train_epoch
    calls = []

    def killed_in_second_epoch(step, batches, num_steps, reporter=None):
        calls.append(float(step.thresholds.global_threshold.numpy()))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real_train_epoch(step, batches, num_steps, reporter)

    monkeypatch.setattr(consistency, "train_epoch", killed_in_second_epoch)
    log_dir = str(tmp_path / "tensorboard")
    with pytest.raises(KeyboardInterrupt):
        consistency.run_consistency_training(examples.uri, data_spec, config, work_dir, policy=POLICY, log_dir=log_dir)
    groups, record = checkpoint.load(work_dir)
    assert len(record["history"]) == 1
    saved_tau = float(groups["thresholds"][0])
    assert saved_tau != pytest.approx(1 / 3)  # FreeMatch's tau moved during epoch 1 and was saved.

    calls.clear()
    run = consistency.run_consistency_training(examples.uri, data_spec, config, work_dir, policy=POLICY,
                                               log_dir=log_dir)
    assert len(calls) == 1  # Only epoch 2 ran.
    assert _scalar_steps(log_dir, "eval_accuracy") == [1, 2]  # Both processes' epochs in one TensorBoard folder.
    assert calls[0] == pytest.approx(saved_tau)  # Threshold state came back from the checkpoint.
    assert run.resumed_epochs == 1 and [r["epoch"] for r in run.history] == [1, 2]
    assert run.history[0] == record["history"][0]
    assert run.model.name == "user_model" and run.model.get_layer("user_conv") is not None
    _, after = checkpoint.load(work_dir)
    assert len(after["history"]) == 2


def test_without_a_policy_the_data_decides_mirroring_once_and_a_resumed_run_reuses_it(tmp_path, monkeypatch):
    from components.consistency import mirror_check

    examples, _, data_spec = artifact_pair(tmp_path, SPLITS, size=16)
    checks = []
    real_check = mirror_check.check_mirroring

    def counted(*args, **kwargs):
        checks.append(args[1].shape)  # the train images it trained on
        return real_check(*args, **kwargs)

    monkeypatch.setattr(mirror_check, "check_mirroring", counted)
    config = tiny_config(epochs=2, steps_per_epoch=1)
    assert config.weak_flip is None
    work_dir = str(tmp_path / "work")
    real_train_epoch = consistency.train_epoch
    epochs = []

    def killed_in_second_epoch(step, batches, num_steps, reporter=None):
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt("killed")
        return real_train_epoch(step, batches, num_steps, reporter)

    monkeypatch.setattr(consistency, "train_epoch", killed_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        consistency.run_consistency_training(examples.uri, data_spec, config, work_dir)
    assert checks == [(SPLITS["train"], 16, 16, 1)]
    _, record = checkpoint.load(work_dir)
    decided = record["mirror_check"]
    assert isinstance(decided["mirror"], bool) and decided["images"] == SPLITS["eval"]

    run = consistency.run_consistency_training(examples.uri, data_spec, config, work_dir)
    assert len(checks) == 1  # The resumed run reused the checkpoint's decision.
    assert run.mirror_check == decided and run.config.weak_flip is decided["mirror"]
    weak_ops = [op["name"] for op in run.views["weak"]["ops"]]
    assert ("flip_left_right" in weak_ops) is decided["mirror"]
    # A config that says what it wants is not second-guessed.
    forced = consistency.run_consistency_training(examples.uri, data_spec, tiny_config(
        epochs=1, steps_per_epoch=1, weak_flip=False), str(tmp_path / "forced"))
    assert len(checks) == 1 and forced.mirror_check is None and forced.config.weak_flip is False


def test_work_and_tensorboard_dirs_come_from_the_execution_scope(tmp_path):
    model_uri = str(tmp_path / "model")
    assert resolve_work_dir(tiny_config(), model_uri) == (os.path.join(model_uri, "progress"), "")
    with resume.execution_scope(kills.scope(str(tmp_path / "root"), "ConsistencyTraining")) as scope:
        work_dir, log_dir = resolve_work_dir(tiny_config(), model_uri)
    assert work_dir == scope.checkpoint_dir("fit-00-consistency")  # Stable across a kill and its rerun.
    assert log_dir == scope.tensorboard_dir("fit-00-consistency")
    with resume.execution_scope(kills.scope(str(tmp_path / "root"), "ConsistencyTraining")) as scope:
        assert resolve_work_dir(tiny_config(work_dir="/chosen"), model_uri) == (
            "/chosen", scope.tensorboard_dir("fit-00-consistency"))


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS, size=16)
    work_dir = str(tmp_path / "work")
    checkpoint.save(work_dir, {"model": [np.zeros((2, 2), np.float32)]}, {"history": [{"epoch": 1}]})
    with pytest.raises(ValueError, match="group 'model' has 1 variables"):
        consistency.run_consistency_training(examples.uri, data_spec, tiny_config(), work_dir)


@pytest.mark.parametrize("overrides, message", [
    ({"threshold_mode": "softmatch"}, "threshold_mode must be one of"),
    ({"mu": 0}, "mu .* must be >= 1"),
    ({"threshold": 1.5}, r"threshold must be in \(0, 1\]"),
    ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
    ({"architecture": "resnet9000"}, "Unknown architecture"),
    ({"steps_per_epoch": 0}, "steps_per_epoch must be >= 1"),
    ({"weak_translate": 0.5}, "weak_translate must be in"),
])
def test_bad_config_is_one_clear_error(overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        ConsistencyConfig(**overrides)
    assert "\n" not in str(error.value)


def test_config_round_trips_and_unknown_keys_are_named():
    config = ConsistencyConfig(threshold_mode="freematch", distribution_alignment=True, image_size=(16, 16))
    assert config_json.config_from_json(ConsistencyConfig, config_json.config_to_json(config)) == config
    with pytest.raises(ValueError, match=r"Unknown ConsistencyConfig option\(s\) \['tau'\]"):
        config_json.config_from_dict(ConsistencyConfig, {"tau": 0.9})


def test_multilabel_data_is_refused_before_training(tmp_path):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 3, "eval": 3})
    data_spec.task = "multilabel"
    with pytest.raises(ValueError, match="single-label classifiers"):
        consistency.run_consistency_training(examples.uri, data_spec, tiny_config(), str(tmp_path / "w"))


def test_component_constructs_with_channels():
    from tfx.types import channel_utils

    from components.types.artifacts import DataSpec

    component = ConsistencyTraining(
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        augmentation_policy=channel_utils.as_channel([AugmentationPolicy()]),
        config=ConsistencyConfig(architecture="small_cnn", epochs=50, threshold_mode="flexmatch"),
    )
    assert set(component.outputs) == {"model"}
    assert json.loads(component.exec_properties[CONFIG_KEY])["threshold_mode"] == "flexmatch"
