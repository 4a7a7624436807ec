"""Reads a run's ML Metadata (SQLite) and shows its DAG: executions, artifacts, events.

A run directory can hold several pipeline runs (reruns share one SQLite
store). Component ids come from each execution's TFX node context
(`<pipeline>.<component id>`), and by default only the latest pipeline run is
read, so a rerun never shows, or returns, an older run's artifacts.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

METADATA_FILE_NAME = "metadata.sqlite"
_EXECUTION_STATES = {
    value: name for name, value in metadata_store_pb2.Execution.State.items()
}


# TFX context types (tfx.dsl.compiler.constants): the pipeline, one run of it, and one node of it.
PIPELINE_CONTEXT = "pipeline"
PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
LATEST_RUN = "latest"
ALL_RUNS = None


@dataclasses.dataclass
class ExecutionNode:
    id: int
    component: str
    type_name: str
    state: str
    properties: Dict[str, object]
    run: Optional[str] = None
    pipeline: Optional[str] = None


@dataclasses.dataclass
class ArtifactNode:
    id: int
    type_name: str
    uri: str
    properties: Dict[str, object]


@dataclasses.dataclass
class Edge:
    artifact_id: int
    execution_id: int
    direction: str  # "input" or "output"
    key: str


@dataclasses.dataclass
class Lineage:
    """Executions (ordered by id), the artifacts they touched, and the events between them.

    Attributes:
      runs: pipeline-run names in the store, oldest first.
      run: the run these executions belong to, or None when all runs were read.
    """

    executions: List[ExecutionNode]
    artifacts: Dict[int, ArtifactNode]
    edges: List[Edge]
    runs: List[str] = dataclasses.field(default_factory=list)
    run: Optional[str] = None

    def inputs_of(self, execution_id: int) -> List[Edge]:
        return [edge for edge in self.edges if edge.execution_id == execution_id and edge.direction == "input"]

    def outputs_of(self, execution_id: int) -> List[Edge]:
        return [edge for edge in self.edges if edge.execution_id == execution_id and edge.direction == "output"]

    def execution(self, component: str) -> ExecutionNode:
        """The latest execution of `component` (highest id) in this lineage."""
        matches = [node for node in self.executions if node.component == component]
        if not matches:
            raise KeyError(f"No execution of component {component!r}; have {[e.component for e in self.executions]}.")
        return matches[-1]


def _value(value: metadata_store_pb2.Value) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def open_store(run_dir_or_db: str) -> metadata_store.MetadataStore:
    path = run_dir_or_db
    if os.path.isdir(path):
        path = os.path.join(path, METADATA_FILE_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No ML Metadata database at {path}; run a pipeline with this run directory first.")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def component_id(node_context: str, pipeline_names: Sequence[str]) -> str:
    """`<pipeline>.<component id>` -> the component id.

    The pipeline name is stripped as a known prefix (it may itself contain
    dots); without a pipeline context the id is what follows the first dot.
    Pipeline-run names (`2026-12-05T11:33:24.680223`) are never looked at:
    they are contexts of another type.
    """
    for pipeline in sorted(pipeline_names, key=len, reverse=True):
        if node_context.startswith(f"{pipeline}."):
            return node_context[len(pipeline) + 1 :]
    return node_context.split(".", 1)[-1]


def _runs_in_order(store, run_type_id: Optional[int]) -> List[metadata_store_pb2.Context]:
    if run_type_id is None:
        return []
    runs = [context for context in store.get_contexts() if context.type_id == run_type_id]
    return sorted(runs, key=lambda context: (context.create_time_since_epoch, context.id))


_NOT_LIVE = (metadata_store_pb2.Artifact.ABANDONED, metadata_store_pb2.Artifact.DELETED,
             metadata_store_pb2.Artifact.MARKED_FOR_DELETION)
INTERRUPTED_PROPERTY = "interrupted"  # pipelines.metadata marks executions a killed run left unfinished


def _state(execution) -> str:
    """MLMD's state name; FAILED executions a killed run left behind read INTERRUPTED."""
    state = _EXECUTION_STATES.get(execution.last_known_state, "UNKNOWN")
    if state == "FAILED" and INTERRUPTED_PROPERTY in execution.custom_properties:
        return "INTERRUPTED"
    return state


