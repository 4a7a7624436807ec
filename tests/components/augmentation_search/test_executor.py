"""The executor on tiny data, and its policy round trip into the Training component."""

import csv
import json
import os

import numpy as np
import pytest
from tfx.types import standard_artifacts

from augment_ops.policy import RAND_AUGMENT_OPS, Policy
from components.augmentation_search import report, search_policy, spec
from components.augmentation_search.executor import Executor
from components.common.augmentation import load_augmentation, load_augmentation_layer
from components.types.artifacts import POLICY_FILE_NAME
from components.augmentation_search.spec import AugmentationSearchConfig
from components.training import executor as training_executor
from components.training.spec import TrainingConfig
from components.types import artifacts, config_json
from tests.support.canonical import artifact_pair

OPS = ("rot90", "rotate", "translate_x", "brightness", "hue", "cutout", "mixup")


def _search_config(**overrides):
    values = dict(
        architecture="tiny_cnn", proxy_epochs=3, batch_size=16, learning_rate=0.03, trial_learning_rate=0.01,
        ops=OPS, magnitudes=(0.3, 1.0), probe_examples=24, max_clusters=4, min_clusters=2, seed=0,
    )
    values.update(overrides)
    return AugmentationSearchConfig(**values)


def _train(examples, data_spec, policy_artifact, tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    config = TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=16, verbose=0)
    training_executor.Executor().Do(
        {"examples": [examples], "data_spec": [data_spec], "augmentation_policy": [policy_artifact]},
        {"model": [model]},
        {"config": config_json.config_to_json(config)},
    )
    return model


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("search")
    examples, data_spec, _ = artifact_pair(tmp_path, {"train": 60, "eval": 30})
    policy_artifact, report_artifact = artifacts.AugmentationPolicy(), artifacts.Report()
    policy_artifact.uri, report_artifact.uri = str(tmp_path / "policy"), str(tmp_path / "report")
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec]},
        {"augmentation_policy": [policy_artifact], "report": [report_artifact]},
        {"config": config_json.config_to_json(_search_config())},
    )
    return examples, data_spec, policy_artifact, report_artifact, tmp_path


def test_policy_json_is_an_augment_ops_policy_with_its_decision(searched):
    _, _, policy_artifact, _, _ = searched
    with open(os.path.join(policy_artifact.uri, POLICY_FILE_NAME)) as handle:
        policy = Policy.from_json(handle.read())
    assert policy.name == policy_artifact.get_string_custom_property("chosen_policy")
    assert set(policy.op_names) <= set(OPS) | set(RAND_AUGMENT_OPS), "searched ops, a baseline's, or identity"
    decision = json.load(open(os.path.join(policy_artifact.uri, spec.DECISION_FILE_NAME)))
    assert decision["chosen_policy"] == policy.name and decision["n"] == 30
    assert decision["role"] == policy_artifact.get_string_custom_property("decision_role")
    assert decision["decisions"][0]["candidate"] == "randaugment" and decision["decisions"][0]["against"] == "none"
    for entry in decision["decisions"]:
        prefix = f"{entry['candidate']}_vs_{entry['against']}_"
        assert entry["n"] == policy_artifact.get_int_custom_property(prefix + "n") == 30
        assert entry["kept"] == bool(policy_artifact.get_int_custom_property(prefix + "kept"))
        assert entry["interval"][0] == pytest.approx(policy_artifact.get_float_custom_property(prefix + "lower"))
        assert entry["difference"] == pytest.approx(policy_artifact.get_float_custom_property(prefix + "difference"))
        assert entry["interval"][0] <= entry["difference"] <= entry["interval"][1]
        assert entry["decision"] == ("kept" if entry["kept"] else "rejected") and "one-sided 95%" in entry["rule"]


def test_report_has_table_plots_and_evidence_properties(searched):
    _, _, policy_artifact, report_artifact, _ = searched
    names = os.listdir(report_artifact.uri)
    for name in (report.REPORT_FILE_NAME, report.SUMMARY_FILE_NAME, report.CLUSTER_PLOT_FILE_NAME,
                 report.PASS_TWO_PLOT_FILE_NAME, report.DISTANCE_TABLE_FILE_NAME):
        assert name in names
    for plot in (report.CLUSTER_PLOT_FILE_NAME, report.PASS_TWO_PLOT_FILE_NAME):
        assert os.path.getsize(os.path.join(report_artifact.uri, plot)) > 5000
    with open(os.path.join(report_artifact.uri, report.DISTANCE_TABLE_FILE_NAME)) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == policy_artifact.get_int_custom_property("num_candidates")
    identity = next(row for row in rows if row["op"] == "identity")
    assert float(identity["frechet"]) == pytest.approx(0.0, abs=1e-9)
    summary = json.load(open(os.path.join(report_artifact.uri, report.SUMMARY_FILE_NAME)))
    assert set(summary["seconds"]) == {"proxy", "pass1", "pass2", "total"}
    assert summary["seconds"]["total"] >= summary["seconds"]["pass1"] + summary["seconds"]["pass2"]
    kinds = {trial["kind"] for trial in summary["trials"]}
    assert {"baseline", "cluster"} <= kinds
    assert {trial["name"] for trial in summary["trials"] if trial["kind"] == "baseline"} == {
        "none", "rand_augment_n2_m0.3"}
    for key in ("pass1_seconds", "pass2_seconds", "no_augmentation_accuracy", "randaugment_accuracy"):
        assert report_artifact.get_float_custom_property(key) == policy_artifact.get_float_custom_property(key)
    markdown = open(os.path.join(report_artifact.uri, report.REPORT_FILE_NAME)).read()
    assert "Wall time" in markdown and "Orientation-changing ops" in markdown and "rot90" in markdown


