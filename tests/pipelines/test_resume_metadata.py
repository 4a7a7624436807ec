"""Cleaning up after a killed run: unfinished executions, pending outputs, empty folders, live-run markers."""

import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from pipelines import metadata


def _connection(tmp_path):
    return metadata.sqlite_connection(str(tmp_path))


def _put_type(store, kind, name):
    if kind == "context":
        return store.put_context_type(mlmd.ContextType(name=name))
    if kind == "execution":
        return store.put_execution_type(mlmd.ExecutionType(name=name))
    return store.put_artifact_type(mlmd.ArtifactType(name=name))


def make_store(tmp_path, pipeline_name="tiny"):
    """A store shaped like TFX's: pipeline and node contexts, one finished and one killed execution."""
    store = metadata_store.MetadataStore(_connection(tmp_path))
    pipeline_type, node_type = _put_type(store, "context", "pipeline"), _put_type(store, "context", "node")
    execution_type, model_type = _put_type(store, "execution", "Training"), _put_type(store, "artifact", "Model")
    pipeline_id, node_id = store.put_contexts([
        mlmd.Context(type_id=pipeline_type, name=pipeline_name),
        mlmd.Context(type_id=node_type, name=f"{pipeline_name}.Training"),
    ])
    root = tmp_path / "pipeline_root"
    ids = {}
    for label, state in (("finished", mlmd.Execution.COMPLETE), ("killed", mlmd.Execution.RUNNING),
                         ("pending", mlmd.Execution.RUNNING)):
        (execution_id,) = store.put_executions([mlmd.Execution(type_id=execution_type, last_known_state=state)])
        store.put_attributions_and_associations(
            [], [mlmd.Association(context_id=c, execution_id=execution_id) for c in (pipeline_id, node_id)]
        )
        ids[label] = execution_id
    # What TFX leaves for a killed local execution: an empty output folder, nothing in MLMD.
    os.makedirs(root / "Training" / "model" / str(ids["killed"]))
    # An orchestrator that registers pending outputs: an artifact with a PENDING_OUTPUT event.
    pending_uri = root / "Training" / "model" / str(ids["pending"])
    os.makedirs(pending_uri)
    (artifact_id,) = store.put_artifacts([mlmd.Artifact(type_id=model_type, uri=str(pending_uri), state=mlmd.Artifact.PENDING)])
    store.put_events([mlmd.Event(artifact_id=artifact_id, execution_id=ids["pending"], type=mlmd.Event.PENDING_OUTPUT)])
    os.makedirs(root / "Training" / "model" / str(ids["finished"]))
    (root / "Training" / "model" / str(ids["finished"]) / "model.keras").write_text("x")
    return store, ids, str(root), artifact_id


def test_unfinished_executions_become_failed_and_their_outputs_abandoned(tmp_path):
    store, ids, root, artifact_id = make_store(tmp_path)
    marked = metadata.mark_interrupted_executions(_connection(tmp_path), "tiny", pipeline_root=root)
    assert sorted(marked) == sorted([ids["killed"], ids["pending"]])
    states = {e.id: e.last_known_state for e in store.get_executions()}
    assert states == {ids["finished"]: mlmd.Execution.COMPLETE, ids["killed"]: mlmd.Execution.FAILED,
                      ids["pending"]: mlmd.Execution.FAILED}
    killed = store.get_executions_by_id([ids["killed"]])[0]
    assert "marked FAILED by a later run" in killed.custom_properties[metadata.INTERRUPTED_PROPERTY].string_value
    assert store.get_artifacts_by_id([artifact_id])[0].state == mlmd.Artifact.ABANDONED
    assert not os.path.exists(os.path.join(root, "Training", "model", str(ids["killed"])))
    assert not os.path.exists(os.path.join(root, "Training", "model", str(ids["pending"])))
    assert os.path.exists(os.path.join(root, "Training", "model", str(ids["finished"]), "model.keras"))
    assert metadata.mark_interrupted_executions(_connection(tmp_path), "tiny", pipeline_root=root) == []


def test_executions_a_live_run_may_own_are_left_alone(tmp_path):
    store, ids, root, _ = make_store(tmp_path)
    assert metadata.mark_interrupted_executions(_connection(tmp_path), "tiny", created_before=0.0) == []
    assert metadata.mark_interrupted_executions(_connection(tmp_path), "other-pipeline") == []
    assert {e.last_known_state for e in store.get_executions()} == {mlmd.Execution.COMPLETE, mlmd.Execution.RUNNING}


def test_run_markers_tell_live_runs_from_dead_ones(tmp_path):
    run_dir = str(tmp_path)
    with metadata.RunMarker(run_dir) as first:
        assert [path for path, _ in metadata.live_runs(run_dir)] == [first.path]
        assert first.others_alive() == []
        with metadata.RunMarker(run_dir, clock=lambda: 42.0) as second:
            assert first.others_alive() == [42.0]
            assert second.others_alive() == [first.started_at]
    assert metadata.live_runs(run_dir) == []
    # A marker whose process died (no lock held) is removed when seen.
    dead = os.path.join(run_dir, metadata.RUNS_DIR_NAME, "999-1.lock")
    with open(dead, "w") as handle:
        handle.write('{"pid": 999, "started_at": 1.0}')
    assert metadata.live_runs(run_dir) == [] and not os.path.exists(dead)
