"""Policies with label-mixing ops (mixup, cutmix): split into image layer + mixing part, mixed in the train step."""

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from augment_ops.policy import SAMPLING_RANDOM_N, Policy, PolicyOp, sample_magnitudes
from components.common import artifact_io
from components.common.augmentation import (
    apply_mixing, load_augmentation, load_augmentation_layer, mixing_seed, split_policy,
)
from components.training import executor as training_executor
from components.training import trainer
from components.training.spec import TrainingConfig
from components.types import artifacts, config_json
from tests.support.canonical import artifact_pair

NUM_CLASSES, SIZE = 4, 8


def _write_policy(directory, policy: Policy) -> str:
    tf.io.gfile.makedirs(str(directory))
    artifact_io.write_text(os.path.join(str(directory), artifacts.POLICY_FILE_NAME), policy.to_json())
    return str(directory)


def _batch(count=32, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % NUM_CLASSES
    images = rng.random((count, SIZE, SIZE, 1)).astype("float32") * 0.2 + labels[:, None, None, None] / NUM_CLASSES
    return images.astype("float32"), np.eye(NUM_CLASSES, dtype="float32")[labels]


class OneHotRows(keras.metrics.Metric):
    """Share of training targets that are still one-hot rows (what the loss saw after mixing)."""

    def __init__(self, name="one_hot_rows", **kwargs):
        super().__init__(name=name, **kwargs)
        self.one_hot = self.add_weight(name="one_hot", initializer="zeros")
        self.rows = self.add_weight(name="rows", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(y_true, "float32")
        self.one_hot.assign_add(tf.reduce_sum(tf.cast(tf.reduce_max(y_true, -1) > 1 - 1e-6, "float32")))
        self.rows.assign_add(tf.cast(tf.shape(y_true)[0], "float32"))

    def result(self):
        return self.one_hot / tf.maximum(self.rows, 1.0)


def _build():
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)), keras.layers.Flatten(), keras.layers.Dense(NUM_CLASSES, activation="softmax"),
    ])


def _fit(tmp_path, policy: Policy, seed=0, epochs=2):
    loaded = load_augmentation(_write_policy(tmp_path / f"policy_{seed}_{policy.name}", policy), seed)
    images, targets = _batch()
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).batch(8)
    config = TrainingConfig(epochs=epochs, batch_size=8, learning_rate=0.01, seed=seed, verbose=0)
    model, history = trainer.fit(
        _build, dataset, None, config, "classification", len(images), loaded.layer,
        metrics=[OneHotRows()], log_dir="", checkpoint_dir="", mixing_policy=loaded.mixing,
    )
    return model, history


def test_split_keeps_each_ops_per_sample_rate():
    joint = Policy((PolicyOp("rotate", 0.5, 0.6), PolicyOp("translate_x", 0.3, 0.6), PolicyOp("mixup", 0.8, 0.6)),
                   sampling=SAMPLING_RANDOM_N, num_ops=1, name="c1")
    parts = split_policy(joint)
    assert parts.image.op_names == ("rotate", "translate_x") and parts.image.num_ops == 1
    assert [op.probability for op in parts.image.ops] == pytest.approx([0.4, 0.4])
    assert parts.mixing.op_names == ("mixup",) and parts.mixing.sampling == "all"
    assert parts.mixing.ops[0].probability == pytest.approx(0.2) and parts.mixing.ops[0].magnitude == 0.8
    # Measured: each op is active on the same share of samples in the joint policy and in the split.
    batch = 20000
    joint_rates = [float(np.mean(m.numpy() > 0)) for m in sample_magnitudes(joint, 3, batch)]
    image_rates = [float(np.mean(m.numpy() > 0)) for m in sample_magnitudes(parts.image, 4, batch)]
    mixing_rate = float(np.mean(sample_magnitudes(parts.mixing, 5, batch)[0].numpy() > 0))
    np.testing.assert_allclose(image_rates + [mixing_rate], joint_rates, atol=0.015)
    image_only = Policy((PolicyOp("rotate", 0.5, 0.6),), name="r")
    assert split_policy(image_only).image is image_only and split_policy(image_only).mixing is None


def test_mixup_at_p1_makes_training_targets_soft_while_image_ops_keep_them_one_hot(tmp_path):
    mixup = Policy((PolicyOp("rotate", 0.3, 1.0), PolicyOp("mixup", 1.0, 1.0)), name="rotate_mixup")
    _, mixed = _fit(tmp_path, mixup)
    assert max(mixed["one_hot_rows"]) < 0.3, mixed["one_hot_rows"]
    image_only = Policy((PolicyOp("rotate", 0.3, 1.0), PolicyOp("cutout", 0.5, 1.0)), name="rotate_cutout")
    _, plain = _fit(tmp_path, image_only)
    assert plain["one_hot_rows"] == [1.0, 1.0]


