"""The per-epoch checkpoint of a consistency run: one file, replaced atomically.

`<work_dir>/checkpoint.npz` holds named groups of variables (model weights,
EMA weights, optimizer slots, threshold and alignment state) and a JSON
record (finished epochs, history). It is written to a temporary name and
renamed over the old one, so a run killed while saving keeps the previous
epoch's checkpoint. Reads and writes go through tf.io.gfile (work
directories may be on gs://).
"""

from __future__ import annotations

import io
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

CHECKPOINT_FILE_NAME = "checkpoint.npz"
_RECORD_KEY = "__record__"


def checkpoint_path(work_dir: str) -> str:
    return os.path.join(work_dir, CHECKPOINT_FILE_NAME)


def save(work_dir: str, groups: Dict[str, Sequence], record: dict) -> str:
    """Writes every variable of every group and the JSON record; returns the checkpoint path."""
    arrays = {_RECORD_KEY: np.array(json.dumps(record))}
    for group, variables in groups.items():
        for index, variable in enumerate(variables):
            arrays[f"{group}/{index:05d}"] = np.asarray(variable)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    tf.io.gfile.makedirs(work_dir)
    path = checkpoint_path(work_dir)
    partial = path + ".partial"
    with tf.io.gfile.GFile(partial, "wb") as handle:
        handle.write(buffer.getvalue())
    tf.io.gfile.rename(partial, path, overwrite=True)
    return path


def load(work_dir: str) -> Optional[Tuple[Dict[str, List[np.ndarray]], dict]]:
    """(groups of arrays, record) of the last checkpoint, or None when there is none."""
    path = checkpoint_path(work_dir)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as handle:
        loaded = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        record = json.loads(str(loaded[_RECORD_KEY]))
        groups: Dict[str, List[np.ndarray]] = {}
        for key in sorted(key for key in loaded.files if key != _RECORD_KEY):
            group, _ = key.rsplit("/", 1)
            groups.setdefault(group, []).append(loaded[key])
    return groups, record


def restore(groups: Dict[str, List[np.ndarray]], targets: Dict[str, Sequence], path: str) -> None:
    """Assigns saved arrays to the same-named groups of variables.

    Raises:
      ValueError: when a group's count or a variable's shape differs (the
        checkpoint belongs to another model or config: clear the work_dir).
    """
    for group, variables in targets.items():
        saved = groups.get(group, [])
        if len(saved) != len(variables):
            raise ValueError(
                f"Checkpoint {path}: group {group!r} has {len(saved)} variables, the run has {len(variables)}; "
                "it was written by another model or config (delete it or set another work_dir)."
            )
        for index, (variable, value) in enumerate(zip(variables, saved)):
            if tuple(variable.shape) != tuple(value.shape):
                raise ValueError(
                    f"Checkpoint {path}: {group} variable {index} has shape {value.shape}, the run's has "
                    f"{tuple(variable.shape)} (delete it or set another work_dir)."
                )
            variable.assign(value)


def remove(work_dir: str) -> None:
    """Deletes the checkpoint (after the finished model is written)."""
    path = checkpoint_path(work_dir)
    if tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)
