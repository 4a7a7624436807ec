"""A module_file model with a Lambda layer: refused before fitting unless trust_module_code, then loadable."""

import os
import shutil

import keras
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.common import model_io
from components.evaluation import spec as evaluation_spec
from components.evaluation.executor import Executor as EvaluationExecutor
from components.training import spec as training_spec
from components.training.executor import Executor as TrainingExecutor
from components.types import config_json
from tests.support.canonical import artifact_pair

LAMBDA_MODULE = '''
import keras


def build_model(data_spec, image_size):
    inputs = keras.Input((*image_size, data_spec.channels))
    x = keras.layers.Lambda(lambda images: images * 2.0 - 1.0, name="rescale_to_pm1")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(data_spec.num_classes, activation="softmax")(x))
'''


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("trusted")
    examples, data_spec_artifact, _ = artifact_pair(root, {"train": 24, "eval": 12})
    module = root / "lambda_model.py"
    module.write_text(LAMBDA_MODULE)
    return root, examples, data_spec_artifact, str(module)


def train(data, trust, name):
    root, examples, data_spec_artifact, module = data
    model = standard_artifacts.Model()
    model.uri = str(root / name)
    config = training_spec.TrainingConfig(
        module_file=module, epochs=1, batch_size=8, verbose=0, trust_module_code=trust
    )
    TrainingExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]},
        {"model": [model]},
        {"config": config_json.config_to_json(config)},
    )
    return model


def test_lambda_model_fails_before_fitting_without_the_opt_in(data, monkeypatch):
    fits = []
    monkeypatch.setattr(keras.Model, "fit", lambda self, *args, **kwargs: fits.append(1))
    with pytest.raises(ValueError) as raised:
        train(data, trust=False, name="refused")
    message = str(raised.value)
    assert "\n" not in message
    assert "rescale_to_pm1" in message and "trust_module_code" in message and "lambda_model.py" in message
    assert fits == []
    assert not os.path.exists(data[0] / "refused" / model_io.KERAS_FILE_NAME)


def test_trusted_lambda_model_is_marked_and_evaluates(data):
    model = train(data, trust=True, name="trusted")
    assert model.get_int_custom_property(model_io.TRUSTED_CODE_PROPERTY) == 1
    assert model_io.is_trusted_code(model.uri)
    loaded = model_io.load_model(model.uri)
    assert "rescale_to_pm1" in model_io.lambda_layer_names(loaded)

    root, examples, data_spec_artifact, _ = data
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = str(root / "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(root / "blessing")
    EvaluationExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "model": [model]},
        {evaluation_spec.EVALUATION_KEY: [evaluation], evaluation_spec.BLESSING_KEY: [blessing]},
        {"config": config_json.config_to_json(evaluation_spec.EvaluationConfig(batch_size=8))},
    )
    assert tf.io.gfile.exists(os.path.join(evaluation.uri, evaluation_spec.METRICS_FILE_NAME))
    assert evaluation.get_int_custom_property("num_examples") == 12

    # A model derived from a trusted one (here: wrapped, as Calibration and Ensemble do) stays loadable.
    inputs = keras.Input(loaded.input_shape[1:])
    derived_uri = str(root / "derived")
    model_io.save_model_artifact(keras.Model(inputs, loaded(inputs)), derived_uri, export=False)
    assert model_io.is_trusted_code(derived_uri)
    assert model_io.lambda_layer_names(model_io.load_model(derived_uri))

    # Without the marker the same file is refused by Keras safe mode: the marker is what opts in.
    untrusted = str(root / "untrusted_copy")
    os.makedirs(untrusted)
    shutil.copy(model_io.keras_path(model.uri), model_io.keras_path(untrusted))
    with pytest.raises(ValueError, match="safe_mode"):
        model_io.load_model(untrusted)


def test_models_without_lambda_layers_are_not_marked(tmp_path):
    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 16, "eval": 8})
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    config = training_spec.TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=8, verbose=0)
    TrainingExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]},
        {"model": [model]},
        {"config": config_json.config_to_json(config)},
    )
    assert model.get_int_custom_property(model_io.TRUSTED_CODE_PROPERTY) == 0
    assert not model_io.is_trusted_code(model.uri)
