"""Reads a run's ML Metadata (SQLite) and shows its DAG: executions, artifacts, events."""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

METADATA_FILE_NAME = "metadata.sqlite"
_EXECUTION_STATES = {
    value: name for name, value in metadata_store_pb2.Execution.State.items()
}


@dataclasses.dataclass
class ExecutionNode:
    id: int
    component: str
    type_name: str
    state: str
    properties: Dict[str, object]


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
    executions: List[ExecutionNode]
    artifacts: Dict[int, ArtifactNode]
    edges: List[Edge]

    def inputs_of(self, execution_id: int) -> List[Edge]:
        return [edge for edge in self.edges if edge.execution_id == execution_id and edge.direction == "input"]

    def outputs_of(self, execution_id: int) -> List[Edge]:
        return [edge for edge in self.edges if edge.execution_id == execution_id and edge.direction == "output"]

    def execution(self, component: str) -> ExecutionNode:
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


def read_lineage(run_dir_or_db: str) -> Lineage:
    store = open_store(run_dir_or_db)
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    executions = []
    for execution in sorted(store.get_executions(), key=lambda e: e.id):
        node_contexts = [c.name for c in store.get_contexts_by_execution(execution.id) if "." in c.name]
        component = node_contexts[-1].split(".")[-1] if node_contexts else execution_types.get(execution.type_id, "?")
        executions.append(
            ExecutionNode(
                id=execution.id,
                component=component,
                type_name=execution_types.get(execution.type_id, "?"),
                state=_EXECUTION_STATES.get(execution.last_known_state, "UNKNOWN"),
                properties={k: _value(v) for k, v in execution.custom_properties.items()},
            )
        )
    artifacts = {
        artifact.id: ArtifactNode(
            id=artifact.id,
            type_name=artifact_types.get(artifact.type_id, "?"),
            uri=artifact.uri,
            properties={k: _value(v) for k, v in artifact.custom_properties.items()},
        )
        for artifact in store.get_artifacts()
    }
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
    return Lineage(executions, artifacts, edges)


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
    for node in lineage.executions:
        lines.append(f"[{node.id}] {node.component} ({node.type_name}) {node.state}")
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
    """The artifact a component wrote under `key` (latest execution)."""
    execution = lineage.execution(component)
    for edge in lineage.outputs_of(execution.id):
        if edge.key == key:
            return lineage.artifacts[edge.artifact_id]
    return None
