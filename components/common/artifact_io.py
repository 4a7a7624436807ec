"""Artifact file I/O through tf.io.gfile (pipeline roots are gs:// on clusters), one JSON policy."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Mapping, Optional

import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils


def json_ready(value: Any) -> Any:
    """Replaces NaN/inf floats with None (strict JSON has no NaN), recursively; numpy scalars become Python."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)) and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def read_text(path: str) -> str:
    with tf.io.gfile.GFile(path) as handle:
        return handle.read()


def write_bytes(path: str, data: bytes) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data)


def write_json(path: str, payload: Any) -> None:
    """Strict JSON (NaN -> null), sorted keys, indented."""
    write_text(path, json.dumps(json_ready(payload), indent=2, sort_keys=True))


def read_json(path: str) -> Any:
    return json.loads(read_text(path))


def optional_single(input_dict: Dict[str, List[types.Artifact]], key: str) -> Optional[types.Artifact]:
    """The one artifact under `key`, or None when the optional input is not wired."""
    found = input_dict.get(key) or []
    return found[0] if found else None


def single(input_dict: Dict[str, List[types.Artifact]], key: str) -> types.Artifact:
    return artifact_utils.get_single_instance(input_dict[key])


def copy_tree(source: str, destination: str) -> None:
    """Copies a directory tree file by file through gfile (local, gs://, ram://)."""
    tf.io.gfile.makedirs(destination)
    for directory, _, files in tf.io.gfile.walk(source):
        relative = directory[len(source):].lstrip("/")
        target = f"{destination.rstrip('/')}/{relative}" if relative else destination
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(f"{directory.rstrip('/')}/{name}", f"{target.rstrip('/')}/{name}", overwrite=True)
