"""Loads a user's model from a module file, like TFX Trainer's module_file.

The file is read through tf.io.gfile, so a module staged into a gs:// pipeline
root (components.common.module_files.stage_module_file) loads on the cluster
the same way a local one loads on a laptop.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import types
from typing import Tuple

import keras
import tensorflow as tf

from components.common import model_io
from components.types.data_spec import DataSpecContent

BUILD_MODEL_FN = "build_model"
TRUST_OPTION = "trust_module_code"


def load_module(module_file: str) -> types.ModuleType:
    """Executes `module_file` (any path tf.io.gfile reads) as a fresh module and returns it."""
    if not tf.io.gfile.exists(module_file):
        raise FileNotFoundError(f"Module file {module_file} does not exist.")
    with tf.io.gfile.GFile(module_file, "rb") as handle:
        source = handle.read()
    name = f"user_module_{hashlib.sha256(module_file.encode('utf-8')).hexdigest()[:16]}"
    module = types.ModuleType(name)
    module.__file__ = module_file
    sys.modules[name] = module  # dataclasses and pickling look the module up by name.
    try:
        exec(compile(source, module_file, "exec"), module.__dict__)  # noqa: S102 (the user's own module file)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def check_trusted_code(model: keras.Model, module_file: str, trust_module_code: bool) -> None:
    """Refuses a model with Lambda layers unless the user opted in: Keras safe mode would refuse to load it later.

    Raises:
      ValueError: one line naming the first Lambda layer and the option to set.
    """
    lambdas = model_io.lambda_layer_names(model)
    if lambdas and not trust_module_code:
        raise ValueError(
            f"{module_file}:{BUILD_MODEL_FN} returned a model with Lambda layer(s) {lambdas} (arbitrary Python that "
            f"Keras safe mode refuses to load); replace them with a registered custom layer, or set "
            f"training.{TRUST_OPTION}: true if you trust this code."
        )


def build_model_from_module_file(
    module_file: str, data_spec: DataSpecContent, image_size: Tuple[int, int], trust_module_code: bool = False
) -> keras.Model:
    """Calls `build_model(data_spec)` (or `build_model(data_spec, image_size)`) from `module_file`.

    Raises:
      ValueError: the model holds Lambda layers and `trust_module_code` is off.
    """
    module = load_module(module_file)
    build = getattr(module, BUILD_MODEL_FN, None)
    if not callable(build):
        raise AttributeError(f"Module file {module_file} defines no function {BUILD_MODEL_FN}(data_spec).")
    takes_size = len(inspect.signature(build).parameters) >= 2
    model = build(data_spec, image_size) if takes_size else build(data_spec)
    if not isinstance(model, keras.Model):
        raise TypeError(f"{module_file}:{BUILD_MODEL_FN} returned {type(model).__name__}, not a keras.Model.")
    check_trusted_code(model, module_file, trust_module_code)
    return model
