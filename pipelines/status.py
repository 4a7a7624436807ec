"""`autofit status RUN_DIR`: which components finished, which runs now, how far it is and how long is left.

Reads ML Metadata (the latest execution of every component, its state and
times) and the progress files the running step writes
(`<pipeline_root>/_progress/<component>.json`, components.common.progress).
States beyond MLMD's own:
- INTERRUPTED: MLMD says RUNNING but no process runs the pipeline on this
  run_dir (it was killed); the next `autofit run` marks it FAILED and resumes.
- WAITING: a run is alive but has not reached this component yet (its latest
  execution belongs to an earlier run).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.common import progress as progress_lib
from pipelines import metadata as metadata_lib

_STATE_NAMES = {value: name for name, value in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class ComponentStatus:
    component: str
    state: str
    execution_id: int
    started_at: float  # epoch seconds
    elapsed: float  # seconds
    progress: str
    eta: Optional[float]  # seconds left; None when unknown or finished


def _open_store(run_dir: str) -> metadata_store.MetadataStore:
    path = os.path.join(run_dir, metadata_lib.SQLITE_FILE_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No ML Metadata database at {path}; start a run with this run directory first.")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def _context_ids_of_type(store, type_name: str) -> Dict[int, metadata_store_pb2.Context]:
    try:
        return {context.id: context for context in store.get_contexts_by_type(type_name)}
    except Exception:  # noqa: BLE001 - an empty store has no such type yet.
        return {}


def _progress_text(record: Dict, state: str) -> str:
    done, total = record.get("done", 0), record.get("total")
    text = f"{record.get('unit', 'step')} {done}/{total} ({100.0 * done / total:.0f}%)" if total else f"{done}"
    if record.get("stage") and record.get("stage") != record.get("component"):
        text = f"{record['stage']}: {text}"
    return text


def read_status(run_dir: str, pipeline_root: Optional[str] = None, now: Optional[float] = None) -> List[ComponentStatus]:
    """One row per component of the run_dir's pipeline(s), in the order they first ran."""
    now = time.time() if now is None else now
    pipeline_root = pipeline_root or os.path.join(run_dir, "pipeline_root")
    store = _open_store(run_dir)
    runs_alive = bool(metadata_lib.live_runs(run_dir))
    pipeline_runs = _context_ids_of_type(store, "pipeline_run")
    latest_run = max(pipeline_runs.values(), key=lambda c: (c.create_time_since_epoch, c.id), default=None)
    latest_run_executions = (
        {e.id for e in store.get_executions_by_context(latest_run.id)} if latest_run is not None else set()
    )
    records = progress_lib.read_progress_dir(pipeline_root)
    rows, first_ids = [], {}
    for node in _context_ids_of_type(store, "node").values():
        executions = sorted(store.get_executions_by_context(node.id), key=lambda e: e.id)
        if not executions:
            continue
        component = node.name.split(".", 1)[1] if "." in node.name else node.name
        execution = executions[-1]
        first_ids[component] = executions[0].id
        state = _STATE_NAMES.get(execution.last_known_state, "UNKNOWN")
        started = execution.create_time_since_epoch / 1000.0
        ended = execution.last_update_time_since_epoch / 1000.0
        record = records.get(component) or {}
        same_execution = str(record.get("execution_id", "")) == str(execution.id)
        eta = None
        if state in ("RUNNING", "NEW"):
            state = "RUNNING" if runs_alive else "INTERRUPTED"
            elapsed = now - started if runs_alive else ended - started
            shown = _progress_text(record, state) if same_execution else "started"
            if same_execution and runs_alive and record.get("eta") is not None:
                eta = max(0.0, float(record["eta"]) - (now - float(record.get("updated_at", now))))
        else:
            elapsed = ended - started
            shown = {"COMPLETE": "done", "CACHED": "reused"}.get(state, state.lower())
            if runs_alive and latest_run is not None and execution.id not in latest_run_executions:
                state, shown, elapsed = "WAITING", f"last run: {state.lower()}", 0.0
        rows.append(ComponentStatus(component, state, execution.id, started, max(0.0, elapsed), shown, eta))
    return sorted(rows, key=lambda row: first_ids[row.component])


def format_status(rows: List[ComponentStatus]) -> str:
    """A plain-text table: component, state, progress, elapsed, ETA."""
    if not rows:
        return "No component has run yet."
    header = ("component", "state", "progress", "elapsed", "ETA")
    table = [header] + [
        (
            row.component,
            row.state,
            row.progress,
            progress_lib.format_duration(row.elapsed) if row.state != "WAITING" else "-",
            progress_lib.format_duration(row.eta) if row.eta is not None else "-",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table)
