"""The shared layer's contracts: one NaN policy, one JSON policy, the executor preamble, the import rule."""

import ast
import json
import math
import os
import uuid

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.common import artifact_io, mlmd_metrics
from components.common.augmentation import load_augmentation_layer
from components.common.executor_base import ComponentExecutor
from components.common.splits import choose_split, examples_splits
from components.training.spec import TrainingConfig
from components.types import config_json
from tests.support.canonical import write_classification_examples

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_record_metrics_writes_finite_scalars_and_skips_the_rest(caplog):
    model = standard_artifacts.Model()
    metrics = {
        "accuracy": 0.75, "count": 3, "numpy": np.float32(0.5), "nan": float("nan"), "inf": np.inf,
        "undefined": None, "flag": True, "name": "x", "curve": [0.1, 0.2],
    }
    mlmd_metrics.record_metrics(model, metrics, prefix="eval_")
    written = set(model.mlmd_artifact.custom_properties)
    assert written == {"eval_accuracy", "eval_count", "eval_numpy"}
    assert model.get_float_custom_property("eval_numpy") == 0.5
    assert {"eval_nan", "eval_inf", "eval_undefined"} <= {
        word for record in caplog.records for word in record.getMessage().split()
    }


def test_write_json_is_strict_json_for_numpy_and_nan(tmp_path):
    path = str(tmp_path / "out.json")
    artifact_io.write_json(path, {"a": np.float64("nan"), "b": [np.int64(2), math.inf], "c": {"d": np.float32(1.5)}})
    text = artifact_io.read_text(path)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [2, None], "c": {"d": 1.5}}


class _PreambleExecutor(ComponentExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        self.seen = self.start(input_dict, output_dict, exec_properties, TrainingConfig)


def test_executor_preamble_parses_config_and_reads_the_data_spec(tmp_path):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    spec_artifact = standard_artifacts.Examples()  # Any artifact type: only its URI is read.
    spec_artifact.uri = str(tmp_path / "data_spec")
    content = write_classification_examples(examples.uri, spec_artifact.uri, {"train": 3, "eval": 3})
    executor = _PreambleExecutor()
    config = TrainingConfig(epochs=2)
    executor.Do({"examples": [examples], "data_spec": [spec_artifact]}, {}, {"config": config_json.config_to_json(config)})
    assert executor.seen.config == config
    assert executor.seen.examples is examples
    assert executor.seen.data_spec.class_names == content.class_names
    assert executor.optional({}, "missing") is None
    with pytest.raises(ValueError, match="Unknown TrainingConfig option"):
        executor.Do({"examples": [examples], "data_spec": [spec_artifact]}, {}, {"config": '{"epoch": 2}'})
    with pytest.raises(ValueError):
        executor.single({"examples": [examples, examples]}, "examples")


def test_split_helpers(tmp_path):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    write_classification_examples(examples.uri, str(tmp_path / "spec"), {"train": 2, "test": 2, "eval": 2})
    assert examples_splits(examples) == ["eval", "test", "train"]  # From the Split-* folders.
    assert choose_split(None, examples_splits(examples), examples.uri) == "test"
    with pytest.raises(ValueError, match="none of \\['unlabeled'\\]"):
        choose_split("unlabeled", ["train"], examples.uri)


def test_augmentation_policy_is_read_through_gfile():
    uri = f"ram://policy-{uuid.uuid4().hex}"
    with pytest.raises(FileNotFoundError, match="has no policy.json"):
        load_augmentation_layer(uri, seed=0)
    from augment_ops.policy import Policy, PolicyOp

    policy = Policy(ops=(PolicyOp("rotate", 0.5),), name="p")
    tf.io.gfile.makedirs(uri)
    artifact_io.write_text(f"{uri}/policy.json", policy.to_json())
    assert load_augmentation_layer(uri, seed=3).policy == policy


def _imported_modules(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def test_no_component_imports_another_components_executor():
    components_dir = os.path.join(REPO_ROOT, "components")
    offenders = []
    for package in sorted(os.listdir(components_dir)):
        package_dir = os.path.join(components_dir, package)
        if not os.path.isdir(package_dir):
            continue
        for directory, _, files in os.walk(package_dir):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                for module in _imported_modules(path):
                    parts = module.split(".")
                    if len(parts) >= 3 and parts[0] == "components" and parts[2] == "executor" and parts[1] != package:
                        offenders.append(f"{os.path.relpath(path, REPO_ROOT)} imports {module}")
    assert offenders == []