def test_training_component_trains_with_the_searched_policy(searched):
    examples, data_spec, policy_artifact, _, tmp_path = searched
    loaded = load_augmentation(policy_artifact.uri, seed=0)
    with open(os.path.join(policy_artifact.uri, POLICY_FILE_NAME)) as handle:
        written = Policy.from_json(handle.read())
    assert loaded.policy == written
    trained_ops = (loaded.layer.policy.op_names if loaded.layer else ()) + (loaded.mixing.op_names if loaded.mixing else ())
    assert sorted(trained_ops) == sorted(written.op_names), "Training trains every op, mixing ones included"
    model = _train(examples, data_spec, policy_artifact, tmp_path)
    assert os.path.exists(os.path.join(model.uri, "model.keras"))


def test_a_cluster_policy_written_by_the_search_loads_as_the_training_layer(tmp_path):
    from components.augmentation_search.executor import write_policy

    policy = search_policy.cluster_policy(("rotate", "translate_x", "cutout"), 0.3, 0.8, "cluster1_m0.30_p0.80")
    policy_artifact = artifacts.AugmentationPolicy()
    policy_artifact.uri = str(tmp_path / "policy")

    class Result:  # write_policy reads only `.policy`
        pass

    result = Result()
    result.policy = policy
    write_policy(result, policy_artifact.uri)
    layer = load_augmentation_layer(policy_artifact.uri, seed=0)
    assert layer.policy == policy
    images = np.random.default_rng(0).random((4, 12, 12, 1)).astype("float32")
    assert not np.allclose(layer(images, training=True), images)
    np.testing.assert_array_equal(layer(images, training=False), images)


def _run(examples, data_spec, tmp_path, config):
    policy_artifact, report_artifact = artifacts.AugmentationPolicy(), artifacts.Report()
    policy_artifact.uri, report_artifact.uri = str(tmp_path / "p"), str(tmp_path / "r")
    Executor().Do(
        {"examples": [examples], "data_spec": [data_spec]},
        {"augmentation_policy": [policy_artifact], "report": [report_artifact]},
        {"config": config_json.config_to_json(config)},
    )
    return policy_artifact, report_artifact


def _declare_task(data_spec, content, task):
    from components.types.data_spec import write_data_spec

    content.task = task
    write_data_spec(content, data_spec.uri)


def test_segmentation_data_is_a_clear_error(tmp_path):
    examples, data_spec, content = artifact_pair(tmp_path, {"train": 4, "eval": 4})
    _declare_task(data_spec, content, "segmentation")
    with pytest.raises(ValueError, match="classification and detection data; this DataSpec's task is 'segmentation'"):
        _run(examples, data_spec, tmp_path, _search_config())


def test_detection_data_without_boxes_is_a_clear_error(tmp_path):
    examples, data_spec, content = artifact_pair(tmp_path, {"train": 4, "eval": 4})
    _declare_task(data_spec, content, "detection")
    with pytest.raises(ValueError, match="Split 'train' of Examples at .* has no boxes"):
        _run(examples, data_spec, tmp_path, _search_config())


@pytest.mark.slow  # trains a detection proxy per candidate: ~25 s on 2 cores
def test_detection_search_writes_policy_box_prior_and_report(tmp_path):
    from components.augmentation_search.detection_search import OPTIONS_FILE_NAME, prior_sensitive
    from tests.support.shapes import write_shape_detection_examples

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    data_spec = artifacts.DataSpec()
    data_spec.uri = str(tmp_path / "spec")
    write_shape_detection_examples(examples.uri, data_spec.uri, {"train": 48, "eval": 16}, shape="disc", size=30)
    config = _search_config(ops=("rotate", "brightness"), detection_epochs=1, batch_size=16, box_priors=("rectangle", "ellipse"))
    policy_artifact, report_artifact = _run(examples, data_spec, tmp_path, config)
    policy = Policy.from_json(open(os.path.join(policy_artifact.uri, POLICY_FILE_NAME)).read())
    with open(os.path.join(policy_artifact.uri, OPTIONS_FILE_NAME)) as handle:
        options = json.load(handle)
    summary = json.load(open(os.path.join(report_artifact.uri, "summary.json")))
    # none, RandAugment, geometric (rotate only) and colour (brightness only) at 2 magnitudes each.
    assert sorted(summary["held_out_map"]) == sorted(
        ["none", "rand_augment_n2_m0.3", "geometric_m0.30", "geometric_m0.60", "colour_m0.30", "colour_m0.60"]
    )
    assert set(summary["candidate_box_prior_map"]) == {"rand_augment_n2_m0.3", "geometric_m0.30", "geometric_m0.60"}
    assert policy.name == summary["chosen_policy"] == policy_artifact.get_string_custom_property("chosen_policy")
    if prior_sensitive(policy):
        assert summary["box_prior"] in ("rectangle", "ellipse") and options["box_prior"] == summary["box_prior"]
    else:
        assert summary["box_prior"] is None and options["box_prior"] == "rectangle"  # the default, unused
    assert policy_artifact.get_float_custom_property("chosen_map") == max(summary["held_out_map"].values())
    assert os.path.getsize(os.path.join(report_artifact.uri, "detection_search.png")) > 1000
