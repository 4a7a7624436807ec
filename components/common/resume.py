"""Resume long trainings after a kill, from the last completed epoch.

A rerun of a killed pipeline gets a new execution id, a new output URI and a
new TFX stateful working directory, so none of those can hold a checkpoint
that the rerun finds. The checkpoint lives under a directory keyed by what
makes two executions the same work:

    <pipeline_root>/_resume/<component_id>/<run_key>/<fit label>/

where `run_key` hashes the execution properties and the input artifact ids.
The same inputs and config find the checkpoint; any change in either starts
fresh. Inside one execution, `trainer.fit` may run several trainings
(search trials, noisy-student rounds), each with its own numbered label, in
a deterministic order, so a rerun pairs each training with its own
checkpoint.

How the training loop learns where it runs: executors decorate `Do` with
`execution_scoped`, which derives an `ExecutionScope` from TFX's executor
context and makes it current for the duration of `Do`. Library code
(`trainer.fit`, `progress.track`) reads `current_scope()`; outside a TFX
execution (tests, benchmarks, notebooks) it is None and nothing is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

RESUME_DIR_NAME = "_resume"
PROGRESS_DIR_NAME = "_progress"
TENSORBOARD_DIR_NAME = "_tensorboard"
HISTORY_FILE_NAME = "history.json"

_CURRENT: contextvars.ContextVar[Optional["ExecutionScope"]] = contextvars.ContextVar("autofit_execution", default=None)


def run_key(exec_properties: Mapping[str, Any], input_dict: Mapping[str, List[Any]]) -> str:
    """16 hex digits identifying the work: execution properties plus input artifact ids.

    Artifacts without an MLMD id (id 0, e.g. in unit tests) count by URI.
    """
    inputs = {
        key: sorted(str(artifact.id or artifact.uri) for artifact in artifacts or [])
        for key, artifacts in input_dict.items()
    }
    payload = json.dumps({"exec_properties": dict(exec_properties), "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "fit"


@dataclasses.dataclass
class ExecutionScope:
    """Where one component execution keeps state that outlives the process.

    Attributes:
      pipeline_root: the pipeline's root (local path or a tf.io.gfile URI).
      component_id: the node id in the pipeline (e.g. `Training`).
      execution_id: MLMD execution id as a string ("" when unknown).
      run_key: `run_key(exec_properties, input_dict)`.
    """

    pipeline_root: str
    component_id: str
    execution_id: str
    run_key: str
    fits_started: int = 0

    @property
    def resume_root(self) -> str:
        return os.path.join(self.pipeline_root, RESUME_DIR_NAME, self.component_id, self.run_key)

    @property
    def progress_path(self) -> str:
        return progress_path(self.pipeline_root, self.component_id)

    def next_fit_label(self, prefix: str) -> str:
        """`fit-00-training`, `fit-01-search-proxy`, ...: one per training, in call order."""
        label = f"fit-{self.fits_started:02d}-{_slug(prefix)}"
        self.fits_started += 1
        return label

    def checkpoint_dir(self, fit_label: str) -> str:
        return os.path.join(self.resume_root, fit_label)

    def tensorboard_dir(self, fit_label: str) -> str:
        """Keyed by run_key too, so a resumed training continues its curves in the same folder."""
        return os.path.join(self.pipeline_root, TENSORBOARD_DIR_NAME, self.component_id, self.run_key, fit_label)


def progress_path(pipeline_root: str, component_id: str) -> str:
    """`<pipeline_root>/_progress/<component_id>.json` (what `autofit status` reads)."""
    return os.path.join(pipeline_root, PROGRESS_DIR_NAME, f"{component_id}.json")


def _pipeline_root_from(context, component_id: str, output_dict: Mapping[str, List[Any]]) -> Optional[str]:
    """TFX lays outputs out as `<root>/<node id>/<output key>/<execution id>` and the stateful
    working dir as `<root>/<node id>/.system/stateful_working_dir/<uuid>`; either gives the root."""
    for key, artifacts in output_dict.items():
        for artifact in artifacts or []:
            parts = artifact.uri.rstrip("/").split("/")
            if len(parts) >= 4 and parts[-3] == component_id and parts[-2] == key:
                return "/".join(parts[:-3])
    stateful = (getattr(context, "stateful_working_dir", None) or "").rstrip("/")
    parts = stateful.split("/")
    if len(parts) >= 5 and parts[-4] == component_id and parts[-3] == ".system":
        return "/".join(parts[:-4])
    return None


def scope_from_context(
    context, input_dict: Mapping[str, List[Any]], output_dict: Mapping[str, List[Any]], exec_properties: Mapping[str, Any]
) -> Optional[ExecutionScope]:
    """The scope of a TFX execution, or None when the executor runs without a pipeline (tests)."""
    node = getattr(context, "pipeline_node", None) if context is not None else None
    component_id = node.node_info.id if node is not None else ""
    if not component_id:
        return None
    root = _pipeline_root_from(context, component_id, output_dict)
    if root is None:
        logger.info("No pipeline root found for %s; training runs without resume checkpoints.", component_id)
        return None
    return ExecutionScope(
        pipeline_root=root,
        component_id=component_id,
        execution_id=str(getattr(context, "_unique_id", "") or ""),
        run_key=run_key(exec_properties, input_dict),
    )


def current_scope() -> Optional[ExecutionScope]:
    """The scope of the execution running in this thread, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def execution_scope(scope: Optional[ExecutionScope]) -> Iterator[Optional[ExecutionScope]]:
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)


