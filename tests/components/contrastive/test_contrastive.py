"""Views, linear probe, config, executor and the warm-start contract of the contrastive component."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from tfx.types import standard_artifacts

from components.contrastive import backbone, probe, views
from components.contrastive.component import Contrastive
from components.contrastive.executor import Executor
from components.contrastive.spec import CONFIG_KEY, LINEAR_PROBE_ACCURACY, SUMMARY_FILE_NAME, ContrastiveConfig
from components.common import model_io
from components.training import models, training
from components.types import config_json, examples_io
from tests.support.canonical import artifact_pair


def test_views_are_seeded_random_and_identity_at_inference():
    images = tf.random.stateless_uniform([4, 12, 12, 1], seed=[1, 2])
    first, again = views.OpsAugmentation(seed=3), views.OpsAugmentation(seed=3)
    view_a, view_b = first.augment(images), first.augment(images)
    np.testing.assert_allclose(view_a, again.augment(images))  # Same seed, same sequence.
    assert float(tf.reduce_max(tf.abs(view_a - view_b))) > 0.05  # Two calls, two views.
    assert float(tf.reduce_max(tf.abs(view_a - images))) > 0.05
    np.testing.assert_array_equal(first(images, training=False), images)
    assert float(tf.reduce_min(view_a)) >= 0.0 and float(tf.reduce_max(view_a)) <= 1.0


@pytest.mark.parametrize(
    "steps, message",
    [([("warp_drive", 0.5, 1.0)], "Unknown augmentation op"), ([("mixup", 0.5, 1.0)], "mixes labels"),
     ([("rotate", 1.5, 1.0)], "must be in"), ([("rotate", 0.5)], "must be")],
)
def test_view_steps_are_validated(steps, message):
    with pytest.raises(ValueError, match=message):
        views.validate_steps(steps)
    with pytest.raises(ValueError, match=message):
        ContrastiveConfig(view_steps=steps)


def test_config_validation_and_json_round_trip():
    config = ContrastiveConfig(method="barlow_twins", epochs=3, view_steps=(("rotate", 0.2, 0.5),))
    assert config_json.config_from_json(ContrastiveConfig, config_json.config_to_json(config)) == config
    with pytest.raises(ValueError, match="method"):
        ContrastiveConfig(method="byol")
    with pytest.raises(ValueError, match="Unknown architecture"):
        ContrastiveConfig(architecture="nope")
    with pytest.raises(ValueError, match="batch_size"):
        ContrastiveConfig(batch_size=1)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_linear_probe_kernel_reproduces_sklearn_on_raw_embeddings(num_classes):
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(num_classes, 6))
    labels = np.arange(120) % num_classes
    embeddings = centers[labels] + rng.normal(size=(120, 6)) + 5.0  # Offset: the scaler must be folded in.
    fitted = probe.fit_linear_probe(embeddings[:80], labels[:80], num_classes, embeddings[80:], labels[80:])
    reference = LogisticRegression(max_iter=2000).fit(
        (embeddings[:80] - embeddings[:80].mean(0)) / embeddings[:80].std(0), labels[:80]
    )
    scaled = (embeddings[80:] - embeddings[:80].mean(0)) / embeddings[:80].std(0)
    ours = np.argmax(embeddings[80:] @ fitted.kernel + fitted.bias, axis=1)
    np.testing.assert_array_equal(ours, reference.predict(scaled))
    assert fitted.eval_accuracy == pytest.approx(np.mean(ours == labels[80:]))
    assert fitted.kernel.shape == (6, num_classes)


def test_linear_probe_needs_two_classes():
    with pytest.raises(ValueError, match="at least two classes"):
        probe.fit_linear_probe(np.zeros((4, 3)), np.zeros(4, int), 3)


def test_encoder_uses_embedding_layer_and_rejects_unknown_names(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    model = models.build_architecture("small_cnn", data_spec, (12, 12))
    assert backbone.encoder_of(model).output_shape == (None, 128)
    assert backbone.head_reads_embedding(model)  # Only Dropout between embedding and head.
    with pytest.raises(ValueError, match="has no layer 'nope'"):
        backbone.encoder_of(model, "nope")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("contrastive")
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, {"train": 24, "eval": 24, "unlabeled": 40})
    model_artifact = standard_artifacts.Model()
    model_artifact.uri = str(tmp_path / "model")
    config = ContrastiveConfig(method="simclr", architecture="small_cnn", epochs=2, batch_size=16, verbose=0)
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]},
        {"model": [model_artifact]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return examples, data_spec, model_artifact


def test_executor_records_probe_and_summary(pretrained):
    examples, data_spec, artifact = pretrained
    probe_accuracy = artifact.get_float_custom_property(LINEAR_PROBE_ACCURACY)
    assert 0.0 <= probe_accuracy <= 1.0
    assert artifact.get_string_custom_property("method") == "simclr"
    summary = json.load(open(os.path.join(artifact.uri, SUMMARY_FILE_NAME)))
    assert summary["metrics"]["pretrain_images"] == 64  # train (labels ignored) + unlabeled.
    assert len(summary["history"]["loss"]) == 2 and all(np.isfinite(summary["history"]["loss"]))
    # The head holds the probe: the saved classifier scores the probe's accuracy on eval.
    model = model_io.load_model(artifact.uri)
    dataset = examples_io.load_split(examples.uri, "eval", data_spec, batch_size=64)
    images, labels = next(iter(dataset))
    accuracy = np.mean(np.argmax(model(images), axis=1) == labels.numpy())
    assert abs(accuracy - probe_accuracy) <= 1.0 / len(labels) + 1e-9


def test_backbone_is_a_warm_start_for_the_training_component(pretrained):
    examples, data_spec, artifact = pretrained
    warm = model_io.load_model(artifact.uri)
    backbone.reset_layer_names()  # What a fresh process (or the next in-process component) sees.
    fresh = models.build_architecture("small_cnn", data_spec, (12, 12))
    assert backbone.weighted_layer_shapes(fresh) == backbone.weighted_layer_shapes(warm)
    backbone.reset_layer_names()
    started = training.warm_started(lambda: models.build_architecture("small_cnn", data_spec, (12, 12)), warm)()
    for layer in warm.layers:
        for expected, actual in zip(layer.get_weights(), started.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(expected, actual)


def test_pretraining_is_deterministic(tmp_path):
    from components.contrastive import contrastive

    examples, _, data_spec = artifact_pair(tmp_path, {"train": 16, "eval": 8, "unlabeled": 16})
    config = ContrastiveConfig(method="barlow_twins", architecture="tiny_cnn", epochs=1, batch_size=8, verbose=0)
    first, history, _ = contrastive.pretrain_backbone(examples.uri, data_spec, config)
    second, again, _ = contrastive.pretrain_backbone(examples.uri, data_spec, config)
    assert history == again
    for left, right in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(left, right, rtol=1e-5, atol=1e-6)


def test_too_few_images_is_a_clear_error(tmp_path):
    from components.contrastive import contrastive

    examples, _, data_spec = artifact_pair(tmp_path, {"train": 4, "eval": 4})
    config = ContrastiveConfig(architecture="tiny_cnn", epochs=1, batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="at least batch_size=16 images"):
        contrastive.pretrain_backbone(examples.uri, data_spec, config)


def test_component_constructs_with_channels():
    from tfx.types import channel_utils

    from components.types.artifacts import DataSpec

    component = Contrastive(
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        config=ContrastiveConfig(method="barlow_twins", architecture="small_cnn", epochs=20),
    )
    assert "model" in component.outputs
    assert json.loads(component.exec_properties[CONFIG_KEY])["method"] == "barlow_twins"
