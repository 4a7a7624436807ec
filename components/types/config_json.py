"""JSON round-trip for the frozen config dataclasses that components take.

Configs travel as a JSON string exec property, so they are validated when
the pipeline is built (the dataclass `__post_init__`) and again when the
executor reads them back.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Type, TypeVar, Union

ConfigT = TypeVar("ConfigT")


def check(condition: bool, message: str) -> None:
    """Raises ValueError(message) unless `condition`: the one-line checks of config validation."""
    if not condition:
        raise ValueError(message)


def config_to_json(config: Any) -> str:
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"Expected a config dataclass, got {type(config).__name__}.")
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_json(config_class: Type[ConfigT], text: str) -> ConfigT:
    raw = json.loads(text) if text else {}
    return config_from_dict(config_class, raw)


def config_from_dict(config_class: Type[ConfigT], raw: Dict[str, Any]) -> ConfigT:
    """Builds `config_class(**raw)`, naming unknown keys instead of a bare TypeError."""
    names = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ValueError(f"Unknown {config_class.__name__} option(s) {unknown}; known: {sorted(names)}.")
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name in raw:
            value = raw[field.name]
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return config_class(**values)


def coerce_config(config_class: Type[ConfigT], config: Union[None, ConfigT, Dict[str, Any], str]) -> ConfigT:
    """Accepts a dataclass, a dict or a JSON string; returns the dataclass."""
    if config is None:
        return config_class()
    if isinstance(config, config_class):
        return config
    if isinstance(config, str):
        return config_from_json(config_class, config)
    if isinstance(config, dict):
        return config_from_dict(config_class, config)
    raise TypeError(f"Cannot build {config_class.__name__} from {type(config).__name__}.")
