"""Loads a user's model from a module file, like TFX Trainer's module_file."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from typing import Tuple

import keras

from components.types.data_spec import DataSpecContent

BUILD_MODEL_FN = "build_model"


def build_model_from_module_file(
    module_file: str, data_spec: DataSpecContent, image_size: Tuple[int, int]
) -> keras.Model:
    """Calls `build_model(data_spec)` (or `build_model(data_spec, image_size)`) from `module_file`."""
    if not os.path.exists(module_file):
        raise FileNotFoundError(f"Module file {module_file} does not exist.")
    spec = importlib.util.spec_from_file_location(f"user_module_{abs(hash(module_file))}", module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name.
    spec.loader.exec_module(module)
    build = getattr(module, BUILD_MODEL_FN, None)
    if not callable(build):
        raise AttributeError(f"Module file {module_file} defines no function {BUILD_MODEL_FN}(data_spec).")
    takes_size = len(inspect.signature(build).parameters) >= 2
    model = build(data_spec, image_size) if takes_size else build(data_spec)
    if not isinstance(model, keras.Model):
        raise TypeError(f"{module_file}:{BUILD_MODEL_FN} returned {type(model).__name__}, not a keras.Model.")
    return model
