"""`autofit status`: component states from a fixture MLMD store plus progress files."""

import time

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from components.common import progress, resume
from pipelines import metadata, status

E = mlmd.Execution


def make_run_dir(tmp_path):
    """Run 1 finished DataTranslation, Training, Evaluation; run 2 reused the translation and is training."""
    run_dir = str(tmp_path / "run")
    store = metadata_store.MetadataStore(metadata.sqlite_connection(run_dir))
    types = {name: store.put_context_type(mlmd.ContextType(name=name)) for name in ("pipeline", "pipeline_run", "node")}
    execution_type = store.put_execution_type(mlmd.ExecutionType(name="Component"))
    (pipeline,) = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name="tiny")])
    runs = store.put_contexts([mlmd.Context(type_id=types["pipeline_run"], name=f"2026-12-05T12:0{i}:00.1") for i in (1, 2)])
    nodes = dict(zip(("DataTranslation", "Training", "Evaluation"), store.put_contexts(
        [mlmd.Context(type_id=types["node"], name=f"tiny.{n}") for n in ("DataTranslation", "Training", "Evaluation")])))
    ids = {}
    for run, component, state in ((0, "DataTranslation", E.COMPLETE), (0, "Training", E.COMPLETE),
                                  (0, "Evaluation", E.COMPLETE), (1, "DataTranslation", E.CACHED),
                                  (1, "Training", E.RUNNING)):
        (execution_id,) = store.put_executions([E(type_id=execution_type, last_known_state=state)])
        store.put_attributions_and_associations([], [mlmd.Association(context_id=c, execution_id=execution_id)
                                                     for c in (pipeline, runs[run], nodes[component])])
        ids[(run, component)] = execution_id
    return run_dir, ids


def _write_training_progress(run_dir, execution_id, now):
    path = resume.progress_path(f"{run_dir}/pipeline_root", "Training")
    progress.write_progress_file(path, {
        "component": "Training", "stage": "training", "done": 120, "total": 480, "unit": "step",
        "elapsed": 100.0, "eta": 300.0, "updated_at": now - 60, "state": "running", "execution_id": str(execution_id),
    })


def test_live_run_shows_progress_eta_and_waiting_components(tmp_path):
    run_dir, ids = make_run_dir(tmp_path)
    now = time.time() + 100
    _write_training_progress(run_dir, ids[(1, "Training")], now)
    with metadata.RunMarker(run_dir):
        rows = {row.component: row for row in status.read_status(run_dir, now=now)}
        text = status.format_status(list(rows.values()))
    assert [rows[c].state for c in ("DataTranslation", "Training", "Evaluation")] == ["CACHED", "RUNNING", "WAITING"]
    training = rows["Training"]
    assert training.progress == "training: step 120/480 (25%)" and training.execution_id == ids[(1, "Training")]
    assert training.eta == 240.0  # 300 s left when written, 60 s ago.
    assert 99 <= training.elapsed <= 110
    lines = text.splitlines()
    assert lines[0].split() == ["component", "state", "progress", "elapsed", "ETA"]
    assert lines[1].split()[:3] == ["DataTranslation", "CACHED", "reused"]
    assert lines[2].split()[:2] == ["Training", "RUNNING"] and "4m00s" in lines[2] and "120/480" in lines[2]
    assert lines[3].split()[:2] == ["Evaluation", "WAITING"]


def test_killed_run_shows_interrupted_and_finished_components(tmp_path, capsys):
    run_dir, ids = make_run_dir(tmp_path)
    _write_training_progress(run_dir, ids[(1, "Training")], time.time())
    rows = {row.component: row for row in status.read_status(run_dir)}
    assert rows["Training"].state == "INTERRUPTED" and rows["Training"].eta is None
    assert rows["Evaluation"].state == "COMPLETE" and rows["Evaluation"].progress == "done"

    from pipelines.cli import main

    assert main(["status", run_dir]) == 0
    printed = capsys.readouterr().out
    assert "INTERRUPTED" in printed and "Evaluation" in printed


def test_missing_store_is_a_clear_error(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["status", str(tmp_path / "nowhere")]) == 2
    assert "No ML Metadata database" in capsys.readouterr().err
