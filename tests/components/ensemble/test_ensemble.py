"""Ensemble: probability averaging, its export, and the executor with given or trained members."""

import json
import os

import keras
import numpy as np
import pytest
from tfx.types import channel_utils, standard_artifacts

from components.ensemble import ensemble
from components.ensemble.component import Ensemble
from components.ensemble.executor import Executor
from components.ensemble.spec import CONFIG_KEY, EnsembleConfig
from components.common import model_io
from components.training import models
from components.training.spec import TrainingConfig
from components.types import config_json
from components.types.artifacts import DataSpec
from components.types.data_spec import DataSpecContent
from tests.support.canonical import artifact_pair

SPEC = DataSpecContent(task="classification", class_names=["a", "b", "c"], channels=1, source_format="x")
IMAGES = np.random.default_rng(0).uniform(size=(6, 12, 12, 1)).astype("float32")


def fresh_model(seed):
    keras.utils.set_random_seed(seed)
    return models.tiny_cnn(SPEC, (12, 12))


def copy_of(model):
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def test_ensemble_of_identical_models_equals_the_model():
    model = fresh_model(0)
    expected = model.predict(IMAGES, verbose=0)
    combined = ensemble.average_models([copy_of(model), copy_of(model), copy_of(model)])
    np.testing.assert_allclose(combined.predict(IMAGES, verbose=0), expected, atol=1e-6)


def test_ensemble_averages_member_probabilities_and_reloads(tmp_path):
    members = [fresh_model(seed) for seed in (1, 2)]
    outputs = [member.predict(IMAGES, verbose=0) for member in members]
    combined = ensemble.average_models(members)
    np.testing.assert_allclose(combined.predict(IMAGES, verbose=0), (outputs[0] + outputs[1]) / 2, atol=1e-6)
    assert not np.allclose(outputs[0], outputs[1])
    model_io.save_model_artifact(combined, str(tmp_path), export=False)
    reloaded = keras.saving.load_model(os.path.join(str(tmp_path), "model.keras"))  # built-in layers only
    np.testing.assert_allclose(reloaded.predict(IMAGES, verbose=0), (outputs[0] + outputs[1]) / 2, atol=1e-6)


def test_ensemble_rejects_bad_members():
    model = fresh_model(3)
    with pytest.raises(ValueError, match="at least one"):
        ensemble.average_models([])
    with pytest.raises(ValueError, match="distinct model objects"):
        ensemble.average_models([model, model])
    other = models.tiny_cnn(SPEC, (16, 16))
    with pytest.raises(ValueError, match="Members must agree"):
        ensemble.average_models([fresh_model(4), other])


def run_executor(tmp_path, examples, data_spec_artifact, config, given=()):
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "ensemble")
    inputs = {"examples": [examples], "data_spec": [data_spec_artifact]}
    if given:
        inputs["models"] = list(given)
    Executor().Do(inputs, {"model": [output]}, {CONFIG_KEY: config_json.config_to_json(config)})
    return output


def test_executor_with_given_models(tmp_path):
    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 6, "eval": 30})
    given = []
    for seed in (5, 6):
        artifact = standard_artifacts.Model()
        artifact.uri = str(tmp_path / f"given_{seed}")
        model_io.save_model_artifact(fresh_model(seed), artifact.uri, export=False)
        given.append(artifact)
    output = run_executor(tmp_path, examples, data_spec_artifact, EnsembleConfig(num_members=5), given)
    properties = output.mlmd_artifact.custom_properties
    assert properties["num_members"].int_value == 2  # given models win over num_members
    members = [properties[f"member_{i}_eval_accuracy"].double_value for i in range(2)]
    assert properties["members_mean_eval_accuracy"].double_value == pytest.approx(np.mean(members))
    summary = json.load(open(os.path.join(output.uri, "summary.json")))
    assert [member["source"] for member in summary["members"]] == [artifact.uri for artifact in given]
    assert summary["ensemble_eval"]["accuracy"] == pytest.approx(properties["eval_accuracy"].double_value)
    assert os.path.isdir(model_io.serving_path(output.uri))


def test_executor_trains_members_with_different_seeds(tmp_path):
    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 48, "eval": 24})
    member = TrainingConfig(architecture="tiny_cnn", epochs=2, batch_size=16, learning_rate=0.03, verbose=0, seed=3)
    output = run_executor(tmp_path, examples, data_spec_artifact, EnsembleConfig(num_members=2, member=member))
    history = json.load(open(os.path.join(output.uri, "history.json")))
    assert len(history["member_0/loss"]) == 2 and len(history["member_1/loss"]) == 2
    assert history["member_0/loss"] != history["member_1/loss"]  # seeds 3 and 4 differ
    combined = model_io.load_model(output.uri)
    first, second = combined.get_layer("member_0"), combined.get_layer("member_1")
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])
    summary = json.load(open(os.path.join(output.uri, "summary.json")))
    assert [m["source"] for m in summary["members"]] == ["trained with seed 3", "trained with seed 4"]


def test_component_accepts_a_list_of_model_channels():
    channels = [channel_utils.as_channel([standard_artifacts.Model()]) for _ in range(2)]
    component = Ensemble(
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        models=channels,
        config={"num_members": 2, "member": {"architecture": "tiny_cnn", "image_size": [12, 12]}},
    )
    assert "model" in component.outputs
    config = config_json.config_from_json(EnsembleConfig, component.exec_properties[CONFIG_KEY])
    assert config.member.image_size == (12, 12)
    with pytest.raises(ValueError, match="num_members"):
        EnsembleConfig(num_members=0)
