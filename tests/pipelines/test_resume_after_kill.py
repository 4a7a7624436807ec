"""Kill -9 a local run mid-Training, rerun it: cached upstream, resumed training, clean MLMD."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata import INTERRUPTED_PROPERTY, RUNS_DIR_NAME

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCHS = 8


def run(run_dir: str, data_dir: str) -> None:
    """The pipeline both processes run: DataTranslation -> Training (long enough epochs to be killed in)."""
    import logging

    from components.data_translation.component import DataTranslation
    from components.data_translation.spec import TranslationConfig
    from components.training.component import Training
    from components.training.spec import TrainingConfig
    from pipelines.config import config_from_dict
    from pipelines.pipeline import create_pipeline
    from pipelines.runners import run_pipeline

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data = {"format": "image_folder", "path": data_dir, "eval_fraction": 0.25}
    config = config_from_dict({"pipeline_name": "resume", "run_dir": run_dir, "data": data})
    translation = DataTranslation(config=TranslationConfig.from_dict(config.data))
    training = Training(
        examples=translation.outputs["examples"],
        data_spec=translation.outputs["data_spec"],
        config=TrainingConfig(architecture="tiny_cnn", epochs=EPOCHS, batch_size=16, steps_per_epoch=60,
                              learning_rate=0.01, verbose=0),
    )
    run_pipeline(config, pipeline=create_pipeline(config, components=[translation, training]))


def _start(run_dir, data_dir, log_path):
    code = f"from tests.pipelines.test_resume_after_kill import run; run({run_dir!r}, {data_dir!r})"
    log = open(log_path, "w")
    environ = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-c", code]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT), log


def _store(run_dir):
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = os.path.join(run_dir, "metadata.sqlite")
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def _executions_by_component(store):
    """component id -> executions in id order, from the node contexts `<pipeline>.<component>`."""
    found = {}
    for context in store.get_contexts_by_type("node"):
        component = context.name.split(".", 1)[1]
        found[component] = sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)
    return found


def _outputs(store, execution_id):
    events = store.get_events_by_execution_ids([execution_id])
    ids = [e.artifact_id for e in events if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)]
    return store.get_artifacts_by_id(ids)


@pytest.mark.slow
def test_kill_during_training_then_rerun_resumes_and_cleans_up(tmp_path):
    from tests.support.canonical import write_image_folder

    data_dir = write_image_folder(str(tmp_path / "data"), per_class=24)
    run_dir = str(tmp_path / "run")
    metadata_file = os.path.join(run_dir, "pipeline_root", "_resume", "Training", "*", "fit-00-training",
                                 "training_metadata.json")

    process, log = _start(run_dir, data_dir, tmp_path / "killed.log")
    deadline = time.time() + 240
    while not glob.glob(metadata_file):
        assert process.poll() is None, open(tmp_path / "killed.log").read()[-3000:]
        assert time.time() < deadline, "Training wrote no checkpoint within 240 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    log.close()
    with open(glob.glob(metadata_file)[0]) as handle:
        killed_at_epoch = json.load(handle)["epoch"]
    assert 1 <= killed_at_epoch < EPOCHS

    store = _store(run_dir)
    assert [e.last_known_state for e in _executions_by_component(store)["Training"]] == [metadata_store_pb2.Execution.RUNNING]
    del store

    process, log = _start(run_dir, data_dir, tmp_path / "rerun.log")
    assert process.wait(timeout=400) == 0, open(tmp_path / "rerun.log").read()[-3000:]
    log.close()
    rerun_log = open(tmp_path / "rerun.log").read()

    store = _store(run_dir)
    executions = _executions_by_component(store)
    states = {name: [e.last_known_state for e in found] for name, found in executions.items()}
    E = metadata_store_pb2.Execution
    assert states["DataTranslation"] == [E.COMPLETE, E.CACHED]
    assert states["Training"] == [E.FAILED, E.COMPLETE]
    assert not [e for e in store.get_executions() if e.last_known_state in (E.NEW, E.RUNNING)]
    killed, finished = executions["Training"]
    assert INTERRUPTED_PROPERTY in killed.custom_properties

    # Training resumed after the last checkpointed epoch and its history covers all epochs.
    assert f"Resuming training from epoch {killed_at_epoch + 1}" in rerun_log
    for epoch in range(1, killed_at_epoch + 1):
        assert f"training epoch {epoch}/{EPOCHS}:" not in rerun_log
    assert f"training epoch {EPOCHS}/{EPOCHS}:" in rerun_log
    (model,) = _outputs(store, finished.id)
    assert model.state == metadata_store_pb2.Artifact.LIVE
    assert model.custom_properties["epochs_trained"].int_value == EPOCHS
    with open(os.path.join(model.uri, "history.json")) as handle:
        assert len(json.load(handle)["loss"]) == EPOCHS
    assert not glob.glob(os.path.join(run_dir, "pipeline_root", "_resume", "Training", "*", "fit-*"))

    # One coherent set of outputs: the killed execution published nothing (TFX registers outputs when an
    # execution publishes) and its empty output folder is gone; every LIVE artifact comes from a finished
    # execution; the resumed Training read the one translation's outputs.
    assert _outputs(store, killed.id) == []
    assert not os.path.exists(os.path.join(run_dir, "pipeline_root", "Training", "model", str(killed.id)))
    assert os.path.isdir(os.path.join(run_dir, "pipeline_root", "Training", "model", str(finished.id)))
    live = {a.id for a in store.get_artifacts() if a.state == metadata_store_pb2.Artifact.LIVE}
    translation_outputs = {a.id for a in _outputs(store, executions["DataTranslation"][0].id)}
    assert {a.id for a in _outputs(store, executions["DataTranslation"][1].id)} == translation_outputs  # Reused.
    assert live == translation_outputs | {model.id} and len(live) == 3  # examples, data_spec, model
    inputs = {e.artifact_id for e in store.get_events_by_execution_ids([finished.id]) if e.type == metadata_store_pb2.Event.INPUT}
    assert inputs == translation_outputs
    assert os.listdir(os.path.join(run_dir, RUNS_DIR_NAME)) == []  # Both runs' markers are gone.

    # TensorBoard curves of both processes share one folder (keyed like the checkpoint); status agrees.
    (board,) = glob.glob(os.path.join(run_dir, "pipeline_root", "_tensorboard", "Training", "*", "fit-00-training"))
    train_events = glob.glob(os.path.join(board, "train", "events.out.tfevents.*"))
    assert len(train_events) == 2, train_events
    from pipelines import status

    rows = {row.component: row for row in status.read_status(run_dir)}
    assert (rows["DataTranslation"].state, rows["Training"].state) == ("CACHED", "COMPLETE")
    assert rows["Training"].execution_id == finished.id
