"""Which ML Metadata store a run records into: SQLite under the run directory by
default, or a cluster's MLMD (Kubeflow's metadata gRPC service, or MySQL).

The runners read the choice from the environment (the Kubernetes manifests set
AUTOFIT_MLMD_* from a ConfigMap); library code gets the resulting config.

Local runs also clean up after killed runs here (`RunMarker`,
`mark_interrupted_executions`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from typing import List, Mapping, Optional, Tuple

import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

logger = logging.getLogger(__name__)

BACKENDS = ("sqlite", "grpc", "mysql")
SQLITE_FILE_NAME = "metadata.sqlite"


def sqlite_connection(run_dir: str):
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(os.path.join(run_dir, SQLITE_FILE_NAME))


def metadata_connection_from_env(run_dir: str, environ: Mapping[str, str] = os.environ):
    """The MLMD connection named by AUTOFIT_MLMD_BACKEND (default sqlite) and its settings."""
    backend = environ.get("AUTOFIT_MLMD_BACKEND") or "sqlite"
    if backend not in BACKENDS:
        raise ValueError(f"AUTOFIT_MLMD_BACKEND={backend!r} is not one of {BACKENDS}.")
    if backend == "sqlite":
        if "://" in run_dir:
            raise ValueError(
                f"SQLite ML Metadata needs a local run_dir, got {run_dir!r}; "
                "set AUTOFIT_MLMD_BACKEND=grpc or mysql for a cloud run directory."
            )
        return sqlite_connection(run_dir)
    host, port = environ.get("AUTOFIT_MLMD_HOST"), environ.get("AUTOFIT_MLMD_PORT")
    if not host or not port:
        raise ValueError(f"AUTOFIT_MLMD_BACKEND={backend} needs AUTOFIT_MLMD_HOST and AUTOFIT_MLMD_PORT.")
    if backend == "grpc":
        return metadata_store_pb2.MetadataStoreClientConfig(host=host, port=int(port))
    credentials = environ.get("AUTOFIT_MLMD_CREDENTIALS_DIR", "")

    def read(name: str) -> str:
        path = os.path.join(credentials, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"MySQL ML Metadata credential file {path} is missing (AUTOFIT_MLMD_CREDENTIALS_DIR).")
        with open(path) as handle:
            return handle.read().strip()

    return tfx.orchestration.metadata.mysql_metadata_connection_config(
        host, int(port), environ.get("AUTOFIT_MLMD_DATABASE") or "mlmd", read("user"), read("password")
    )


# --- Interrupted runs: a run killed mid-way leaves executions RUNNING in MLMD and their
# output artifacts PENDING with empty folders. The next run marks them, so lineage, the
# report and `autofit status` show one coherent set of outputs. A run that is still alive
# (another process on the same run_dir) holds a lock file; its executions are left alone.

RUNS_DIR_NAME = ".autofit_runs"
INTERRUPTED_PROPERTY = "interrupted"
_UNFINISHED = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)
_OUTPUT_EVENTS = (
    metadata_store_pb2.Event.OUTPUT,
    metadata_store_pb2.Event.DECLARED_OUTPUT,
    metadata_store_pb2.Event.PENDING_OUTPUT,
)
_FINAL_ARTIFACT_STATES = (
    metadata_store_pb2.Artifact.DELETED,
    metadata_store_pb2.Artifact.ABANDONED,
    metadata_store_pb2.Artifact.REFERENCE,
)


class RunMarker:
    """A lock file under `<run_dir>/.autofit_runs/` held for as long as this process runs a pipeline.

    The kernel drops an flock when its process dies (kill -9 included), so a
    marker whose lock can be taken belongs to a dead run.
    """

    def __init__(self, run_dir: str, clock=time.time):
        self.directory = os.path.join(run_dir, RUNS_DIR_NAME)
        self.started_at = clock()
        self.path = os.path.join(self.directory, f"{os.getpid()}-{int(self.started_at * 1e6)}.lock")
        self._handle = None

    def __enter__(self) -> "RunMarker":
        os.makedirs(self.directory, exist_ok=True)
        # Locked under a temporary name, then renamed: no one sees the marker unlocked.
        self._handle = open(f"{self.path}.new", "w")
        fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._handle.write(json.dumps({"pid": os.getpid(), "started_at": self.started_at}))
        self._handle.flush()
        os.rename(f"{self.path}.new", self.path)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)

    def others_alive(self) -> List[float]:
        """Start times (epoch seconds) of other live runs on this run_dir; removes markers of dead ones."""
        return [started for path, started in live_runs(os.path.dirname(self.directory)) if path != self.path]


def live_runs(run_dir: str) -> List[Tuple[str, float]]:
    """(marker path, start time) of every process running a pipeline on `run_dir` now."""
    directory = os.path.join(run_dir, RUNS_DIR_NAME)
    if "://" in run_dir or not os.path.isdir(directory):
        return []
    alive = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".lock"):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path) as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # Held: that run is alive.
                    alive.append((path, float(json.loads(handle.read() or "{}").get("started_at", 0.0))))
                    continue
            os.remove(path)  # We got the lock: its owner died without cleaning up.
        except (FileNotFoundError, ValueError):
            continue
    return alive


def mark_interrupted_executions(
    connection_config,
    pipeline_name: str,
    pipeline_root: Optional[str] = None,
    created_before: Optional[float] = None,
    clock=time.time,
) -> List[int]:
    """Marks this pipeline's unfinished executions FAILED and their outputs ABANDONED.

    Call it when no other run of the pipeline is alive, or pass the earliest
    live run's start time as `created_before` (executions created after it may
    be that run's). TFX's local runners register outputs only when an
    execution publishes, so a killed one usually has no output artifacts in
    MLMD, only empty folders `<pipeline_root>/<node>/<output>/<execution id>`;
    those are removed (given `pipeline_root`). Output artifacts that an
    orchestrator did register (pending outputs) become ABANDONED, and their
    folders are removed when empty; folders with files stay for a post-mortem.

    Returns:
      The ids of the executions marked.
    """
    store = metadata_store.MetadataStore(connection_config)
    pipeline_context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_context is None:
        return []
    cutoff_ms = None if created_before is None else int(created_before * 1000)
    stale = [
        execution
        for execution in store.get_executions_by_context(pipeline_context.id)
        if execution.last_known_state in _UNFINISHED
        and (cutoff_ms is None or execution.create_time_since_epoch < cutoff_ms)
    ]
    if not stale:
        return []
    note = f"process ended before the execution finished; marked FAILED by a later run at {time.ctime(clock())}"
    for execution in stale:
        execution.last_known_state = metadata_store_pb2.Execution.FAILED
        execution.custom_properties[INTERRUPTED_PROPERTY].string_value = note
    store.put_executions(stale)
    if pipeline_root:
        for execution in stale:
            for node in _node_ids(store, execution.id, pipeline_name):
                for folder in tf.io.gfile.glob(os.path.join(pipeline_root, node, "*", str(execution.id))):
                    _remove_if_empty(folder)
    events = store.get_events_by_execution_ids([execution.id for execution in stale])
    output_ids = sorted({event.artifact_id for event in events if event.type in _OUTPUT_EVENTS})
    abandoned = [a for a in store.get_artifacts_by_id(output_ids) if a.state not in _FINAL_ARTIFACT_STATES]
    for artifact in abandoned:
        artifact.state = metadata_store_pb2.Artifact.ABANDONED
        _remove_if_empty(artifact.uri)
    if abandoned:
        store.put_artifacts(abandoned)
    logger.warning(
        "Marked %d interrupted execution(s) of %s FAILED (ids %s) and %d of their outputs ABANDONED.",
        len(stale), pipeline_name, [execution.id for execution in stale], len(abandoned),
    )
    return [execution.id for execution in stale]


def _node_ids(store, execution_id: int, pipeline_name: str) -> List[str]:
    """Node ids of an execution, from its `node` contexts named `<pipeline>.<node id>`."""
    node_type = store.get_context_type("node")
    return [
        context.name[len(pipeline_name) + 1 :]
        for context in store.get_contexts_by_execution(execution_id)
        if context.type_id == node_type.id and context.name.startswith(f"{pipeline_name}.")
    ]


def _remove_if_empty(uri: str) -> None:
    try:
        if uri and tf.io.gfile.isdir(uri) and not tf.io.gfile.listdir(uri):
            tf.io.gfile.rmtree(uri)
    except tf.errors.OpError as error:
        logger.info("Could not remove empty output folder %s: %s", uri, error)
