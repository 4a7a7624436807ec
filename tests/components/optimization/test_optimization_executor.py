"""OptimizationParams through TFX: the component, its executor's artifact, and Training reading it."""

import dataclasses
import json
import os

import pytest

from components.common.mlmd_metrics import RUN_DECISION
from tfx.types import channel_utils, standard_artifacts

from components.common.optimization_params import apply_optimization_params, read_optimization_params
from components.optimization import spec as keys
from components.optimization.component import OptimizationParams
from components.optimization.executor import Executor
from components.optimization.spec import OptimizationConfig
from components.training.component import Training
from components.training.executor import Executor as TrainingExecutor
from components.training.spec import TrainingConfig
from components.types import artifacts, config_json
from tests.support.canonical import artifact_pair

TINY = OptimizationConfig(architecture="tiny_cnn", batch_sizes=(8, 16, 32), min_steps_per_epoch=4,
                          range_test_steps=30, max_epochs=4, min_epochs=1, patience=2, lr_min=1e-4, lr_max=1.0)


def test_component_example_constructs_and_wires_into_training():
    examples = channel_utils.as_channel([standard_artifacts.Examples()])
    data_spec = channel_utils.as_channel([artifacts.DataSpec()])
    optimization = OptimizationParams(
        examples=examples, data_spec=data_spec, config=OptimizationConfig(architecture="small_cnn", max_epochs=30)
    )
    output = optimization.outputs[keys.OPTIMIZATION_PARAMS_KEY]
    assert output.type is artifacts.OptimizationParams
    training = Training(examples=examples, data_spec=data_spec, optimization_params=output)
    assert training.inputs["optimization_params"] is output
    with pytest.raises(ValueError, match="max_epochs"):
        OptimizationParams(examples=examples, data_spec=data_spec, config={"max_epochs": 1, "min_epochs": 2})


def test_executor_writes_params_plot_and_properties(tmp_path):
    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 64, "eval": 32}, size=16)
    output = artifacts.OptimizationParams()
    output.uri = str(tmp_path / "optimization_params")
    Executor().Do(
        {keys.EXAMPLES_KEY: [examples], keys.DATA_SPEC_KEY: [data_spec_artifact]},
        {keys.OPTIMIZATION_PARAMS_KEY: [output]},
        {keys.CONFIG_KEY: config_json.config_to_json(TINY)},
    )
    with open(os.path.join(output.uri, keys.OPTIMIZATION_PARAMS_FILE_NAME)) as handle:
        payload = json.load(handle)
    assert payload["batch_size"] == 16 and 1e-4 <= payload["learning_rate"] <= 1.0
    assert 1 <= payload["best_epoch"] <= payload["epochs_trained"] <= 4
    losses = payload["eval_loss_by_epoch"]
    assert len(losses) == payload["epochs_trained"] and losses.index(min(losses)) + 1 == payload["best_epoch"]
    assert payload["epochs"] == max(TINY.min_epochs, payload["best_epoch"])
    assert set(payload["reasons"]) == {"batch_size", "learning_rate", "epochs"}
    assert all(payload["reasons"].values())
    assert payload["lr_curve"] and set(payload["lr_curve"][0]) == {"learning_rate", "loss", "smoothed_loss"}
    with open(os.path.join(output.uri, keys.LR_RANGE_PLOT_FILE_NAME), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert output.get_int_custom_property("batch_size") == payload["batch_size"]
    assert output.get_float_custom_property("learning_rate") == pytest.approx(payload["learning_rate"])
    assert output.get_int_custom_property("epochs") == payload["epochs"]
    decision = output.get_string_custom_property(RUN_DECISION)  # what `autofit run` prints as [decided]
    assert f"batch size {payload['batch_size']}, {payload['epochs']} epochs" in decision
    assert payload["reasons"]["epochs"] in decision
    assert read_optimization_params(output) == {
        "batch_size": payload["batch_size"], "learning_rate": payload["learning_rate"], "epochs": payload["epochs"]
    }


def test_apply_replaces_only_fields_the_user_did_not_set(caplog):
    config = TrainingConfig(epochs=9, batch_size=64, learning_rate=1e-3)
    learned = {"batch_size": 16, "learning_rate": 0.004, "epochs": 12, "reasons": {}}
    with caplog.at_level("INFO", logger="components.common.optimization_params"):
        applied = apply_optimization_params(config, learned, {"epochs"})
    assert (applied.batch_size, applied.learning_rate, applied.epochs) == (16, 0.004, 9)
    assert "'epochs': 9" in caplog.text  # The log names what the user's config kept.
    assert apply_optimization_params(config, learned, set()).epochs == 12

    @dataclasses.dataclass(frozen=True)
    class EpochsOnly:
        epochs: int = 1

    assert apply_optimization_params(EpochsOnly(), learned) == EpochsOnly(epochs=12)
    with pytest.raises(ValueError, match="lack"):
        apply_optimization_params(config, {"batch_size": 16})
    with pytest.raises(ValueError, match="must be > 0"):
        apply_optimization_params(config, {"batch_size": 0, "learning_rate": 0.1, "epochs": 2})


def test_training_config_explicit_fields_round_trip_and_validate():
    config = TrainingConfig(epochs=3, explicit_fields=("epochs", "batch_size"))
    assert config_json.config_from_json(TrainingConfig, config_json.config_to_json(config)) == config
    with pytest.raises(ValueError, match="explicit_fields"):
        TrainingConfig(explicit_fields=("epoch",))


def test_training_uses_learned_params_except_explicit_fields(tmp_path, caplog):
    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 48, "eval": 24}, size=12)
    learned = artifacts.OptimizationParams()
    learned.uri = str(tmp_path / "learned")
    os.makedirs(learned.uri)
    with open(os.path.join(learned.uri, artifacts.OPTIMIZATION_PARAMS_FILE_NAME), "w") as handle:
        json.dump({"batch_size": 8, "learning_rate": 0.02, "epochs": 3}, handle)

    def train(config):
        model = standard_artifacts.Model()
        model.uri = str(tmp_path / f"model_{len(config.explicit_fields)}")
        TrainingExecutor().Do(
            {"examples": [examples], "data_spec": [data_spec_artifact], "optimization_params": [learned]},
            {"model": [model]},
            {"config": config_json.config_to_json(config)},
        )
        return model

    with caplog.at_level("INFO", logger="components.common.optimization_params"):
        model = train(TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=64, verbose=0))
    assert model.get_int_custom_property("epochs_trained") == 3  # Learned epochs replaced the default.
    assert "'batch_size': 8" in caplog.text and "'learning_rate': 0.02" in caplog.text
    explicit = train(TrainingConfig(architecture="tiny_cnn", epochs=1, verbose=0, explicit_fields=("epochs",)))
    assert explicit.get_int_custom_property("epochs_trained") == 1  # The user's epochs win.
