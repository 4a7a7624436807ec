import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.common import model_io
from components.training import models, training
from components.training.component import Training
from components.training.executor import Executor
from components.training.spec import CONFIG_KEY, TrainingConfig
from components.types import config_json, examples_io, features
from tests.support.canonical import artifact_pair

SPLITS = {"train": 96, "eval": 48}


def test_config_rejects_bad_values_at_construction():
    with pytest.raises(ValueError, match="Unknown architecture"):
        TrainingConfig(architecture="nope")
    with pytest.raises(ValueError, match="epochs"):
        TrainingConfig(epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        TrainingConfig(optimizer="rmsprop-ish")
    with pytest.raises(ValueError, match="Unknown TrainingConfig option"):
        config_json.coerce_config(TrainingConfig, {"epoch": 3})


def test_config_json_round_trip():
    config = TrainingConfig(epochs=3, image_size=(16, 20), label_smoothing=0.1)
    assert config_json.config_from_json(TrainingConfig, config_json.config_to_json(config)) == config


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_builtin_architectures_output_probabilities(name, tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    model = models.build_architecture(name, data_spec, (12, 12))
    probabilities = model(np.random.default_rng(0).uniform(size=(2, 12, 12, 1)).astype("float32"))
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)


def test_training_learns_and_is_deterministic(tmp_path):
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, SPLITS)
    config = TrainingConfig(architecture="tiny_cnn", epochs=6, batch_size=16, learning_rate=0.03, verbose=0)
    model, history, metrics = training.train_classifier(examples.uri, data_spec, config)
    assert metrics["eval_accuracy"] > 0.8, metrics
    assert len(history["loss"]) == 6 and history["loss"][-1] < history["loss"][0]
    again, _, metrics_again = training.train_classifier(examples.uri, data_spec, config)
    assert metrics_again["eval_accuracy"] == metrics["eval_accuracy"]
    for left, right in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_allclose(left, right, rtol=1e-5, atol=1e-6)


def test_module_file_model_is_used(tmp_path):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS)
    module = tmp_path / "user_module.py"
    module.write_text(
        "import keras\n"
        "def build_model(data_spec):\n"
        "    inputs = keras.Input((12, 12, data_spec.channels))\n"
        "    x = keras.layers.Flatten()(inputs)\n"
        "    return keras.Model(inputs, keras.layers.Dense(data_spec.num_classes, activation='softmax')(x),"
        " name='user_linear')\n"
    )
    config = TrainingConfig(module_file=str(module), epochs=1, batch_size=32, verbose=0)
    model, _, _ = training.train_classifier(examples.uri, data_spec, config)
    assert model.name == "user_linear"


def test_module_file_with_dataclasses_loads(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    module = tmp_path / "dataclass_module.py"
    module.write_text(
        "from __future__ import annotations\n"
        "import dataclasses\n"
        "import keras\n"
        "@dataclasses.dataclass\n"
        "class Width:\n"
        "    units: int = 4\n"
        "def build_model(data_spec):\n"
        "    inputs = keras.Input((12, 12, data_spec.channels))\n"
        "    x = keras.layers.Dense(Width().units)(keras.layers.Flatten()(inputs))\n"
        "    return keras.Model(inputs, keras.layers.Dense(data_spec.num_classes, activation='softmax')(x))\n"
    )
    from components.training.module_file import build_model_from_module_file

    assert build_model_from_module_file(str(module), data_spec, (12, 12)).layers[2].units == 4


def test_warm_start_copies_every_layer_even_after_other_models_were_built(tmp_path, caplog):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS)
    config = TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=16, verbose=0)
    first, _, _ = training.train_classifier(examples.uri, data_spec, config)
    models.build_architecture("tiny_cnn", data_spec, (12, 12))  # Advances Keras's automatic layer names.
    with caplog.at_level("INFO", logger="components.training.training"):
        training.train_classifier(examples.uri, data_spec, config, warm_start=first)
    weighted = sum(1 for layer in first.layers if layer.weights)
    assert weighted >= 3 and f"copied weights of {weighted} of {weighted} weighted layers" in caplog.text


def test_module_file_errors_are_clear(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    module = tmp_path / "empty_module.py"
    module.write_text("x = 1\n")
    from components.training.module_file import build_model_from_module_file

    with pytest.raises(AttributeError, match="defines no function build_model"):
        build_model_from_module_file(str(module), data_spec, (12, 12))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model_from_module_file(str(tmp_path / "missing.py"), data_spec, (12, 12))


def test_executor_writes_model_artifact_and_serving_signatures(tmp_path):
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, SPLITS)
    model_artifact = standard_artifacts.Model()
    model_artifact.uri = str(tmp_path / "model")
    config = TrainingConfig(architecture="tiny_cnn", epochs=2, batch_size=16, learning_rate=0.01, verbose=0)
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]},
        {"model": [model_artifact]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    uri = model_artifact.uri
    history = json.loads(open(os.path.join(uri, "history.json")).read())
    assert len(history["loss"]) == 2
    assert model_artifact.get_float_custom_property("eval_accuracy") > 0
    loaded = model_io.load_model(uri)
    serving = tf.saved_model.load(model_io.serving_path(uri))
    images, labels = next(iter(examples_io.load_split(examples.uri, "eval", data_spec, batch_size=8)))
    expected = loaded(images).numpy()
    np.testing.assert_allclose(serving.signatures["serving_default"](images)["probabilities"], expected, atol=1e-5)
    raw = [r.numpy() for r in tf.data.TFRecordDataset(examples_io.split_files(examples.uri, "eval"), "GZIP").take(8)]
    from_examples = serving.serve_examples(tf.constant(raw))["probabilities"].numpy()
    np.testing.assert_allclose(from_examples, expected, atol=1e-5)


def test_component_constructs_with_channels(tmp_path):
    from tfx.types import channel_utils

    from components.types.artifacts import DataSpec

    component = Training(
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        config={"architecture": "small_cnn", "epochs": 2},
    )
    assert "model" in component.outputs
    assert json.loads(component.exec_properties[CONFIG_KEY])["epochs"] == 2


def test_custom_layers_load_in_a_fresh_process(tmp_path):
    """A calibrated model (custom layer) loads where only model_io was imported, as on a cluster."""
    import subprocess
    import sys

    import keras

    from components.calibration.layers import CalibrationLayer

    inputs = keras.Input((4,))
    model = keras.Model(inputs, CalibrationLayer(temperature=2.0)(keras.layers.Dense(3, activation="softmax")(inputs)))
    model_io.save_model_artifact(model, str(tmp_path / "m"), export=False)
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from components.common import model_io\n"
        "print(type(model_io.load_model(%r).layers[-1]).__name__)\n"
    ) % (os.getcwd(), str(tmp_path / "m"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().endswith("CalibrationLayer"), result.stderr[-2000:]
