"""Test helpers for resume-after-kill checks: a stand-in for kill -9, an execution scope, TensorBoard files."""

from __future__ import annotations

import os
from typing import List

import keras

from components.common import resume


class KillAfterEpochs(keras.callbacks.Callback):
    """Stands in for kill -9: stops the process's training after `epochs` finished epochs.

    Put it after the standard callbacks, so the epoch's checkpoint is written first.
    """

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt("killed")


class EpochsStarted(keras.callbacks.Callback):
    """Records the index of every epoch `fit` starts (a resumed fit starts past the restored ones)."""

    def __init__(self):
        super().__init__()
        self.started: List[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started.append(epoch)


def scope(root: str, component_id: str, run_key: str = "0123456789abcdef", execution_id: str = "1"):
    """An execution scope as a TFX execution of `component_id` under pipeline root `root` would have.

    A rerun after a kill has another execution id but the same run key; make a new scope for it
    (fit labels count from zero again, as in a new process).
    """
    return resume.ExecutionScope(pipeline_root=root, component_id=component_id, execution_id=execution_id,
                                 run_key=run_key)


def tensorboard_event_files(directory: str) -> List[str]:
    """Every `events.out.tfevents.*` file below `directory`."""
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(directory)
                  for name in names if name.startswith("events.out.tfevents"))
