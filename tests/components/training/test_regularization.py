"""Training options of issue 4: mixup / cutmix soft labels in the train step, class-imbalance weighting."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from components.training import trainer, training
from components.training.spec import TrainingConfig
from components.types import config_json, examples_io
from components.types.data_spec import SplitStats
from tests.support.canonical import artifact_pair

SPLITS = {"train": 96, "eval": 48}
NUM_CLASSES = 3


def test_new_options_are_validated_and_round_trip():
    with pytest.raises(ValueError, match="mixup_alpha"):
        TrainingConfig(mixup_alpha=1.5)
    with pytest.raises(ValueError, match="cutmix_alpha"):
        TrainingConfig(cutmix_alpha=-0.1)
    with pytest.raises(ValueError, match="class_weighting"):
        TrainingConfig(class_weighting="inverse")
    config = TrainingConfig(mixup_alpha=0.5, cutmix_alpha=1.0, class_weighting="balanced", label_smoothing=0.1)
    assert config_json.config_from_json(TrainingConfig, config_json.config_to_json(config)) == config


def test_balanced_class_weights_equalize_classes_and_keep_mean_one():
    weights = trainer.balanced_class_weights([30, 10, 0])
    np.testing.assert_allclose(weights, [40 / 60, 40 / 20, 1.0])
    assert 30 * weights[0] == pytest.approx(10 * weights[1])  # each present class carries the same total weight
    assert (30 * weights[0] + 10 * weights[1]) / 40 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="all counts are zero"):
        trainer.balanced_class_weights([0, 0])


def test_per_sample_weights_follow_soft_targets():
    weights = tf.constant([1.0, 3.0, 5.0])
    targets = tf.constant([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    got = trainer.per_sample_class_weights(targets, weights).numpy()
    np.testing.assert_allclose(got, [1.0, 0.25 + 2.25, 4.0, 1.0])


def test_class_weights_need_train_counts(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 6})
    assert training.class_weights_for(TrainingConfig(), data_spec) is None
    assert training.class_weights_for(TrainingConfig(class_weighting="balanced"), data_spec) == [1.0, 1.0, 1.0]
    empty = dataclasses.replace(data_spec, splits={"train": SplitStats(count=6, per_class={})})
    with pytest.raises(ValueError, match="per-class counts of the train split"):
        training.class_weights_for(TrainingConfig(class_weighting="balanced"), empty)


def _constant_batch(batch_size=16, size=8):
    """Image b is the constant class_b / K; its label one-hot class_b."""
    classes = np.arange(batch_size) % NUM_CLASSES
    values = (classes / NUM_CLASSES).astype("float32")
    images = np.broadcast_to(values[:, None, None, None], (batch_size, size, size, 1)).copy()
    return tf.constant(images), tf.one_hot(classes, NUM_CLASSES), values


@pytest.mark.parametrize("mixup, cutmix", [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_mixing_keeps_images_and_soft_labels_consistent(mixup, cutmix):
    images, targets, values = _constant_batch()
    mixed_images, mixed_targets = trainer.mix_batch(images, targets, mixup, cutmix, seed=7, step=3)
    class_values = np.arange(NUM_CLASSES) / NUM_CLASSES
    np.testing.assert_allclose(tf.reduce_sum(mixed_targets, -1), 1.0, atol=1e-6)
    # Each image's mean is the label-weighted mean of the class values: pixels and labels mix alike.
    np.testing.assert_allclose(tf.reduce_mean(mixed_images, [1, 2, 3]), mixed_targets.numpy() @ class_values, atol=1e-5)
    assert np.any(np.abs(tf.reduce_mean(mixed_images, [1, 2, 3]).numpy() - values) > 1e-3)


def test_mixing_is_seeded_per_step():
    images, targets, _ = _constant_batch()
    first = trainer.mix_batch(images, targets, 1.0, 1.0, seed=7, step=3)
    again = trainer.mix_batch(images, targets, 1.0, 1.0, seed=7, step=3)
    next_step = trainer.mix_batch(images, targets, 1.0, 1.0, seed=7, step=4)
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.allclose(first[1], next_step[1])


def test_mixing_draws_anew_each_step_inside_a_traced_train_step():
    # The step is a tensor here, as in the train loop: one trace serves every step.
    images, targets, _ = _constant_batch()
    traced = tf.function(lambda step: trainer.mix_batch(images, targets, 1.0, 1.0, seed=7, step=step))
    step_3, step_4 = traced(tf.constant(3, tf.int64)), traced(tf.constant(4, tf.int64))
    assert not np.allclose(step_3[1], step_4[1])
    np.testing.assert_array_equal(traced(tf.constant(3, tf.int64))[1], step_3[1])
    np.testing.assert_allclose(step_3[1], trainer.mix_batch(images, targets, 1.0, 1.0, seed=7, step=3)[1], atol=1e-6)


def test_mixup_and_cutmix_with_label_smoothing_train(tmp_path):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS)
    config = TrainingConfig(
        architecture="tiny_cnn", epochs=10, batch_size=16, learning_rate=0.03, verbose=0,
        mixup_alpha=1.0, cutmix_alpha=1.0, label_smoothing=0.1,
    )
    model, history, metrics = training.train_classifier(examples.uri, data_spec, config)
    assert history["loss"][-1] < history["loss"][0]
    assert metrics["eval_accuracy"] > 0.6, metrics


def test_balanced_weighting_reaches_the_loss(tmp_path):
    """Counts claiming class 0 is rare give it ~100x weight: the model then favours class 0."""
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS)
    names = data_spec.class_names
    skewed = dataclasses.replace(
        data_spec, splits=dict(data_spec.splits, train=SplitStats(96, {names[0]: 1, names[1]: 100, names[2]: 100}))
    )
    config = TrainingConfig(
        architecture="tiny_cnn", epochs=2, batch_size=16, learning_rate=0.01, verbose=0, class_weighting="balanced"
    )
    model, _, _ = training.train_classifier(examples.uri, skewed, config)
    images = [batch[0] for batch in examples_io.load_split(examples.uri, "eval", data_spec, batch_size=48)]
    predicted = np.argmax(model.predict(tf.concat(images, 0), verbose=0), axis=1)
    assert np.mean(predicted == 0) > 0.6, np.bincount(predicted, minlength=NUM_CLASSES)