def execution_scoped(do):
    """Decorates an executor's `Do` so training inside it can resume and report progress.

    Example:
      class Executor(base_executor.BaseExecutor):
          @resume.execution_scoped
          def Do(self, input_dict, output_dict, exec_properties): ...
    """

    if getattr(do, "_execution_scoped", False):
        return do

    @functools.wraps(do)
    def wrapper(self, input_dict, output_dict, exec_properties):
        scope = scope_from_context(getattr(self, "_context", None), input_dict, output_dict, exec_properties)
        with execution_scope(scope):
            return do(self, input_dict, output_dict, exec_properties)

    wrapper._execution_scoped = True
    return wrapper


class ExecutionScopedExecutor:
    """Mixin for an executor base: every subclass's `Do` runs inside its execution scope.

    Example:
      class ComponentExecutor(resume.ExecutionScopedExecutor, base_executor.BaseExecutor): ...
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        do = cls.__dict__.get("Do")
        if do is not None:
            cls.Do = execution_scoped(do)


class ResumableTraining(keras.callbacks.BackupAndRestore):
    """Keras BackupAndRestore (weights, optimizer state, epoch) plus the per-epoch history.

    Keras' History after a resume holds only the epochs run since; this
    callback keeps every finished epoch's logs beside the checkpoint, so
    `full_history()` covers the whole training. The directory is removed when
    training completes (a finished fit leaves nothing to resume).

    Note: the data order after a resume restarts from the first epoch's
    shuffle, so a resumed run is not bitwise identical to an uninterrupted one.
    """

    def __init__(self, backup_dir: str, remove_empty_parent: bool = False):
        """`remove_empty_parent`: also remove the folder above when it ends up empty (scope folders)."""
        super().__init__(backup_dir=backup_dir, save_freq="epoch", delete_checkpoint=True)
        self.remove_empty_parent = remove_empty_parent
        self.history_path = os.path.join(backup_dir, HISTORY_FILE_NAME)
        self.resumed_from_epoch = 0
        self._history: Dict[str, List[float]] = {}

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except ValueError as error:  # Keras: the saved weights do not fit this model.
            raise ValueError(
                f"The resume checkpoint in {self.backup_dir} does not fit this model (was the module file "
                f"changed?): {error}. Delete that folder to train from scratch."
            ) from error
        self.resumed_from_epoch = int(getattr(self.model, "_initial_epoch", None) or 0)
        self._history = {}
        if self.resumed_from_epoch and tf.io.gfile.exists(self.history_path):
            with tf.io.gfile.GFile(self.history_path) as handle:
                saved = json.loads(handle.read())
            # The history is written before the weights: keep only epochs the checkpoint covers.
            self._history = {key: list(values)[: self.resumed_from_epoch] for key, values in saved.items()}
        if self.resumed_from_epoch:
            logger.info("Resuming training from epoch %d (checkpoint in %s)", self.resumed_from_epoch + 1, self.backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(float(value))
        tf.io.gfile.makedirs(self.backup_dir)
        with tf.io.gfile.GFile(self.history_path, "w") as handle:
            handle.write(json.dumps(self._history))
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)  # Removes the checkpoint folder.
        if not self.remove_empty_parent:
            return
        parent = os.path.dirname(self.backup_dir.rstrip("/"))
        try:
            if tf.io.gfile.isdir(parent) and not tf.io.gfile.listdir(parent):
                tf.io.gfile.rmtree(parent)
        except tf.errors.OpError:  # Tidying only; another training may be using the folder.
            pass

    def full_history(self) -> Dict[str, List[float]]:
        return {key: list(values) for key, values in self._history.items()}
