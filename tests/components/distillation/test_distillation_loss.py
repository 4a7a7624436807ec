"""Distillation loss, teacher targets and config: units without training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.distillation import losses
from components.distillation.spec import DistillationConfig
from components.training import models
from components.training.spec import TrainingConfig
from components.types import config_json
from components.types.data_spec import DataSpecContent

K = 4


def probabilities(rows, seed, scale=2.0):
    logits = np.random.default_rng(seed).normal(size=(rows, K)) * scale
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return (exp / exp.sum(1, keepdims=True)).astype("float32")


def packed(hard, teacher):
    return tf.constant(np.concatenate([hard, teacher], axis=1), tf.float32)


def per_example(loss, y_true, y_pred):
    return loss.call(y_true, tf.constant(y_pred)).numpy()


def tempered(p, temperature):
    z = np.log(p) / temperature
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_kd_loss_equals_cross_entropy_on_soft_targets_at_t1_weight1():
    teacher, student = probabilities(8, 0), probabilities(8, 1)
    hard = np.eye(K)[np.arange(8) % K]
    loss = losses.DistillationLoss(K, temperature=1.0, soft_weight=1.0)
    expected = keras.losses.categorical_crossentropy(teacher, student).numpy()
    np.testing.assert_allclose(per_example(loss, packed(hard, teacher), student), expected, rtol=1e-5)


def test_kd_loss_with_weight_zero_is_hard_label_cross_entropy():
    teacher, student = probabilities(8, 2), probabilities(8, 3)
    hard = np.eye(K)[np.arange(8) % K]
    loss = losses.DistillationLoss(K, temperature=5.0, soft_weight=0.0)
    expected = keras.losses.categorical_crossentropy(hard, student).numpy()
    np.testing.assert_allclose(per_example(loss, packed(hard, teacher), student), expected, rtol=1e-5)


def test_kd_loss_mixes_tempered_soft_term_scaled_by_t_squared():
    teacher, student = probabilities(8, 4, scale=4.0), probabilities(8, 5, scale=4.0)
    hard = np.eye(K)[np.arange(8) % K]
    temperature, weight = 3.0, 0.7
    soft = -np.sum(tempered(teacher, temperature) * np.log(tempered(student, temperature)), 1) * temperature**2
    hard_term = -np.sum(hard * np.log(student), 1)
    loss = losses.DistillationLoss(K, temperature, weight)
    got = per_example(loss, packed(hard, teacher), student)
    np.testing.assert_allclose(got, weight * soft + (1 - weight) * hard_term, rtol=1e-4)


def test_unlabeled_rows_use_the_soft_term_alone():
    teacher, student = probabilities(4, 6), probabilities(4, 7)
    hard = np.zeros((4, K))
    loss = losses.DistillationLoss(K, temperature=1.0, soft_weight=0.2)
    expected = keras.losses.categorical_crossentropy(teacher, student).numpy()
    np.testing.assert_allclose(per_example(loss, packed(hard, teacher), student), expected, rtol=1e-5)


def test_loss_rejects_bad_parameters():
    with pytest.raises(ValueError, match="temperature"):
        losses.DistillationLoss(K, temperature=0.0)
    with pytest.raises(ValueError, match="soft_weight"):
        losses.DistillationLoss(K, soft_weight=1.5)


def test_hard_label_accuracy_reads_the_hard_half():
    hard = np.eye(K)[[0, 1, 2, 3]]
    teacher = np.eye(K)[[1, 1, 1, 1]]
    student = np.eye(K)[[0, 1, 0, 0]].astype("float32")
    accuracy = losses.hard_label_accuracy(K)(packed(hard, teacher), tf.constant(student)).numpy()
    np.testing.assert_array_equal(accuracy, [1, 1, 0, 0])


def test_teacher_targets_average_teachers_at_their_input_size():
    spec = DataSpecContent(task="classification", class_names=list("abcd"), channels=1, source_format="x")
    keras.utils.set_random_seed(0)
    small, large = models.tiny_cnn(spec, (12, 12)), models.tiny_cnn(spec, (16, 16))
    images = tf.random.stateless_uniform((3, 12, 12, 1), seed=(1, 2))
    expected = (small(images) + large(tf.image.resize(images, (16, 16), antialias=True))) / 2
    hard = tf.one_hot([0, 1, 2], K)
    targets = losses.teacher_target_fn([small, large])(images, hard)
    np.testing.assert_allclose(targets[:, :K], hard)
    np.testing.assert_allclose(targets[:, K:], expected, atol=1e-6)
    with pytest.raises(ValueError, match="at least one teacher"):
        losses.teacher_target_fn([])
    with pytest.raises(ValueError, match="outputs 4 classes; the DataSpec has 3"):
        losses.check_teachers([small], 3, 1, ["teacher.keras"])


def test_config_round_trips_with_nested_student_and_validates():
    config = DistillationConfig(
        student=TrainingConfig(architecture="tiny_cnn", epochs=3, image_size=(12, 12)),
        temperature=2.0,
        generations=2,
    )
    assert config_json.config_from_json(DistillationConfig, config_json.config_to_json(config)) == config
    from_dict = config_json.coerce_config(DistillationConfig, {"student": {"architecture": "tiny_cnn"}})
    assert from_dict.student == TrainingConfig(architecture="tiny_cnn")
    with pytest.raises(ValueError, match="temperature"):
        DistillationConfig(temperature=0)
    with pytest.raises(ValueError, match="generations"):
        DistillationConfig(generations=0)
    with pytest.raises(ValueError, match="Unknown architecture"):
        DistillationConfig(student={"architecture": "huge_net"})