def read_lineage(run_dir_or_db: str, run: Optional[str] = LATEST_RUN) -> Lineage:
    """Reads the executions of one pipeline run (default: the latest) with their artifacts and events.

    Args:
      run_dir_or_db: run directory (holding metadata.sqlite) or the database.
      run: LATEST_RUN ("latest") for the most recent pipeline run, a
        pipeline-run name, or ALL_RUNS (None) for every execution in the store.
        A store without pipeline-run contexts is read whole.

    Raises:
      KeyError: a named run that the store does not hold.
    """
    store = open_store(run_dir_or_db)
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    context_types = {t.name: t.id for t in store.get_context_types()}
    runs = _runs_in_order(store, context_types.get(PIPELINE_RUN_CONTEXT))
    run_names = [context.name for context in runs]
    selected = None
    if run is not None and runs:
        if run == LATEST_RUN:
            selected = runs[-1]
        else:
            matches = [context for context in runs if context.name == run]
            if not matches:
                raise KeyError(f"No pipeline run {run!r} in {run_dir_or_db}; runs: {run_names}.")
            selected = matches[0]
    if selected is not None:
        candidates = store.get_executions_by_context(selected.id)
    else:
        candidates = store.get_executions()
    executions = []
    for execution in sorted(candidates, key=lambda e: e.id):
        contexts = store.get_contexts_by_execution(execution.id)
        by_type: Dict[str, List[str]] = {}
        for context in contexts:
            for name, type_id in context_types.items():
                if context.type_id == type_id:
                    by_type.setdefault(name, []).append(context.name)
        nodes = by_type.get(NODE_CONTEXT, [])
        pipelines = by_type.get(PIPELINE_CONTEXT, [])
        type_name = execution_types.get(execution.type_id, "?")
        component = component_id(nodes[0], pipelines) if nodes else type_name.split(".")[-1]
        executions.append(
            ExecutionNode(
                id=execution.id,
                component=component,
                type_name=type_name,
                state=_state(execution),
                properties={k: _value(v) for k, v in execution.custom_properties.items()},
                run=(by_type.get(PIPELINE_RUN_CONTEXT) or [None])[-1],
                pipeline=pipelines[0] if pipelines else None,
            )
        )
    edges = []
    events = store.get_events_by_execution_ids([e.id for e in executions]) if executions else []
    for event in events:
        if event.type in (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT):
            direction = "input"
        elif event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT):
            direction = "output"
        else:
            continue
        key = event.path.steps[0].key if event.path.steps else ""
        edges.append(Edge(event.artifact_id, event.execution_id, direction, key))
    if selected is not None:
        stored = store.get_artifacts_by_id(sorted({edge.artifact_id for edge in edges}))
    else:
        stored = store.get_artifacts()
    # Outputs a killed execution never finished (pipelines.metadata marks them ABANDONED) are not lineage.
    gone = {artifact.id for artifact in stored if artifact.state in _NOT_LIVE}
    edges = [edge for edge in edges if edge.artifact_id not in gone]
    stored = [artifact for artifact in stored if artifact.id not in gone]
    artifacts = {
        artifact.id: ArtifactNode(
            id=artifact.id,
            type_name=artifact_types.get(artifact.type_id, "?"),
            uri=artifact.uri,
            properties={k: _value(v) for k, v in artifact.custom_properties.items()},
        )
        for artifact in stored
    }
    return Lineage(executions, artifacts, edges, runs=run_names, run=selected.name if selected else None)


def _shown_properties(properties: Dict[str, object], limit: int = 6) -> str:
    shown = [
        f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in sorted(properties.items())
        if not key.startswith("__") and key not in ("state", "tfx_version", "name", "producer_component")
    ]
    return ", ".join(shown[:limit])


