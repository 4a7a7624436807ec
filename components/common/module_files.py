"""Stages the user's module file into the pipeline root, as TFX does for Trainer's module_file.

A pipeline compiled on a laptop runs on a cluster whose pods do not see the
laptop's disk; the pipeline root (gs://... on a cluster) is the one place every
component can read. The staged copy is named by a prefix of its content's
SHA-256, so staging is idempotent, an edited module gets a new path (and, with
caching on, a new cache key), and two modules with the same base name never
collide.
"""

from __future__ import annotations

import hashlib
import logging
import os

import tensorflow as tf

logger = logging.getLogger(__name__)

MODULES_DIR_NAME = "_modules"
DIGEST_PREFIX_LENGTH = 16


def staged_module_path(module_file: str, pipeline_root: str, content: bytes) -> str:
    """`<pipeline_root>/_modules/<sha256 prefix>_<basename>` for a module with `content`."""
    digest = hashlib.sha256(content).hexdigest()[:DIGEST_PREFIX_LENGTH]
    name = os.path.basename(module_file)
    if name.startswith(f"{digest}_"):
        name = name[len(digest) + 1 :]  # Already a staged copy: keep its name rather than prefixing it twice.
    return os.path.join(pipeline_root, MODULES_DIR_NAME, f"{digest}_{name}")


def stage_module_file(module_file: str, pipeline_root: str) -> str:
    """Copies `module_file` into `<pipeline_root>/_modules/` through tf.io.gfile and returns the copy's path.

    Both paths may be local or on any filesystem TensorFlow knows (gs://, ram://, ...).
    Calling it again with the same content returns the same path without rewriting it.

    Raises:
      FileNotFoundError: `module_file` does not exist.
      ValueError: `module_file` is not a Python file (.py).
    """
    if not module_file.endswith(".py"):
        raise ValueError(f"module_file {module_file} must be a Python file ending in .py.")
    if not tf.io.gfile.exists(module_file) or tf.io.gfile.isdir(module_file):
        raise FileNotFoundError(f"module_file {module_file} does not exist.")
    with tf.io.gfile.GFile(module_file, "rb") as handle:
        content = handle.read()
    staged = staged_module_path(module_file, pipeline_root, content)
    if os.path.normpath(staged) == os.path.normpath(module_file):
        return module_file  # Already the staged copy.
    if tf.io.gfile.exists(staged):
        with tf.io.gfile.GFile(staged, "rb") as handle:
            if handle.read() == content:
                return staged
    tf.io.gfile.makedirs(os.path.dirname(staged))
    # Write to a temporary name then rename, so a concurrent reader never sees half a module.
    partial = f"{staged}.partial-{os.getpid()}"
    with tf.io.gfile.GFile(partial, "wb") as handle:
        handle.write(content)
    tf.io.gfile.rename(partial, staged, overwrite=True)
    logger.info("Module file %s staged as %s.", module_file, staged)
    return staged
