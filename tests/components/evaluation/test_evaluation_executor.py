"""Executor().Do on real artifact objects over tiny canonical Examples."""

import importlib.util
import json
import os

import numpy as np
import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.evaluation import executor as executor_lib
from components.evaluation import spec
from components.evaluation.spec import EvaluationConfig
from components.types import artifacts
from components.types import data_spec as data_spec_lib
from tests.components.evaluation.brightness_data import (
    BRIGHT,
    DARK,
    EVAL_RECORDS,
    TEST_RECORDS,
    brightness_model,
    expected_probabilities,
    make_data_spec,
    save_model,
    write_split,
)


def _artifact(artifact_type, uri, split_names=None):
    artifact = artifact_type()
    artifact.uri = uri
    if split_names is not None:
        artifact.split_names = artifact_utils.encode_split_names(split_names)
    return artifact


def _run(data, tmp_path, model_uri, config, baseline_uri=None, split_names=("eval", "test")):
    inputs = {
        spec.EXAMPLES_KEY: [_artifact(standard_artifacts.Examples, data["examples_uri"], list(split_names))],
        spec.DATA_SPEC_KEY: [_artifact(artifacts.DataSpec, data["data_spec_uri"])],
        spec.MODEL_KEY: [_artifact(standard_artifacts.Model, model_uri)],
    }
    if baseline_uri:
        inputs[spec.BASELINE_MODEL_KEY] = [_artifact(standard_artifacts.Model, baseline_uri)]
    evaluation = _artifact(standard_artifacts.ModelEvaluation, str(tmp_path / "evaluation"))
    blessing = _artifact(standard_artifacts.ModelBlessing, str(tmp_path / "blessing"))
    outputs = {spec.EVALUATION_KEY: [evaluation], spec.BLESSING_KEY: [blessing]}
    executor_lib.Executor().Do(inputs, outputs, {spec.CONFIG_KEY: config.to_json()})
    return evaluation, blessing


def _read_json(directory, name):
    with open(os.path.join(directory, name)) as handle:
        return json.load(handle)