def format_lineage(lineage: Lineage) -> str:
    """The DAG as text: each execution with the artifacts it read and wrote."""
    producers = {edge.artifact_id: edge.execution_id for edge in lineage.edges if edge.direction == "output"}
    by_id = {node.id: node for node in lineage.executions}
    lines = []
    if lineage.run is not None:
        earlier = lineage.runs.index(lineage.run) if lineage.run in lineage.runs else 0
        later = len(lineage.runs) - earlier - 1
        others = [f"{earlier} earlier"] * bool(earlier) + [f"{later} later"] * bool(later)
        held = f" (the store holds {' and '.join(others)} run(s))" if others else ""
        lines.append(f"Pipeline run {lineage.run}{held}")
    for node in lineage.executions:
        run = f" run {node.run}" if lineage.run is None and len(lineage.runs) > 1 and node.run else ""
        lines.append(f"[{node.id}] {node.component} ({node.type_name}) {node.state}{run}")
        for edge in lineage.inputs_of(node.id):
            artifact = lineage.artifacts[edge.artifact_id]
            source = by_id.get(producers.get(edge.artifact_id))
            origin = f" <- {source.component}" if source else ""
            lines.append(f"    in  {edge.key}: {artifact.type_name} #{artifact.id}{origin}")
        for edge in lineage.outputs_of(node.id):
            artifact = lineage.artifacts[edge.artifact_id]
            lines.append(f"    out {edge.key}: {artifact.type_name} #{artifact.id} {artifact.uri}")
            shown = _shown_properties(artifact.properties)
            if shown:
                lines.append(f"        {shown}")
    return "\n".join(lines)


def plot_lineage(lineage: Lineage, path: str) -> str:
    """A left-to-right drawing of executions (boxes) and artifacts (ellipses) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns: Dict[str, tuple] = {}
    for column, node in enumerate(lineage.executions):
        columns[f"e{node.id}"] = (column * 2 + 1, 0.0)
        outputs = lineage.outputs_of(node.id)
        for row, edge in enumerate(outputs):
            columns[f"a{edge.artifact_id}"] = (column * 2 + 2, (row - (len(outputs) - 1) / 2) * 1.2)
    width = max(6.0, 2.2 * (2 * len(lineage.executions) + 1))
    figure, axes = plt.subplots(figsize=(width, 4))
    for edge in lineage.edges:
        source, target = (f"a{edge.artifact_id}", f"e{edge.execution_id}")
        if edge.direction == "output":
            source, target = target, source
        if source in columns and target in columns:
            axes.annotate(
                "", xy=columns[target], xytext=columns[source],
                arrowprops=dict(arrowstyle="->", color="gray", shrinkA=18, shrinkB=18),
            )
    for node in lineage.executions:
        x, y = columns[f"e{node.id}"]
        color = "#c6e5c6" if node.state == "COMPLETE" else "#f4c7c3"
        axes.text(x, y, f"{node.component}\n{node.state}", ha="center", va="center", fontsize=8,
                  bbox=dict(boxstyle="round", facecolor=color))
    for artifact_id, artifact in lineage.artifacts.items():
        if f"a{artifact_id}" in columns:
            x, y = columns[f"a{artifact_id}"]
            axes.text(x, y, f"{artifact.type_name.split('.')[-1]}\n#{artifact_id}", ha="center", va="center",
                      fontsize=7, bbox=dict(boxstyle="ellipse", facecolor="#dbe8f6"))
    axes.set_xlim(0, 2 * len(lineage.executions) + 1)
    axes.set_ylim(-2.5, 2.5)
    axes.axis("off")
    axes.set_title("ML Metadata lineage")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def find_output(lineage: Lineage, component: str, key: str) -> Optional[ArtifactNode]:
    """The artifact a component wrote under `key` in its latest execution of the lineage's run.

    `read_lineage` reads the latest pipeline run by default, so this is that
    run's artifact even when the run directory holds older runs. A cached
    execution's output is the artifact it reused.
    """
    execution = lineage.execution(component)
    for edge in lineage.outputs_of(execution.id):
        if edge.key == key:
            return lineage.artifacts[edge.artifact_id]
    return None


def run_decisions(lineage: Lineage) -> List[Tuple[str, str]]:
    """(component, text) for every decision a component made from the data at run time (not in the plan), in
    execution order: whether FixMatch may mirror, the learned optimization params, whether a noisy student beat
    its teacher, the calibration temperature (components.common.mlmd_metrics.record_run_decision)."""
    from components.common.mlmd_metrics import RUN_DECISION

    found: List[Tuple[str, str]] = []
    for execution in sorted(lineage.executions, key=lambda node: node.id):
        for edge in lineage.outputs_of(execution.id):
            artifact = lineage.artifacts.get(edge.artifact_id)
            text = artifact.properties.get(RUN_DECISION) if artifact is not None else None
            # Once per decision, credited to the first execution that recorded it: a cached execution links the same
            # artifact again, and a component passing a model on (selection) may carry its properties along.
            if text and text not in {seen for _, seen in found}:
                found.append((execution.component, text))
    return found
