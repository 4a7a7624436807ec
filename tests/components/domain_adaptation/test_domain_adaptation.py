"""AdaBN, CORAL, gradient reversal, method picking and the domain adaptation executor on tiny data."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.domain_adaptation import adaptation, alignment, domain_adaptation
from components.domain_adaptation.component import DomainAdaptation
from components.domain_adaptation.executor import Executor
from components.domain_adaptation.spec import CONFIG_KEY, SUMMARY_FILE_NAME, DomainAdaptationConfig
from components.common import model_io
from components.training import models
from components.types import config_json, examples_io, features
from components.types.artifacts import DataSpec
from tests.support.canonical import artifact_pair, class_image


def _small_cnn(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    keras.utils.set_random_seed(0)
    return models.build_architecture("small_cnn", data_spec, (12, 12))


def test_adabn_changes_only_batch_norm_statistics(tmp_path):
    model = _small_cnn(tmp_path)
    before = {w.path: np.array(w) for w in model.weights}
    target = tf.random.stateless_uniform([40, 12, 12, 1], seed=[3, 4]) * 0.3 + 0.6  # Bright, low contrast.
    adapted = adaptation.adabn(model, tf.data.Dataset.from_tensor_slices(target).batch(16))
    for weight in model.weights:  # The source model is untouched.
        np.testing.assert_array_equal(np.array(weight), before[weight.path])
    changed = set()
    for source, new in zip(model.weights, adapted.weights):
        if not np.array_equal(np.array(source), np.array(new)):
            changed.add(new.path.split("/")[-1])
    assert changed == {"moving_mean", "moving_variance"}
    bn_count = len(adaptation.batch_norm_layers(adapted))
    moving = [w for source, w in zip(model.weights, adapted.weights)
              if not np.array_equal(np.array(source), np.array(w))]
    assert len(moving) == 2 * bn_count  # Every BN layer re-estimated.
    # The first BN's statistics are exactly those of its input (the first conv) on the target images.
    conv_out = model.layers[1](target).numpy().reshape(-1, model.layers[1].filters)
    first_bn = adaptation.batch_norm_layers(adapted)[0]
    np.testing.assert_allclose(first_bn.moving_mean, conv_out.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first_bn.moving_variance, conv_out.var(0), rtol=1e-3, atol=1e-5)


def test_adabn_needs_batch_norm():
    inputs = keras.Input((12, 12, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(pooled))  # No BatchNormalization.
    with pytest.raises(ValueError, match="needs BatchNormalization"):
        adaptation.adabn(model, tf.data.Dataset.from_tensor_slices(tf.zeros([2, 12, 12, 1])).batch(2))


def test_coral_loss_hand_value():
    # Covariances (n - 1 = 1): source diag(2, 0), target diag(0, 2); ||diff||_F^2 = 8; / (4 * 2^2) = 0.5.
    source = tf.constant([[1.0, 0.0], [-1.0, 0.0]])
    target = tf.constant([[0.0, 1.0], [0.0, -1.0]])
    assert float(alignment.coral_loss(source, target)) == pytest.approx(0.5)
    assert float(alignment.coral_loss(source, source + 5.0)) == pytest.approx(0.0)  # Means do not count.


def test_gradient_reversal_flips_and_scales_the_gradient():
    features = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        tape.watch(features)
        output = alignment.reverse_gradient(features, tf.constant(0.5))
        loss = tf.reduce_sum(output * tf.constant([[3.0, 4.0]]))
    np.testing.assert_array_equal(output, features)
    np.testing.assert_allclose(tape.gradient(loss, features), [[-1.5, -2.0]])
    assert float(alignment.dann_weight(tf.constant(0.0))) == 0.0
    assert float(alignment.dann_weight(tf.constant(1.0))) == pytest.approx(1.0, abs=1e-4)


def test_pick_method_uses_validation_or_the_default():
    results = [domain_adaptation.MethodResult(m, v, None, 0.0) for m, v in
               [("source_only", 0.5), ("adabn", 0.7), ("dann", 0.7)]]
    assert domain_adaptation.pick_method(results, "dann") == "adabn"
    unlabeled = [domain_adaptation.MethodResult(m, None, None, 0.0) for m in ("source_only", "adabn")]
    assert domain_adaptation.pick_method(unlabeled, "adabn") == "adabn"


def test_config_validation():
    with pytest.raises(ValueError, match="Unknown adaptation method"):
        DomainAdaptationConfig(methods=("adabn", "magic"))
    with pytest.raises(ValueError, match="default_method"):
        DomainAdaptationConfig(methods=("source_only",), default_method="adabn")
    config = DomainAdaptationConfig(methods=("adabn", "coral"), default_method="coral")
    assert config_json.config_from_json(DomainAdaptationConfig, config_json.config_to_json(config)) == config
    assert DomainAdaptationConfig().default_method == "self_training"
    assert DomainAdaptationConfig(methods=("source_only", "adabn")).default_method == "adabn"


def write_target(root, split_sizes, num_classes=3, size=12, seed=1):
    """Target domain: the canonical stripes with inverted contrast and a brighter, noisier look."""
    rng = np.random.default_rng(seed)
    for split, count in split_sizes.items():
        directory = examples_io.split_directory(root, split)
        os.makedirs(directory, exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(directory, "data.gz"), options="GZIP") as writer:
            for index in range(count):
                label = index % num_classes
                image = (255 - class_image(label, num_classes, size, rng)) // 2 + 100
                example = examples_io.make_example(
                    tf.io.encode_png(image).numpy(), size, size, 1, f"target/{split}/{index}",
                    label=None if split == features.UNLABELED_SPLIT else label,
                )
                writer.write(example.SerializeToString())
    target = standard_artifacts.Examples()
    target.uri = root
    return target


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("domain_adaptation")
    source, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 60, "eval": 24})
    target = write_target(str(tmp_path / "target"), {"unlabeled": 48, "eval": 24, "test": 24})
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    pseudo = standard_artifacts.Examples()
    pseudo.uri = str(tmp_path / "pseudo_labels")
    config = DomainAdaptationConfig(architecture="small_cnn", source_epochs=3, epochs=1, batch_size=16,
                                    self_training_rounds=1, confidence_threshold=0.0, verbose=0)
    Executor().Do(
        {"source_examples": [source], "data_spec": [data_spec_artifact], "target_examples": [target]},
        {"model": [model], "pseudo_labels": [pseudo]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return model, target, config, pseudo


def test_executor_scores_every_method_and_picks_the_best_on_validation(executed):
    model, _, config, _ = executed
    summary = json.load(open(os.path.join(model.uri, SUMMARY_FILE_NAME)))
    methods = [result["method"] for result in summary["results"]]
    assert methods == list(config.methods)
    validation = {r["method"]: r["validation_accuracy"] for r in summary["results"]}
    assert summary["best_method"] == max(methods, key=lambda m: (validation[m], -methods.index(m)))
    assert model.get_string_custom_property("best_method") == summary["best_method"]
    for result in summary["results"]:
        assert model.get_float_custom_property(f"target_test_accuracy_{result['method']}") == pytest.approx(
            result["test_accuracy"])
        assert 0.0 <= result["test_accuracy"] <= 1.0
    assert model.get_int_custom_property("picked_on_validation") == 1


def test_output_model_is_the_picked_method_and_loads(executed):
    model, target, _, _ = executed
    loaded = model_io.load_model(model.uri)
    from components.types.data_spec import DataSpecContent

    spec = DataSpecContent(task="classification", class_names=["class_0", "class_1", "class_2"], channels=1,
                           source_format="x")
    validation = examples_io.load_split(target.uri, "eval", spec, batch_size=64, image_size=(12, 12))
    picked = model.get_string_custom_property("best_method")
    assert adaptation.accuracy(loaded, validation) == pytest.approx(
        model.get_float_custom_property(f"target_validation_accuracy_{picked}"))


def test_target_pseudo_labels_are_examples_with_provenance_from_the_picked_model(executed):
    from components.pseudo_labels import selection
    from components.types.data_spec import DataSpecContent

    model, target, config, pseudo = executed
    spec = DataSpecContent(task="classification", class_names=["class_0", "class_1", "class_2"], channels=1,
                           source_format="x")
    loaded = model_io.load_model(model.uri)
    unlabeled = examples_io.load_split(target.uri, "unlabeled", spec, batch_size=64, image_size=(12, 12))
    probabilities = np.concatenate([loaded.predict(images, verbose=0) for images, _ in unlabeled])
    predicted = np.argmax(probabilities, -1)
    # The config's threshold (0) and class balancing, as self-training uses them.
    expected = len(selection.select_pseudo_labels(probabilities, config.confidence_threshold, "hard", True).indices)
    assert expected > 0
    assert pseudo.get_int_custom_property("pseudo_labels") == expected
    assert pseudo.get_int_custom_property("target_records") == 48
    assert pseudo.get_string_custom_property("teacher") == model.uri
    assert pseudo.get_string_custom_property("method") == model.get_string_custom_property("best_method")
    records = [tf.train.Example.FromString(raw.numpy()) for raw in tf.data.TFRecordDataset(
        examples_io.split_files(pseudo.uri, "train"), compression_type="GZIP")]
    assert len(records) == expected
    by_source = {f"target/unlabeled/{index}": label for index, label in enumerate(predicted)}
    for record in records:
        feature = record.features.feature
        source_id = feature[features.IMAGE_SOURCE_ID].bytes_list.value[0].decode()
        assert feature[features.LABEL].int64_list.value[0] == by_source[source_id]
        assert feature[features.PROVENANCE].bytes_list.value[0] == b"pseudo_label"
        assert feature[features.PROVENANCE_MODEL].bytes_list.value[0].decode() == model.uri


def test_mismatched_target_classes_are_rejected(tmp_path):
    source, data_spec_artifact, _ = artifact_pair(tmp_path / "s", {"train": 6, "eval": 3})
    other, other_spec, _ = artifact_pair(tmp_path / "t", {"unlabeled": 6}, num_classes=4)
    with pytest.raises(ValueError, match="same classes"):
        Executor().Do(
            {"source_examples": [source], "data_spec": [data_spec_artifact], "target_examples": [other],
             "target_data_spec": [other_spec]},
            {"model": [standard_artifacts.Model()]},
            {CONFIG_KEY: config_json.config_to_json(DomainAdaptationConfig())},
        )


def test_component_constructs_with_channels():
    from tfx.types import channel_utils

    component = DomainAdaptation(
        source_examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        target_examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        source_model=channel_utils.as_channel([standard_artifacts.Model()]),
        config=DomainAdaptationConfig(methods=("source_only", "adabn", "self_training", "dann")),
    )
    assert set(component.outputs) == {"model", "pseudo_labels"}
    assert json.loads(component.exec_properties[CONFIG_KEY])["methods"] == [
        "source_only", "adabn", "self_training", "dann"]


def test_an_unlabeled_only_target_trains_only_the_default_method(tmp_path):
    source, _, data_spec = artifact_pair(tmp_path, {"train": 24, "eval": 12})
    target = write_target(str(tmp_path / "target"), {"unlabeled": 24})
    keras.utils.set_random_seed(0)
    source_model = models.build_architecture("small_cnn", data_spec, (12, 12))
    config = DomainAdaptationConfig(epochs=1, batch_size=8, self_training_rounds=1, confidence_threshold=0.0,
                                    target_labeled_split=None, verbose=0)
    model, results, picked = domain_adaptation.adapt(source.uri, target.uri, data_spec, config, source_model)
    assert picked == "self_training" and [result.method for result in results] == ["self_training"]
    assert model.count_params() == source_model.count_params()
