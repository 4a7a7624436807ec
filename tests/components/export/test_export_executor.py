"""Export executor and component on a tiny trained model."""

import json
import os

import numpy as np
import pytest
from tfx.types import channel_utils, standard_artifacts

from components.common import model_io
from components.export import export
from components.export.component import Export
from components.export.executor import Executor
from components.export.spec import CONFIG_KEY, REPORT_FILE_NAME, ExportConfig
from components.types import config_json
from components.types.artifacts import DataSpec


def run_executor(trained_model, tmp_path, config):
    examples, data_spec_artifact, _, model = trained_model
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "exported")
    Executor().Do(
        {"model": [model], "examples": [examples], "data_spec": [data_spec_artifact]},
        {"exported_model": [output]},
        {CONFIG_KEY: config_json.config_to_json(config)},
    )
    return output


def test_executor_exports_every_format_and_records_parity(trained_model, tmp_path):
    _, _, _, source = trained_model
    config = ExportConfig(formats=export.FORMATS, representative_examples=64, check_examples=0)
    output = run_executor(trained_model, tmp_path, config)
    for name in ("model.keras", "Format-Serving", "model.tflite", "model_int8.tflite", "model.onnx", REPORT_FILE_NAME):
        assert os.path.exists(os.path.join(output.uri, name)), name
    report = json.load(open(os.path.join(output.uri, REPORT_FILE_NAME)))
    assert report["check_split"] == "test" and report["check_examples"] == 60
    assert report["representative_split"] == "train" and report["representative_examples"] == 64
    properties = output.mlmd_artifact.custom_properties
    for name in ("saved_model", "tflite", "onnx"):
        assert report["formats"][name]["max_prob_diff"] <= 1e-4, report["formats"][name]
        assert properties[f"{name}_max_prob_diff"].double_value == pytest.approx(report["formats"][name]["max_prob_diff"])
        assert properties[f"{name}_accuracy_delta"].double_value == 0.0
    int8 = report["formats"]["tflite_int8"]
    assert int8["keras_accuracy"] > 0.55, int8  # Trained (chance is 1/3): parity is checked where it matters.
    assert int8["accuracy_delta"] >= -0.05, int8
    assert properties["tflite_int8_size_bytes"].double_value < properties["tflite_size_bytes"].double_value
    assert properties["export_formats"].string_value == ",".join(export.FORMATS)
    assert properties["export_parity_ok"].int_value == int(report["parity_ok"])
    # The copied Keras model is the source model.
    images = np.random.default_rng(0).uniform(size=(2, 12, 12, 1)).astype("float32")
    np.testing.assert_allclose(
        model_io.load_model(output.uri)(images), model_io.load_model(source.uri)(images), atol=1e-6
    )


def test_executor_fails_on_parity_when_asked_after_writing_the_report(trained_model, tmp_path):
    """A tolerance of 1e-12 is below float32 round-off: a format that misses it must fail the run, named."""
    strict = ExportConfig(formats=("saved_model", "tflite", "onnx"), float_tolerance=1e-12, fail_on_parity=True)
    report_path = tmp_path / "exported" / REPORT_FILE_NAME
    try:
        run_executor(trained_model, tmp_path, strict)
    except ValueError as error:
        report = json.load(open(report_path))
        assert report["parity_ok"] is False
        missed = [name for name, row in report["formats"].items() if not row["within_tolerance"]]
        assert missed and all(row["max_prob_diff"] > 1e-12 for name, row in report["formats"].items() if name in missed)
        assert str(missed) in str(error)
    else:  # Every conversion bit-exact: then the report must say so.
        report = json.load(open(report_path))
        assert report["parity_ok"] is True
        assert all(row["max_prob_diff"] <= 1e-12 for row in report["formats"].values())


def test_executor_rejects_missing_representative_split(trained_model, tmp_path):
    config = ExportConfig(formats=("tflite_int8",), representative_split="unlabeled")
    with pytest.raises(ValueError, match="representative_split 'unlabeled'"):
        run_executor(trained_model, tmp_path, config)


def test_component_builds_from_the_docstring_example():
    model = channel_utils.as_channel([standard_artifacts.Model()])
    examples = channel_utils.as_channel([standard_artifacts.Examples()])
    data_spec = channel_utils.as_channel([DataSpec()])
    component = Export(model=model, examples=examples, data_spec=data_spec, config={"formats": ["tflite", "onnx"]})
    assert "exported_model" in component.outputs
    parsed = config_json.config_from_json(ExportConfig, component.exec_properties[CONFIG_KEY])
    assert parsed.formats == ("tflite", "onnx")
    with pytest.raises(ValueError, match="unknown format"):
        Export(model=model, examples=examples, data_spec=data_spec, config={"formats": ["coreml"]})
