"""Calibration executor and component on tiny data."""

import json
import os

import numpy as np
import pytest

from components.common.mlmd_metrics import RUN_DECISION
from tfx.types import channel_utils, standard_artifacts

from components.calibration import calibration, held_out
from components.calibration.component import Calibration
from components.calibration.executor import Executor
from components.calibration.spec import CONFIG_KEY, CalibrationConfig
from components.common import model_io
from components.types import config_json
from components.types.artifacts import DataSpec


def run_executor(trained_model, tmp_path, config):
    examples, data_spec_artifact, _, model = trained_model
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "calibrated")
    Executor().Do(
        {"model": [model], "examples": [examples], "data_spec": [data_spec_artifact]},
        {"calibrated_model": [output]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return output


def test_temperature_scaling_executor_reports_before_and_after(trained_model, tmp_path):
    examples, _, data_spec, model = trained_model
    output = run_executor(trained_model, tmp_path, CalibrationConfig(method="temperature"))
    uri = output.uri
    for name in ("model.keras", "Format-Serving", "summary.json", "summary.md", "reliability_before.png",
                 "reliability_after.png", "metrics.json"):
        assert os.path.exists(os.path.join(uri, name)), name
    properties = output.mlmd_artifact.custom_properties
    assert properties["report_split"].string_value == "test"  # test split present: reported there, fitted on eval
    for split in ("eval", "test"):
        assert properties[f"{split}_accuracy"].double_value == properties[f"uncalibrated_{split}_accuracy"].double_value
    # Fitted on eval to minimize NLL: eval NLL cannot get worse.
    assert properties["eval_nll"].double_value <= properties["uncalibrated_eval_nll"].double_value + 1e-9
    temperature = properties["temperature"].double_value
    summary = json.load(open(os.path.join(uri, "summary.json")))
    assert summary["temperature"] == pytest.approx(temperature)
    assert set(summary["splits"]["test"]) == {"before", "after"}
    assert "% reduction)" in open(os.path.join(uri, "summary.md")).read()

    # The exported model is the source model followed by the fitted temperature.
    source = model_io.load_model(model.uri)
    calibrated = model_io.load_model(uri)
    labels, probabilities = held_out.predictions(source, examples.uri, "test", data_spec)
    _, exported = held_out.predictions(calibrated, examples.uri, "test", data_spec)
    expected = calibration.apply_calibration(probabilities, calibration.CalibrationParameters(temperature))
    np.testing.assert_allclose(exported, expected, atol=1e-5)


def test_map_with_training_prior(trained_model, tmp_path):
    output = run_executor(trained_model, tmp_path, CalibrationConfig(method="temperature_map", prior="train"))
    properties = output.mlmd_artifact.custom_properties
    assert 0.0 <= properties["prior_weight"].double_value < calibration.MAX_PRIOR_WEIGHT
    summary = json.load(open(os.path.join(output.uri, "summary.json")))
    np.testing.assert_allclose(summary["prior"], [1 / 3] * 3, atol=0.02)  # the stripe data is balanced
    assert properties["method"].string_value == "temperature_map"


def test_missing_fit_split_is_named(trained_model, tmp_path):
    with pytest.raises(ValueError, match="no 'validation' split"):
        run_executor(trained_model, tmp_path, CalibrationConfig(fit_split="validation"))


def test_component_constructs_and_validates():
    component = Calibration(
        model=channel_utils.as_channel([standard_artifacts.Model()]),
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        data_spec=channel_utils.as_channel([DataSpec()]),
        config={"method": "map", "prior": "train"},
    )
    assert "calibrated_model" in component.outputs
    assert json.loads(component.exec_properties[CONFIG_KEY])["method"] == "map"
    with pytest.raises(ValueError, match="method"):
        Calibration(
            model=channel_utils.as_channel([standard_artifacts.Model()]),
            examples=channel_utils.as_channel([standard_artifacts.Examples()]),
            data_spec=channel_utils.as_channel([DataSpec()]),
            config={"method": "isotonic"},
        )


def test_parameters_from_an_earlier_calibration_are_reused_not_refitted(trained_model, tmp_path):
    examples, data_spec_artifact, _, model = trained_model
    fitted = run_executor(trained_model, tmp_path / "first", CalibrationConfig(method="temperature"))
    fitted.set_float_custom_property("temperature", 2.5)  # not what this data would fit
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "reused")
    Executor().Do(
        {"model": [model], "examples": [examples], "data_spec": [data_spec_artifact], "parameters_from": [fitted]},
        {"calibrated_model": [output]},
        {CONFIG_KEY: config_json.config_to_json(CalibrationConfig(method="temperature"))},
    )
    properties = output.mlmd_artifact.custom_properties
    assert properties["temperature"].double_value == 2.5
    assert properties["parameters_from"].string_value == fitted.uri
    # The decision is recorded once, where the temperature was fitted; the reuse records none.
    assert fitted.get_string_custom_property(RUN_DECISION).startswith("temperature ")
    assert RUN_DECISION not in properties


def test_parameters_from_must_be_a_calibration_output(trained_model, tmp_path):
    examples, data_spec_artifact, _, model = trained_model
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "bad")
    with pytest.raises(ValueError, match="no 'temperature' property"):
        Executor().Do(
            {"model": [model], "examples": [examples], "data_spec": [data_spec_artifact], "parameters_from": [model]},
            {"calibrated_model": [output]},
            {CONFIG_KEY: config_json.config_to_json(CalibrationConfig())},
        )
