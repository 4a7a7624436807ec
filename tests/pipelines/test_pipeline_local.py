"""End to end: the local pipeline runs on tiny data and MLMD records its lineage."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.pipeline import create_components, create_pipeline
from pipelines.results import evaluation_summary
from pipelines.runners import run_pipeline
from tests.support.canonical import write_image_folder


def tiny_config(tmp_path, **overrides):
    raw = {
        "pipeline_name": "tiny",
        "run_dir": str(tmp_path / "run"),
        "data": {"format": "image_folder", "path": write_image_folder(str(tmp_path / "data"), per_class=48),
                 "eval_fraction": 0.25, "test_fraction": 0.25},
        "training": {"architecture": "tiny_cnn", "epochs": 6, "batch_size": 16, "learning_rate": 0.03,
                     "verbose": 0},
        "evaluation": {"thresholds": {"accuracy": 0.8}},
    }
    raw.update(overrides)
    return config_from_dict(raw)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pipeline")
    config = tiny_config(tmp_path)
    run_pipeline(config, runner="local")
    return config


def test_three_complete_executions_linked_by_events(finished_run):
    lineage = lineage_lib.read_lineage(finished_run.run_dir)
    assert [node.component for node in lineage.executions] == ["DataTranslation", "Training", "Evaluation"]
    assert all(node.state == "COMPLETE" for node in lineage.executions)
    translation, training, evaluation = lineage.executions

    translation_outputs = {edge.key: edge.artifact_id for edge in lineage.outputs_of(translation.id)}
    training_inputs = {edge.key: edge.artifact_id for edge in lineage.inputs_of(training.id)}
    assert training_inputs["examples"] == translation_outputs["examples"]
    assert training_inputs["data_spec"] == translation_outputs["data_spec"]

    training_outputs = {edge.key: edge.artifact_id for edge in lineage.outputs_of(training.id)}
    evaluation_inputs = {edge.key: edge.artifact_id for edge in lineage.inputs_of(evaluation.id)}
    assert evaluation_inputs["model"] == training_outputs["model"]
    assert evaluation_inputs["examples"] == translation_outputs["examples"]

    model = lineage.artifacts[training_outputs["model"]]
    assert model.properties["eval_accuracy"] > 0.5
    assert os.path.exists(os.path.join(model.uri, "model.keras"))


def test_evaluation_summary_and_lineage_text_and_plot(finished_run, tmp_path):
    summary = evaluation_summary(finished_run.run_dir)
    assert summary["metrics"]["split"] == "test"
    assert summary["metrics"]["accuracy"] > 0.8
    assert summary["blessed"] is True
    text = lineage_lib.format_lineage(lineage_lib.read_lineage(finished_run.run_dir))
    assert "in  model: Model" in text and "<- Training" in text
    plot = lineage_lib.plot_lineage(lineage_lib.read_lineage(finished_run.run_dir), str(tmp_path / "l.png"))
    assert os.path.getsize(plot) > 1000


def test_cli_lineage_prints_dag(finished_run, capsys, tmp_path):
    from pipelines.cli import main

    assert main(["lineage", finished_run.run_dir, "--plot", str(tmp_path / "lineage.png")]) == 0
    printed = capsys.readouterr().out
    assert "DataTranslation" in printed and "Evaluation" in printed and "COMPLETE" in printed
    assert os.path.exists(tmp_path / "lineage.png")


def test_cli_reports_missing_metadata(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["lineage", str(tmp_path)]) == 2
    assert "No ML Metadata database" in capsys.readouterr().err


def test_stock_statistics_gen_consumes_translated_examples(tmp_path):
    config = tiny_config(tmp_path, pipeline_name="interop")
    translation = create_components(config)[0]
    statistics = tfx.components.StatisticsGen(examples=translation.outputs["examples"])
    run_pipeline(config, pipeline=create_pipeline(config, components=[translation, statistics]))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert [node.state for node in lineage.executions] == ["COMPLETE", "COMPLETE"]
    stats_artifact = lineage_lib.find_output(lineage, "StatisticsGen", "statistics")
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from tfx.utils import io_utils

    stats = io_utils.read_bytes_file(os.path.join(stats_artifact.uri, "Split-train", "FeatureStats.pb"))
    parsed = statistics_pb2.DatasetFeatureStatisticsList.FromString(stats)
    dataset = parsed.datasets[0]
    names = {feature.path.step[0] for feature in dataset.features}
    assert {"image/encoded", "label", "image/source_id"} <= names
    data_spec = lineage_lib.find_output(lineage, "DataTranslation", "data_spec")
    spec = json.load(open(os.path.join(data_spec.uri, "data_spec.json")))
    assert dataset.num_examples == spec["splits"]["train"]["count"]


def test_beam_dag_runner_runs_the_pipeline_offline(tmp_path, caplog):
    config = tiny_config(tmp_path, pipeline_name="beam")
    with caplog.at_level("INFO"):
        run_pipeline(config, runner="beam")
    lineage = lineage_lib.read_lineage(config.run_dir)
    assert [(node.component, node.state) for node in lineage.executions] == [
        ("DataTranslation", "COMPLETE"), ("Training", "COMPLETE"), ("Evaluation", "COMPLETE"),
    ]
    assert "PrismRunner" not in caplog.text  # Beam's Prism runner would try to download a binary.
