"""Applying learned optimization params (OptimizationParams' output) to a trainer config.

Every trainer-based component (Training, and any other with batch_size /
learning_rate / epochs in its config) calls `apply_optimization_params` with
the fields the user set explicitly: those win, the learned values fill the
rest, and the log says which value came from where.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Collection, Dict, Mapping, Tuple, TypeVar, Union

from components.common import artifact_io
from components.types.artifacts import LEARNED_PARAM_PROPERTIES, OPTIMIZATION_PARAMS_FILE_NAME

logger = logging.getLogger(__name__)
ConfigT = TypeVar("ConfigT")

_CASTS = {"batch_size": int, "learning_rate": float, "epochs": int}


def read_optimization_params(source: Union[str, Mapping[str, Any], Any]) -> Dict[str, Any]:
    """The learned values `{batch_size, learning_rate, epochs}` from a dict, an artifact URI or an artifact.

    Raises:
      ValueError: when the JSON lacks one of the values or holds a non-positive one.
      FileNotFoundError: when the URI has no optimization_params.json.
    """
    where = "the given dict"
    if not isinstance(source, Mapping):
        uri = getattr(source, "uri", source)
        path = os.path.join(str(uri), OPTIMIZATION_PARAMS_FILE_NAME)
        import tensorflow as tf  # Only for artifact URIs (gs:// on clusters).

        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"No {OPTIMIZATION_PARAMS_FILE_NAME} in the OptimizationParams artifact at {uri}.")
        source, where = artifact_io.read_json(path), path
    missing = [name for name in LEARNED_PARAM_PROPERTIES if source.get(name) is None]
    if missing:
        raise ValueError(f"Optimization params in {where} lack {missing}.")
    values = {name: _CASTS[name](source[name]) for name in LEARNED_PARAM_PROPERTIES}
    bad = {name: value for name, value in values.items() if not value > 0}
    if bad:
        raise ValueError(f"Optimization params in {where} must be > 0, got {bad}.")
    return values


def apply_optimization_params(
    config: ConfigT, source: Union[str, Mapping[str, Any], Any], user_set_fields: Collection[str] = ()
) -> ConfigT:
    """`config` with batch_size / learning_rate / epochs replaced by the learned values.

    Only fields the config has and the user did not set explicitly are
    replaced (`dataclasses.replace`, so the config is validated again).

    Args:
      config: a frozen config dataclass (TrainingConfig or alike).
      source: the OptimizationParams artifact, its URI, or the parsed JSON / a
        dict of the three values.
      user_set_fields: names the user set explicitly (e.g. TrainingConfig.explicit_fields).
    """
    learned = read_optimization_params(source)
    applied, kept = apply_values(config, learned, user_set_fields)
    logger.info(
        "optimization params: learned %s; kept from the config (set by the user) %s",
        {name: learned[name] for name in applied} or "none", kept or "none",
    )
    return dataclasses.replace(config, **{name: learned[name] for name in applied}) if applied else config


def apply_values(config: Any, learned: Mapping[str, Any], user_set_fields: Collection[str]) -> Tuple[list, dict]:
    """(names to take from `learned`, {name: the config's value} kept because the user set them)."""
    names = {field.name for field in dataclasses.fields(config)}
    applied = [name for name in LEARNED_PARAM_PROPERTIES if name in names and name in learned
               and name not in user_set_fields]
    kept = {
        name: getattr(config, name) for name in LEARNED_PARAM_PROPERTIES if name in names and name in user_set_fields
    }
    return applied, kept


def scaled_learning_rate(source: Union[str, Mapping[str, Any], Any], batch_size: int) -> float:
    """The learned learning rate moved to another batch size by the linear scaling rule (Goyal et al., 2017).

    For trainers whose batch size and epochs are planned for a different pool of images than the labeled
    set the range test ran on (a noisy student trains on labeled + pseudo-labeled images): the learning
    rate transfers, the batch size and epochs do not.
    """
    learned = read_optimization_params(source)
    rate = learned["learning_rate"] * float(batch_size) / float(learned["batch_size"])
    logger.info("optimization params: learning rate %.3g learned at batch %d -> %.3g at batch %d",
                learned["learning_rate"], learned["batch_size"], rate, batch_size)
    return rate
