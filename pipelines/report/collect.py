"""What a run recorded in ML Metadata, in the shape the report needs.

One read of the store gives the latest pipeline run's lineage
(pipelines.lineage) plus what the lineage does not carry: each execution's
create / last-update times (the component timings) and the run's name.
Everything else the report shows is read from artifact URIs, found here by
producing component and output key, never by guessing paths.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Dict, List, Optional, Tuple

from pipelines import lineage as lineage_lib


RUNNING_STATES = ("NEW", "RUNNING")


@dataclasses.dataclass
class ComponentRun:
    """One execution of a component, with its wall-clock span.

    Attributes:
      started, finished: seconds since the epoch (MLMD create / last update
        time); `finished` of a running execution is now.
    """

    execution_id: int
    component: str
    type_name: str
    state: str
    started: Optional[float]
    finished: Optional[float]

    @property
    def seconds(self) -> Optional[float]:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)


@dataclasses.dataclass
class OutputArtifact:
    """An artifact with the component and output key that produced it."""

    component: str
    key: str
    artifact: lineage_lib.ArtifactNode

    @property
    def type_short(self) -> str:
        return self.artifact.type_name.split(".")[-1]


@dataclasses.dataclass
class RunRecord:
    """The latest pipeline run of a run directory, as the report reads it."""

    run_dir: str
    pipeline_name: str
    run_name: Optional[str]
    earlier_runs: int
    lineage: lineage_lib.Lineage
    components: List[ComponentRun]

    def outputs(self, component: Optional[str] = None, key: Optional[str] = None) -> List[OutputArtifact]:
        """Output artifacts in execution order, filtered by component id and/or output key."""
        by_id = {node.id: node for node in self.lineage.executions}
        found = []
        for edge in self.lineage.edges:
            if edge.direction != "output" or edge.artifact_id not in self.lineage.artifacts:
                continue
            node = by_id.get(edge.execution_id)
            if node is None or (component and node.component != component) or (key and edge.key != key):
                continue
            artifact = self.lineage.artifacts[edge.artifact_id]
            found.append((edge.execution_id, edge.artifact_id, OutputArtifact(node.component, edge.key, artifact)))
        return [item for _, _, item in sorted(found, key=lambda entry: entry[:2])]

    def latest_output(self, component: str, key: str) -> Optional[OutputArtifact]:
        found = self.outputs(component, key)
        return found[-1] if found else None

    def outputs_of_type(self, type_name: str) -> List[OutputArtifact]:
        """Outputs whose MLMD type is `type_name` (full, e.g. "Model", or "tfx_autofit.DataSpec")."""
        return [item for item in self.outputs() if item.artifact.type_name == type_name]

    def components_named(self) -> List[str]:
        return [run.component for run in self.components]

    @property
    def started(self) -> Optional[float]:
        times = [run.started for run in self.components if run.started is not None]
        return min(times) if times else None

    @property
    def finished(self) -> Optional[float]:
        times = [run.finished for run in self.components if run.finished is not None]
        return max(times) if times else None


def plain_value(value: object) -> object:
    """MLMD values as plain Python: struct/proto values (e.g. ExampleValidator's `blessed`) become dicts."""
    if hasattr(value, "DESCRIPTOR"):
        from google.protobuf import json_format

        return json_format.MessageToDict(value)
    return value


def _times(store, execution_ids: List[int]) -> Dict[int, Tuple[Optional[float], Optional[float]]]:
    times = {}
    for execution in store.get_executions_by_id(execution_ids) if execution_ids else []:
        created = execution.create_time_since_epoch / 1000.0 if execution.create_time_since_epoch else None
        updated = execution.last_update_time_since_epoch / 1000.0 if execution.last_update_time_since_epoch else None
        times[execution.id] = (created, updated)
    return times


def read_run(run_dir: str) -> RunRecord:
    """Reads the latest pipeline run in `run_dir` (its metadata.sqlite).

    Raises:
      FileNotFoundError: the run directory has no ML Metadata database.
    """
    lineage = lineage_lib.read_lineage(run_dir)
    for artifact in lineage.artifacts.values():
        artifact.properties = {key: plain_value(value) for key, value in artifact.properties.items()}
    store = lineage_lib.open_store(run_dir)
    times = _times(store, [node.id for node in lineage.executions])
    now = time.time()
    components = []
    for node in lineage.executions:
        started, finished = times.get(node.id, (None, None))
        if node.state in RUNNING_STATES and started is not None:
            finished = max(now, started)  # Still running: its span so far.
        components.append(ComponentRun(node.id, node.component, node.type_name, node.state, started, finished))
    pipeline_names = [node.pipeline for node in lineage.executions if node.pipeline]
    earlier = max(0, len(lineage.runs) - 1) if lineage.run is not None else 0
    return RunRecord(
        run_dir=run_dir,
        pipeline_name=pipeline_names[0] if pipeline_names else "",
        run_name=lineage.run,
        earlier_runs=earlier,
        lineage=lineage,
        components=components,
    )
