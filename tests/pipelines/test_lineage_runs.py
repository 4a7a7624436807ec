"""Lineage with several pipeline runs in one run directory: component ids and the latest run's outputs."""

import json
import os

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines import lineage, results

PIPELINE = "demo.pipeline"  # a pipeline name with a dot, to show prefixes are stripped, not split
RUNS = ("2026-12-05T11:33:24.680223", "2026-12-05T11:40:02.117350")


def _type(store, kind, name):
    if kind == "context":
        return store.put_context_type(metadata_store_pb2.ContextType(name=name))
    if kind == "execution":
        return store.put_execution_type(metadata_store_pb2.ExecutionType(name=name))
    return store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))


def _context(store, type_id, name):
    context = metadata_store_pb2.Context(type_id=type_id, name=name)
    [context_id] = store.put_contexts([context])
    return store.get_contexts_by_id([context_id])[0]


def _event(kind, key):
    event = metadata_store_pb2.Event(type=kind)
    event.path.steps.add().key = key
    return event


def _write_metrics(directory, accuracy):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "metrics.json"), "w") as handle:
        json.dump({"metrics": {"accuracy": accuracy}, "split": "eval", "num_examples": 50}, handle)


@pytest.fixture
def two_run_store(tmp_path):
    """An MLMD SQLite store holding two runs of DataTranslation -> Evaluation (the second not blessed)."""
    path = str(tmp_path / "metadata.sqlite")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(connection)
    pipeline_type = _type(store, "context", "pipeline")
    run_type = _type(store, "context", "pipeline_run")
    node_type = _type(store, "context", "node")
    translation_type = _type(store, "execution", "components.data_translation.component.DataTranslation")
    evaluation_type = _type(store, "execution", "components.evaluation.component.Evaluation")
    examples_type = _type(store, "artifact", "Examples")
    evaluation_artifact_type = _type(store, "artifact", "ModelEvaluation")
    blessing_type = _type(store, "artifact", "ModelBlessing")
    pipeline = _context(store, pipeline_type, PIPELINE)
    nodes = {
        name: _context(store, node_type, f"{PIPELINE}.{name}") for name in ("DataTranslation", "Evaluation")
    }
    for index, (run_name, accuracy, blessed) in enumerate(zip(RUNS, (0.91, 0.54), (1, 0))):
        run = _context(store, run_type, run_name)
        examples = metadata_store_pb2.Artifact(type_id=examples_type, uri=str(tmp_path / f"examples_{index}"))
        execution = metadata_store_pb2.Execution(
            type_id=translation_type, last_known_state=metadata_store_pb2.Execution.COMPLETE
        )
        _, [examples_id], _ = store.put_execution(
            execution, [(examples, _event(metadata_store_pb2.Event.OUTPUT, "examples"))],
            [pipeline, run, nodes["DataTranslation"]],
        )
        evaluation_uri = str(tmp_path / f"evaluation_{index}")
        _write_metrics(evaluation_uri, accuracy)
        evaluation = metadata_store_pb2.Artifact(type_id=evaluation_artifact_type, uri=evaluation_uri)
        blessing = metadata_store_pb2.Artifact(type_id=blessing_type, uri=str(tmp_path / f"blessing_{index}"))
        blessing.custom_properties["blessed"].int_value = blessed
        [examples_read] = store.get_artifacts_by_id([examples_id])
        execution = metadata_store_pb2.Execution(
            type_id=evaluation_type, last_known_state=metadata_store_pb2.Execution.COMPLETE
        )
        store.put_execution(
            execution,
            [
                (examples_read, _event(metadata_store_pb2.Event.INPUT, "examples")),
                (evaluation, _event(metadata_store_pb2.Event.OUTPUT, "evaluation")),
                (blessing, _event(metadata_store_pb2.Event.OUTPUT, "blessing")),
            ],
            [pipeline, run, nodes["Evaluation"]],
        )
    del store
    return str(tmp_path)


def test_component_ids_come_from_node_contexts_not_run_names(two_run_store):
    graph = lineage.read_lineage(two_run_store, run=lineage.ALL_RUNS)
    assert [node.component for node in graph.executions] == ["DataTranslation", "Evaluation"] * 2
    assert [node.run for node in graph.executions] == [RUNS[0]] * 2 + [RUNS[1]] * 2
    assert graph.runs == list(RUNS) and graph.run is None
    assert f"] Evaluation (components.evaluation.component.Evaluation) COMPLETE run {RUNS[0]}" in (
        lineage.format_lineage(graph)
    )
    assert lineage.component_id("a.b.Trainer", ["a.b"]) == "Trainer"
    assert lineage.component_id("pipe.Trainer", []) == "Trainer"


def test_latest_run_is_read_by_default_and_its_outputs_are_found(two_run_store, tmp_path):
    graph = lineage.read_lineage(two_run_store)
    assert graph.run == RUNS[1]
    assert [node.component for node in graph.executions] == ["DataTranslation", "Evaluation"]
    assert lineage.find_output(graph, "Evaluation", "evaluation").uri == str(tmp_path / "evaluation_1")
    text = lineage.format_lineage(graph)
    assert f"Pipeline run {RUNS[1]} (the store holds 1 earlier run(s))" in text
    assert "680223" not in text and "] Evaluation (" in text
    earlier = lineage.read_lineage(two_run_store, run=RUNS[0])
    assert f"Pipeline run {RUNS[0]} (the store holds 1 later run(s))" in lineage.format_lineage(earlier)
    assert lineage.find_output(earlier, "Evaluation", "evaluation").uri == str(tmp_path / "evaluation_0")
    with pytest.raises(KeyError, match="No pipeline run 'nope'"):
        lineage.read_lineage(two_run_store, run="nope")


def test_evaluation_summary_reports_the_latest_run(two_run_store, tmp_path):
    summary = results.evaluation_summary(two_run_store)
    assert summary["metrics"]["accuracy"] == 0.54
    assert summary["blessed"] is False
    assert summary["run"] == RUNS[1]
    assert summary["evaluation_uri"] == str(tmp_path / "evaluation_1")
    with pytest.raises(RuntimeError, match="No execution of component 'Calibration'"):
        results.evaluation_summary(two_run_store, component="Calibration")


def test_run_decisions_credit_each_decision_once_to_the_component_that_made_it():
    from components.common.mlmd_metrics import RUN_DECISION
    from pipelines.lineage import ArtifactNode, Edge, ExecutionNode, Lineage, run_decisions

    mirror = "trained briefly on unmirrored images: no mirroring in the weak view"
    executions = [ExecutionNode(1, "ConsistencyTraining", "t", "COMPLETE", {}),
                  ExecutionNode(2, "ChampionSelection", "t", "COMPLETE", {}),  # carries the champion's properties
                  ExecutionNode(3, "Calibration", "t", "COMPLETE", {})]
    artifacts = {10: ArtifactNode(10, "Model", "a", {RUN_DECISION: mirror}),
                 11: ArtifactNode(11, "Model", "b", {RUN_DECISION: mirror}),
                 12: ArtifactNode(12, "Model", "c", {RUN_DECISION: "temperature 1.2"})}
    edges = [Edge(10, 1, "output", "model"), Edge(10, 2, "input", "candidates"), Edge(11, 2, "output", "model"),
             Edge(12, 3, "output", "calibrated_model")]
    assert run_decisions(Lineage(executions, artifacts, edges)) == [
        ("ConsistencyTraining", mirror), ("Calibration", "temperature 1.2")]
