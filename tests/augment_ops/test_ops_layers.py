"""Keras integration: the augmentation layer and the scaffold training model."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from augment_ops import layers
from augment_ops import policy as policy_lib
from augment_ops.policy import Policy


def _tiny_cnn(num_classes=3, size=16, activation="softmax"):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation=activation)(x)
    return keras.Model(inputs, outputs, name="tiny")


def _data(count=16, size=16, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((count, size, size, 3)).astype(np.float32)
    labels = rng.integers(0, num_classes, count)
    return images, labels


def test_layer_is_identity_at_inference_and_augments_in_training():
    images, _ = _data(4)
    layer = layers.AugmentationLayer(policy_lib.rand_augment(2, 0.8), seed=3)
    np.testing.assert_array_equal(np.asarray(layer(images)), images)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    first = np.asarray(layer(images, training=True))
    second = np.asarray(layer(images, training=True))
    assert first.shape == images.shape and not np.array_equal(first, images)
    assert not np.array_equal(first, second), "each training call draws a new seed"
    # The same seed replays the same sequence.
    replay = layers.AugmentationLayer(policy_lib.rand_augment(2, 0.8), seed=3)
    np.testing.assert_array_equal(np.asarray(replay(images, training=True)), first)


def test_layer_config_round_trip_and_saving_inside_a_model(tmp_path):
    policy = Policy.from_ops([("rotate", 0.4, 0.5), ("hue", 0.2)], name="p")
    layer = layers.AugmentationLayer(policy, seed=7, options=layers.AugmentOptions(box_prior="ellipse"))
    clone = layers.AugmentationLayer.from_config(layer.get_config())
    assert clone.policy == policy and clone.seed == 7 and clone.options.box_prior == "ellipse"
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, _tiny_cnn()(layer(inputs)))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    images, _ = _data(2)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    assert layers.has_augmentation(loaded)


def test_layer_supports_jit_unless_the_projective_warp_is_chosen():
    assert layers.AugmentationLayer(policy_lib.rand_augment()).supports_jit
    projective = layers.AugmentOptions(warp="projective")
    assert not layers.AugmentationLayer(policy_lib.rand_augment(), options=projective).supports_jit
    assert layers.AugmentationLayer(Policy.from_ops([("brightness", 0.5)]), options=projective).supports_jit


def test_layer_refuses_mixing_without_labels():
    layer = layers.AugmentationLayer(Policy.from_ops([("mixup", 0.5)]))
    with pytest.raises(ValueError, match="needs labels"):
        layer(np.zeros((2, 8, 8, 3), np.float32), training=True)


def test_scaffold_trains_one_epoch_and_returns_the_bare_model():
    images, labels = _data(16)
    bare = _tiny_cnn()
    training_model, returned = layers.scaffold(bare, policy_lib.rand_augment(2, 0.5), seed=1)
    assert returned is bare and not layers.has_augmentation(returned)
    training_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [np.array(w) for w in bare.get_weights()]
    history = training_model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, bare.get_weights())), "weights did not move"
    # Inference through the scaffold is the bare model.
    np.testing.assert_allclose(training_model.predict(images, verbose=0), bare.predict(images, verbose=0), atol=1e-6)


def test_scaffold_with_mixing_trains_on_soft_labels():
    images, labels = _data(16)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    policy = Policy.from_ops([("mixup", 1.0, 0.5), ("cutmix", 1.0, 0.5), ("brightness", 0.3)])
    training_model, bare = layers.scaffold(_tiny_cnn(), policy, seed=2)
    x, y = training_model.augment(tf.constant(images), tf.constant(one_hot))
    assert np.all(np.asarray(y).max(axis=1) < 1.0 + 1e-6) and np.any(np.asarray(y).max(axis=1) < 1.0)
    np.testing.assert_allclose(np.asarray(y).sum(axis=1), 1.0, atol=1e-6)
    training_model.compile(optimizer="adam", loss="categorical_crossentropy")
    history = training_model.fit(images, one_hot, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="one-hot or soft"):
        training_model.augment(tf.constant(images), tf.constant(labels))


def test_scaffold_moves_segmentation_targets_with_the_images():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 3, (4, 16, 16, 1)).astype(np.int32)
    images = np.repeat(masks / 4.0 + 0.1, 3, axis=-1).astype(np.float32)
    policy = Policy.from_ops([("flip_left_right", 1.0)])
    training_model, _ = layers.scaffold(_tiny_cnn(), policy, options=layers.AugmentOptions(), target_key="masks")
    x, y = training_model.augment(tf.constant(images), tf.constant(masks))
    np.testing.assert_array_equal(np.asarray(y), masks[:, :, ::-1])
    np.testing.assert_allclose(np.asarray(x), images[:, :, ::-1], atol=1e-6)


def test_augmented_model_config_round_trip():
    training_model, _ = layers.scaffold(_tiny_cnn(), policy_lib.trivial_augment(), seed=4)
    clone = layers.AugmentedModel.from_config(training_model.get_config())
    assert clone.augmentation.policy == training_model.augmentation.policy and clone.target_key == "labels"
