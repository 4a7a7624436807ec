"""Which split of an Examples artifact to read, and at which image size."""

from __future__ import annotations

from typing import List, Optional, Tuple

import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

from components.types import examples_io, features
from components.types.data_spec import DataSpecContent


def choose_split(requested: Optional[str], available: List[str], examples_uri: str) -> str:
    """The configured split, else 'test' when present, else 'eval'."""
    if requested:
        candidates = [requested]
    else:
        candidates = [features.TEST_SPLIT, features.EVAL_SPLIT]
    for split in candidates:
        if split in available:
            return split
    raise ValueError(
        f"Examples at {examples_uri} have splits {available}; none of {candidates} to evaluate "
        "(set EvaluationConfig.split)."
    )


def examples_splits(examples: types.Artifact) -> List[str]:
    """Split names from the artifact, or from its Split-* folders when unset."""
    if examples.split_names:
        return list(artifact_utils.decode_split_names(examples.split_names))
    prefix = examples_io.SPLIT_DIR_PREFIX
    folders = tf.io.gfile.listdir(examples.uri) if tf.io.gfile.isdir(examples.uri) else []
    return sorted(name.rstrip("/")[len(prefix) :] for name in folders if name.startswith(prefix))


def model_image_size(model, data_spec: DataSpecContent, model_uri: str) -> Tuple[int, int]:
    """The model's fixed input (height, width), else the DataSpec default."""
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4:
        raise ValueError(f"Model at {model_uri} must take one image input [B,H,W,C]; input_shape is {shape}.")
    channels = shape[3]
    if isinstance(channels, int) and channels != data_spec.channels:
        raise ValueError(
            f"Model at {model_uri} expects {channels} channels but the DataSpec says {data_spec.channels}."
        )
    height, width = shape[1], shape[2]
    if isinstance(height, int) and isinstance(width, int):
        return height, width
    return examples_io.default_image_size(data_spec)
