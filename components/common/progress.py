"""Progress of long steps: a bar in a terminal, log lines elsewhere, a JSON file for `autofit status`.

Three outputs, one source of truth (`ProgressReporter`):
- an interactive terminal (`sys.stderr.isatty()`) gets a tqdm bar with ETA;
- anything else (CI, Kubeflow/Vertex logs, Beam workers) gets a plain log
  line at most every `log_every_s` seconds and at the end: stage, done/total,
  elapsed, ETA;
- inside a TFX execution, `<pipeline_root>/_progress/<component_id>.json`
  (see `resume.progress_path`) is rewritten at most every `write_every_s`
  seconds with {component, stage, done, total, unit, elapsed, eta,
  updated_at, state, execution_id, pid}; `pipelines.status` reads it.

Use `KerasProgress` as a Keras callback and `track(iterable, ...)` around
any other loop (translation, pseudo-labelling, search passes).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, Dict, Iterable, Iterator, Optional

import keras
import tensorflow as tf

from components.common import resume

logger = logging.getLogger(__name__)

RUNNING = "running"
FINISHED = "finished"


def format_duration(seconds: Optional[float]) -> str:
    """`42s`, `3m05s`, `1h02m`; `?` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def write_progress_file(path: str, payload: Dict[str, Any]) -> None:
    """Writes then renames, so a reader never sees half a file (tf.io.gfile paths)."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(temporary, "w") as handle:
        handle.write(json.dumps(payload, sort_keys=True))
    tf.io.gfile.rename(temporary, path, overwrite=True)


def read_progress_dir(pipeline_root: str) -> Dict[str, Dict[str, Any]]:
    """component id -> its last progress record, from `<pipeline_root>/_progress/*.json`."""
    directory = os.path.join(pipeline_root, resume.PROGRESS_DIR_NAME)
    if not tf.io.gfile.isdir(directory):
        return {}
    records = {}
    for name in sorted(tf.io.gfile.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with tf.io.gfile.GFile(os.path.join(directory, name)) as handle:
                record = json.loads(handle.read())
        except (ValueError, tf.errors.OpError) as error:
            logger.warning("Skipping unreadable progress file %s: %s", name, error)
            continue
        records[record.get("component") or name[: -len(".json")]] = record
    return records


class ProgressReporter:
    """Counts work done out of a total and reports it (bar, log lines, progress file).

    Args:
      stage: what is being done, e.g. `training` or `translation[train]`.
      total: units of work, or None when unknown (no ETA then).
      unit: the unit's name for humans (`step`, `epoch`, `record`).
      initial: units already done before this process (a resumed training);
        they count as done but not towards the rate, so the ETA stays honest.
      path: progress file; default from the current execution scope (none
        outside a TFX execution). `""` turns the file off.
      interactive: show a tqdm bar; default `sys.stderr.isatty()`.
      log_every_s / write_every_s: throttles for log lines and file writes.
      clock: injectable time source (tests).
    """

    def __init__(
        self,
        stage: str,
        total: Optional[int],
        unit: str = "step",
        initial: int = 0,
        path: Optional[str] = None,
        component: Optional[str] = None,
        interactive: Optional[bool] = None,
        log_every_s: float = 30.0,
        write_every_s: float = 5.0,
        clock=time.time,
    ):
        scope = resume.current_scope()
        self.stage = stage
        self.total = int(total) if total else None
        self.unit = unit
        self.initial = self.done = int(initial)
        self.path = (scope.progress_path if scope else "") if path is None else path
        self.component = component or (scope.component_id if scope else stage)
        self.execution_id = scope.execution_id if scope else ""
        self.log_every_s, self.write_every_s = log_every_s, write_every_s
        self._clock = clock
        self._started = clock()
        self._last_log = self._last_write = self._started
        self._closed = False
        interactive = sys.stderr.isatty() if interactive is None else interactive
        self._bar = None
        if interactive:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.initial, desc=stage, unit=unit, file=sys.stderr, leave=True)
        self._write(RUNNING)

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    @property
    def eta(self) -> Optional[float]:
        """Seconds left at this process's rate; None before any progress or without a total."""
        progressed = self.done - self.initial
        if self.total is None or progressed <= 0:
            return None
        return max(0.0, (self.total - self.done) * self.elapsed / progressed)

    def snapshot(self, state: str = RUNNING) -> Dict[str, Any]:
        eta = 0.0 if state == FINISHED else self.eta
        return {
            "component": self.component,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "unit": self.unit,
            "elapsed": round(self.elapsed, 3),
            "eta": None if eta is None else round(eta, 3),
            "updated_at": self._clock(),
            "state": state,
            "execution_id": self.execution_id,
            "pid": os.getpid(),
        }

    def line(self, detail: str = "") -> str:
        total = f"/{self.total}" if self.total else ""
        percent = f" ({100.0 * self.done / self.total:.0f}%)" if self.total else ""
        text = (f"{self.stage}: {self.unit} {self.done}{total}{percent}, "
                f"elapsed {format_duration(self.elapsed)}, ETA {format_duration(self.eta)}")
        return f"{text}; {detail}" if detail else text

    def update(self, count: int = 1, detail: str = "") -> None:
        self.set(self.done + count, detail)

    def set(self, done: int, detail: str = "", log: Optional[bool] = None, force_write: bool = False) -> None:
        """Moves to `done` units.

        Args:
          log: True logs a line now, False never, None when `log_every_s` passed
            (no log lines while a bar is shown).
          force_write: write the progress file now instead of when `write_every_s` passed.
        """
        if self._bar is not None:
            self._bar.update(done - self.done)
            if detail:
                self._bar.set_postfix_str(detail, refresh=False)
        self.done = done
        now = self._clock()
        if log is None:
            log = self._bar is None and now - self._last_log >= self.log_every_s
        if log:
            logger.info(self.line(detail))
            self._last_log = now
        if force_write or now - self._last_write >= self.write_every_s:
            self._write(RUNNING)

    def mark_logged(self) -> None:
        """Restarts the log throttle (the caller just logged a line of its own)."""
        self._last_log = self._clock()

    def close(self, finished: bool = True, detail: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        logger.info("%s %s", self.line(detail), "(finished)" if finished else "(stopped)")
        self._write(FINISHED if finished else RUNNING)

    def _write(self, state: str) -> None:
        if not self.path:
            return
        self._last_write = self._clock()
        try:
            write_progress_file(self.path, self.snapshot(state))
        except (OSError, tf.errors.OpError) as error:  # Progress must never fail a run.
            logger.warning("Could not write progress file %s: %s", self.path, error)
            self.path = ""


def track(iterable: Iterable, stage: str, total: Optional[int] = None, unit: str = "item", **kwargs) -> Iterator:
    """Yields from `iterable`, reporting progress (see `ProgressReporter` for kwargs)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    reporter = ProgressReporter(stage, total, unit=unit, **kwargs)
    finished = False
    try:
        for item in iterable:
            yield item
            reporter.update(1)
        finished = True
    finally:
        reporter.close(finished=finished)


def scalar_writer(log_dir: str):
    """A TensorBoard writer for a custom training loop's scalars, or None when `log_dir` is "" (off)."""
    return tf.summary.create_file_writer(log_dir) if log_dir else None


def write_scalars(writer, step: int, values: Dict[str, Any]) -> None:
    """The numeric entries of `values` as TensorBoard scalars at `step` (a no-op without a writer).

    Booleans and the `epoch` / `step` counters themselves are left out. Custom loops (consistency training, the
    GAN) call this once per epoch or logging window; Keras fits get TensorBoard from `trainer.standard_callbacks`.
    """
    if writer is None:
        return
    with writer.as_default(step=step):
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in ("epoch", "step"):
                tf.summary.scalar(name, float(value))
    writer.flush()


def _metrics_text(logs: Optional[Dict[str, Any]]) -> str:
    return ", ".join(f"{key}={float(value):.4f}" for key, value in sorted((logs or {}).items()))


class KerasProgress(keras.callbacks.Callback):
    """Progress of `model.fit`: steps when the epoch length is known, else epochs.

    Logs one line per epoch (`<label> epoch k/N: metrics; elapsed, ETA`) in
    every mode, plus throttled step lines within long epochs. A resumed fit
    (BackupAndRestore set `model._initial_epoch`) starts counting there.
    """

    def __init__(self, epochs: int, label: str = "training", steps_per_epoch: Optional[int] = None, **reporter_kwargs):
        super().__init__()
        self.epochs = int(epochs)
        self.label = label
        self.steps_per_epoch = steps_per_epoch
        self.reporter_kwargs = reporter_kwargs
        self.reporter: Optional[ProgressReporter] = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        steps = (self.params or {}).get("steps") or self.steps_per_epoch
        self.steps_per_epoch = int(steps) if steps else None
        initial_epoch = int(getattr(self.model, "_initial_epoch", None) or 0)
        self._epoch = initial_epoch
        if self.steps_per_epoch:
            total, initial, unit = self.epochs * self.steps_per_epoch, initial_epoch * self.steps_per_epoch, "step"
        else:
            total, initial, unit = self.epochs, initial_epoch, "epoch"
        self.reporter = ProgressReporter(self.label, total, unit=unit, initial=initial, **self.reporter_kwargs)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.reporter is not None and self.steps_per_epoch:
            self.reporter.set(self._epoch * self.steps_per_epoch + batch + 1, f"epoch {self._epoch + 1}/{self.epochs}")

    def on_epoch_end(self, epoch, logs=None):
        if self.reporter is None:
            return
        done = (epoch + 1) * self.steps_per_epoch if self.steps_per_epoch else epoch + 1
        self.reporter.set(done, _metrics_text(logs), log=False, force_write=True)
        self.reporter.mark_logged()
        logger.info(
            "%s epoch %d/%d: %s; elapsed %s, ETA %s", self.label, epoch + 1, self.epochs, _metrics_text(logs),
            format_duration(self.reporter.elapsed), format_duration(self.reporter.eta),
        )

    def on_train_end(self, logs=None):
        if self.reporter is not None:
            self.reporter.close(finished=True)
