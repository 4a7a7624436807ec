"""Training through the transform graph and serving raw bytes through it: the same bytes, the same tensor."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.types import channel_utils, standard_artifacts

from components.common import model_io
from components.training.component import Training
from components.training.executor import Executor as TrainingExecutor
from components.training.spec import CONFIG_KEY, TrainingConfig
from components.transform import preprocessing, training_hook
from components.transform.component import ImageTransform
from components.transform.spec import TransformConfig
from components.transform.transform_graph import ImageTransformGraph, trained_model
from components.types import config_json
from components.types.artifacts import DataSpec
from tests.components.transform.helpers import run_transform, serialized_records, unit_images
from tests.support.canonical import artifact_pair

IMAGE_SIZE = (8, 8)  # The examples are 12x12 RGB: the graph resizes.


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """ImageTransform then Training (1 epoch, tiny_cnn) through their executors."""
    root = tmp_path_factory.mktemp("transform_training")
    examples, data_spec_artifact, data_spec = artifact_pair(root, {"train": 24, "eval": 12}, size=12, channels=3)
    graph = run_transform(examples, data_spec_artifact, str(root), TransformConfig(image_size=IMAGE_SIZE))
    model = standard_artifacts.Model()
    model.uri = str(root / "model")
    config = TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=8, learning_rate=0.01, verbose=0)
    TrainingExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "transform_graph": [graph]},
        {"model": [model]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return examples, data_spec, graph, model


def test_training_input_and_serving_signature_give_the_same_tensor(trained):
    examples, data_spec, graph_artifact, model = trained
    graph = ImageTransformGraph(graph_artifact.uri)
    training_images = np.concatenate(
        [images.numpy() for images, _ in graph.dataset(examples.uri, "eval", data_spec, batch_size=5)]
    )
    serialized = serialized_records(examples.uri, "eval")
    serving = tf.saved_model.load(model_io.serving_path(model.uri))
    served_images = serving.transform_features(tf.constant(serialized))[preprocessing.IMAGE_KEY].numpy()
    assert training_images.shape == served_images.shape == (12, *IMAGE_SIZE, 3)
    assert np.max(np.abs(training_images - served_images)) <= 1e-6
    # Both are the normalized decode: (x - mean) / std with the Beam statistics of the train split.
    statistics = graph.statistics()
    expected = (unit_images(serialized, 3, IMAGE_SIZE) - statistics.mean) / statistics.std
    assert np.max(np.abs(served_images - expected)) <= 1e-5
    assert abs(float(training_images.mean())) < 1.0 and np.all(statistics.std > 0.05)


def test_serving_raw_bytes_matches_the_keras_model_on_unit_images(trained):
    examples, data_spec, _, model = trained
    serialized = serialized_records(examples.uri, "eval")
    keras_model = model_io.load_model(model.uri)
    expected = keras_model(unit_images(serialized, 3, IMAGE_SIZE)).numpy()
    serving = tf.saved_model.load(model_io.serving_path(model.uri))
    from_examples = serving.serve_examples(tf.constant(serialized))["probabilities"].numpy()
    encoded = [tf.train.Example.FromString(record).features.feature["image/encoded"].bytes_list.value[0]
               for record in serialized]
    from_bytes = serving.serve_image_bytes(tf.constant(encoded))["probabilities"].numpy()
    from_floats = serving.signatures["serving_default"](tf.constant(unit_images(serialized, 3, IMAGE_SIZE)))
    np.testing.assert_allclose(from_examples, expected, atol=1e-5)
    np.testing.assert_allclose(from_bytes, expected, atol=1e-5)
    np.testing.assert_allclose(from_floats["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(expected.sum(axis=-1), 1.0, atol=1e-5)


def test_model_artifact_records_the_graph_and_one_epoch(trained):
    _, _, graph, model = trained
    assert model.get_string_custom_property("transform_graph") == graph.uri
    assert model.get_int_custom_property("epochs_trained") == 1
    assert 0.0 <= model.get_float_custom_property("eval_accuracy") <= 1.0
    history = json.loads(open(os.path.join(model.uri, "history.json")).read())
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    loaded = model_io.load_model(model.uri)
    assert loaded.input_shape == (None, *IMAGE_SIZE, 3)
    assert trained_model(loaded) is not loaded and trained_model(loaded).name == "tiny_cnn"


def test_settings_the_graph_cannot_honour_are_refused(trained):
    _, data_spec, graph_artifact, _ = trained
    graph = ImageTransformGraph(graph_artifact.uri)
    with pytest.raises(ValueError, match=r"training.image_size \[10, 10\] differs from the transform graph's \[8, 8\]"):
        training_hook.check_config(TrainingConfig(image_size=(10, 10)), graph, data_spec)
    with pytest.raises(ValueError, match="synthetic_ratio > 0 with a transform graph"):
        training_hook.check_config(TrainingConfig(synthetic_ratio=0.5), graph, data_spec)


def test_augmentation_runs_in_unit_space_and_maps_back():
    seen = []

    class Record(keras.layers.Layer):
        def call(self, images, training=None):
            seen.append(images)
            return images

    mean, std = [0.2, 0.5, 0.7], [0.1, 0.3, 0.2]
    unit = np.random.default_rng(0).uniform(size=(2, 4, 4, 3)).astype("float32")
    normalized = (unit - np.float32(mean)) / np.float32(std)
    out = training_hook.NormalizedSpaceAugmentation(Record(), mean, std)(normalized, training=True)
    np.testing.assert_allclose(seen[-1], unit, atol=1e-6)
    np.testing.assert_allclose(out, normalized, atol=1e-5)


def test_an_augmentation_policy_trains_through_the_graph(trained):
    from augment_ops.layers import AugmentationLayer
    from augment_ops.policy import Policy

    examples, data_spec, graph, _ = trained
    config = TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=8, verbose=0)
    augmentation = AugmentationLayer(Policy.from_ops([("brightness", 0.5, 1.0), ("flip_left_right", 1.0, 0.5)]), seed=1)
    model, history, metrics = training_hook.train_classifier(
        examples.uri, data_spec, config, graph.uri, augmentation=augmentation, log_dir=""
    )
    assert np.isfinite(history["loss"][0]) and 0.0 <= metrics["eval_accuracy"] <= 1.0
    assert model.input_shape == (None, *IMAGE_SIZE, 3) and trained_model(model) is not model


def test_components_construct_and_connect():
    examples = channel_utils.as_channel([standard_artifacts.Examples()])
    data_spec = channel_utils.as_channel([DataSpec()])
    transform = ImageTransform(examples=examples, data_spec=data_spec, config={"normalize": "none"})
    training = Training(
        examples=examples, data_spec=data_spec, config={"architecture": "tiny_cnn"},
        transform_graph=transform.outputs["transform_graph"],
    )
    assert json.loads(transform.exec_properties["config"])["normalize"] == "none"
    assert training.inputs["transform_graph"] is transform.outputs["transform_graph"]