def test_policy_mixing_is_deterministic_with_a_seed(tmp_path):
    policy = Policy((PolicyOp("cutmix", 1.0, 0.5), PolicyOp("mixup", 1.0, 0.5)), name="mix")
    first, _ = _fit(tmp_path, policy, seed=3, epochs=1)
    again, _ = _fit(tmp_path, policy, seed=3, epochs=1)
    other, _ = _fit(tmp_path, policy, seed=4, epochs=1)
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not all(np.allclose(a, b) for a, b in zip(first.get_weights(), other.get_weights()))
    images, targets = (tf.constant(v) for v in _batch())
    mixing = split_policy(policy).mixing
    step_3 = apply_mixing(mixing, images, targets, 3, 3)
    traced = tf.function(lambda step: apply_mixing(mixing, images, targets, 3, step))(tf.constant(3, tf.int64))
    np.testing.assert_allclose(step_3[1], traced[1], atol=1e-6)
    assert not np.allclose(step_3[1], apply_mixing(mixing, images, targets, 3, 4)[1])
    np.testing.assert_allclose(tf.reduce_sum(step_3[1], -1), 1.0, atol=1e-5)


def test_search_trials_mix_as_training_does():
    from components.augmentation_search.compiled_ops import CompiledOps

    images, targets = (tf.constant(v) for v in _batch())
    mixing = split_policy(Policy((PolicyOp("mixup", 1.0, 1.0), PolicyOp("cutmix", 0.6, 0.5)), name="m")).mixing
    ops = CompiledOps((SIZE, SIZE, 1), NUM_CLASSES)
    trial = ops.run_policy(mixing, images, targets, mixing_seed(7, 5))
    trained = apply_mixing(mixing, images, targets, 7, 5)
    np.testing.assert_allclose(trial[0], trained[0], atol=1e-5)
    np.testing.assert_allclose(trial[1], trained[1], atol=1e-6)


def test_consumers_that_feed_images_only_drop_mixing_ops_with_a_log_line(tmp_path, caplog):
    policy = Policy((PolicyOp("rotate", 0.3, 0.5), PolicyOp("mixup", 1.0, 0.5)), name="rot_mix")
    uri = _write_policy(tmp_path / "p", policy)
    with caplog.at_level(logging.WARNING):
        layer = load_augmentation_layer(uri, seed=0, consumer="NoisyStudent")
    assert layer.policy.op_names == ("rotate",) and not layer.policy.uses_labels
    assert "NoisyStudent" in caplog.text and "mixup" in caplog.text
    only_mixing = _write_policy(tmp_path / "m", Policy((PolicyOp("cutmix", 1.0, 1.0),), name="cm"))
    identity = load_augmentation_layer(only_mixing, seed=0)
    images = _batch(4)[0]
    np.testing.assert_allclose(identity(images, training=True), images, atol=1e-6)
    loaded = load_augmentation(only_mixing, seed=0)
    assert loaded.layer is None and loaded.mixing.op_names == ("cutmix",)


def test_training_component_trains_a_policy_with_mixing_ops(tmp_path):
    examples, data_spec, _ = artifact_pair(tmp_path, {"train": 24, "eval": 12})
    policy_artifact = artifacts.AugmentationPolicy()
    policy_artifact.uri = _write_policy(
        tmp_path / "policy", Policy((PolicyOp("translate_x", 0.3, 0.5), PolicyOp("mixup", 1.0, 0.5)),
                                    sampling=SAMPLING_RANDOM_N, num_ops=1, name="searched"))
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    config = TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=8, verbose=0)
    training_executor.Executor().Do(
        {"examples": [examples], "data_spec": [data_spec], "augmentation_policy": [policy_artifact]},
        {"model": [model]},
        {"config": config_json.config_to_json(config)},
    )
    assert tf.io.gfile.exists(os.path.join(model.uri, "model.keras"))


def test_detection_and_segmentation_training_still_refuse_mixing_policies(tmp_path):
    from components.training.task_training import read_task_policy

    uri = _write_policy(tmp_path / "p", Policy((PolicyOp("mixup", 1.0, 0.5),), name="mix"))
    with pytest.raises(ValueError, match="mixes images"):
        read_task_policy(uri)
