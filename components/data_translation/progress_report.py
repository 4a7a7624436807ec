"""Translation progress for `autofit status`: the executor's scope, carried into the Beam workers.

Executors learn their progress file from the execution scope
(`components.common.resume`), a context variable of the executor's thread;
Beam runs DoFns on other threads or machines, so the file's path, the
component id and the execution id travel inside the DoFn as a small
`ProgressTarget`. The build stage counts records per worker and rewrites
`<pipeline_root>/_progress/<component>.json` every few seconds (with several
workers, the file shows whichever worker wrote last, against the dataset's
total); the executor writes the first and the final record.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from components.common import progress, resume

STAGE = "translation"
UNIT = "record"


@dataclasses.dataclass(frozen=True)
class ProgressTarget:
    """Where a worker reports: the progress file, the component id and the MLMD execution id."""

    path: str
    component: str
    execution_id: str

    @classmethod
    def from_scope(cls, scope: Optional[resume.ExecutionScope]) -> Optional["ProgressTarget"]:
        """The current execution's target, or None outside a TFX execution (nothing is written then)."""
        if scope is None:
            return None
        return cls(path=scope.progress_path, component=scope.component_id, execution_id=scope.execution_id)


def reporter(target: Optional[ProgressTarget], total: Optional[int], **kwargs) -> progress.ProgressReporter:
    """A non-interactive reporter of built records; it logs a line with the ETA every 30 s either way."""
    path = target.path if target else ""
    component = target.component if target else "DataTranslation"
    made = progress.ProgressReporter(STAGE, total, unit=UNIT, path="", component=component, interactive=False, **kwargs)
    # The path and execution id are set after construction: the constructor would write one record
    # with the worker thread's (empty) execution scope first.
    made.path = path
    made.execution_id = target.execution_id if target else ""
    return made