def test_blessed_candidate_beats_baseline(canonical_data, tmp_path):
    config = EvaluationConfig(
        split="eval",
        batch_size=4,
        thresholds={"accuracy": 0.8, "nll": 5.0},
        min_improvement_over_baseline={"accuracy": 0.0},
    )
    evaluation, blessing = _run(
        canonical_data, tmp_path, canonical_data["good_model_uri"], config, canonical_data["bad_model_uri"]
    )
    result = _read_json(evaluation.uri, spec.METRICS_FILE_NAME)
    assert result["split"] == "eval" and result["num_examples"] == len(EVAL_RECORDS)
    assert result["metrics"]["accuracy"] == pytest.approx(5 / 6)
    levels = [level for level, _ in EVAL_RECORDS]
    labels = [label for _, label in EVAL_RECORDS]
    probabilities = expected_probabilities(levels)
    expected_nll = -np.mean(np.log(probabilities[np.arange(len(labels)), labels]))
    assert result["metrics"]["nll"] == pytest.approx(expected_nll, rel=1e-3)
    assert result["confusion_matrix"] == [[3, 1], [0, 2]]
    assert set(result["per_class"]) == {"dark", "bright"}

    baseline = _read_json(evaluation.uri, spec.BASELINE_METRICS_FILE_NAME)
    assert baseline["metrics"]["accuracy"] == pytest.approx(1 / 6)
    comparison = _read_json(evaluation.uri, spec.COMPARISON_FILE_NAME)
    assert comparison["accuracy"]["improvement"] == pytest.approx(4 / 6)

    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 1
    assert blessing.get_float_custom_property("accuracy") == pytest.approx(5 / 6)
    assert "All 3 checks passed" in blessing.get_string_custom_property("reasons")
    assert blessing.get_string_custom_property("current_model") == canonical_data["good_model_uri"]
    assert blessing.get_string_custom_property("baseline_model") == canonical_data["bad_model_uri"]
    assert evaluation.get_float_custom_property("accuracy") == pytest.approx(5 / 6)
    assert evaluation.get_float_custom_property("baseline_accuracy") == pytest.approx(1 / 6)
    assert evaluation.get_string_custom_property("split") == "eval"

    for name in (spec.CONFUSION_MATRIX_FILE_NAME, spec.RELIABILITY_DIAGRAM_FILE_NAME):
        with open(os.path.join(evaluation.uri, name), "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(evaluation.uri, spec.SUMMARY_FILE_NAME)) as handle:
        summary = handle.read()
    assert summary.startswith("# Evaluation: BLESSED")
    assert "| bright |" in summary and "baseline" in summary


def test_not_blessed_when_worse_than_baseline_on_default_test_split(canonical_data, tmp_path):
    config = EvaluationConfig(min_improvement_over_baseline={"accuracy": -0.1})
    evaluation, blessing = _run(
        canonical_data, tmp_path, canonical_data["bad_model_uri"], config, canonical_data["good_model_uri"]
    )
    result = _read_json(evaluation.uri, spec.METRICS_FILE_NAME)
    # 'test' exists, so it is chosen over 'eval'; the mirror model gets every test record wrong.
    assert result["split"] == "test" and result["num_examples"] == len(TEST_RECORDS)
    assert result["metrics"]["accuracy"] == pytest.approx(0.0)
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 0
    assert "accuracy: candidate 0.0000 vs baseline 1.0000" in blessing.get_string_custom_property("reasons")
    assert _read_json(evaluation.uri, spec.BLESSING_FILE_NAME)["blessed"] is False


def test_rubber_stamp_without_baseline(canonical_data, tmp_path):
    config = EvaluationConfig(split="eval", thresholds={"accuracy": 0.5}, min_improvement_over_baseline={"nll": 0})
    evaluation, blessing = _run(canonical_data, tmp_path, canonical_data["good_model_uri"], config)
    assert blessing.get_int_custom_property("blessed") == 1
    assert "checks skipped" in blessing.get_string_custom_property("reasons")
    assert not os.path.exists(os.path.join(evaluation.uri, spec.BASELINE_METRICS_FILE_NAME))


def test_missing_model_file_is_a_clear_error(canonical_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="has no model.keras"):
        _run(canonical_data, tmp_path, str(tmp_path / "empty_model"), EvaluationConfig())


def test_choose_split():
    assert executor_lib.choose_split(None, ["train", "eval", "test"], "uri") == "test"
    assert executor_lib.choose_split(None, ["train", "eval"], "uri") == "eval"
    assert executor_lib.choose_split("train", ["train", "eval"], "uri") == "train"
    with pytest.raises(ValueError, match=r"have splits \['train'\]; none of \['test', 'eval'\]"):
        executor_lib.choose_split(None, ["train"], "uri")


def _tfx_evaluator_constants():
    """Loads tfx/components/evaluator/constants.py alone (the package import pulls in all of TFMA)."""
    import tfx

    path = os.path.join(os.path.dirname(tfx.__file__), "components", "evaluator", "constants.py")
    module_spec = importlib.util.spec_from_file_location("tfx_evaluator_constants", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_blessing_constants_match_tfx_evaluator():
    constants = _tfx_evaluator_constants()

    assert executor_lib.BLESSED_KEY == constants.ARTIFACT_PROPERTY_BLESSED_KEY
    assert executor_lib.BLESSED_FILE_NAME == constants.BLESSED_FILE_NAME
    assert executor_lib.NOT_BLESSED_FILE_NAME == constants.NOT_BLESSED_FILE_NAME
    assert (executor_lib.BLESSED_VALUE, executor_lib.NOT_BLESSED_VALUE) == (
        constants.BLESSED_VALUE,
        constants.NOT_BLESSED_VALUE,
    )
    assert executor_lib.CURRENT_MODEL_URI_KEY == constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY
    assert executor_lib.BASELINE_MODEL_URI_KEY == constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY


def test_multilabel_examples(tmp_path):
    records = [(DARK, [0]), (BRIGHT, [1]), (BRIGHT, [0, 1]), (DARK, [0])]
    data = {"examples_uri": str(tmp_path / "examples"), "data_spec_uri": str(tmp_path / "data_spec")}
    write_split(data["examples_uri"], "eval", records)
    data_spec_lib.write_data_spec(make_data_spec("multilabel", {"eval": records}), data["data_spec_uri"])
    model_uri = save_model(brightness_model(activation="sigmoid"), str(tmp_path / "model"))
    config = EvaluationConfig(thresholds={"subset_accuracy": 0.9})
    evaluation, blessing = _run(data, tmp_path, model_uri, config, split_names=["eval"])
    result = _read_json(evaluation.uri, spec.METRICS_FILE_NAME)
    assert result["task"] == "multilabel"
    assert result["metrics"]["subset_accuracy"] == pytest.approx(3 / 4)
    assert result["metrics"]["hamming_loss"] == pytest.approx(1 / 8)
    assert len(result["confusion_matrix"]) == 2  # One [[TN, FP], [FN, TP]] per label.
    assert blessing.get_int_custom_property("blessed") == 0
    assert "subset_accuracy = 0.7500 FAILS >= 0.9000" in blessing.get_string_custom_property("reasons")
    assert os.path.getsize(os.path.join(evaluation.uri, spec.CONFUSION_MATRIX_FILE_NAME)) > 1000


def test_without_thresholds_the_model_must_beat_trivial_baselines_beyond_the_noise(canonical_data, tmp_path):
    # eval: 5 of 6 correct against a 4-of-6 majority, within the noise of six images: not blessed.
    config = EvaluationConfig(split="eval")
    evaluation, blessing = _run(canonical_data, tmp_path / "eval", canonical_data["good_model_uri"], config)
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_string_custom_property("blessing_rule") == "beats trivial baselines"
    reasons = blessing.get_string_custom_property("reasons")
    assert "does NOT beat the trivial baselines" in reasons and "(Wilson, 6 examples)" in reasons
    decision = _read_json(evaluation.uri, spec.BLESSING_FILE_NAME)
    assert decision["rule"] == "beats trivial baselines" and decision["checks"][0]["kind"] == "trivial_baselines"
    stats = _read_json(evaluation.uri, spec.METRICS_FILE_NAME)["trivial_baselines"]
    assert stats["num_examples"] == len(EVAL_RECORDS) and stats["majority_accuracy"] == pytest.approx(4 / 6)
    assert stats["correct"] == 5
    with open(os.path.join(evaluation.uri, spec.SUMMARY_FILE_NAME)) as handle:
        assert "FAIL: accuracy 0.8333 does NOT beat the trivial baselines" in handle.read()
    # test: 4 of 4 against a 2-of-4 majority: the Wilson lower bound 0.60 clears 0.5, so it is blessed.
    _, blessed = _run(canonical_data, tmp_path / "test", canonical_data["good_model_uri"], EvaluationConfig())
    assert blessed.get_int_custom_property("blessed") == 1
    assert "accuracy 1.0000 beats the trivial baselines" in blessed.get_string_custom_property("reasons")
