"""Which YAML section maps to which component config, and a TFX-free snapshot of their fields.

Importing a component's spec imports TensorFlow and TFX (~10 s). A config
mistake must be reported before that, so the section fields and their types
are kept in `config_schema.json`, generated from the config dataclasses
(`python -m pipelines.config_schema --write`); a test regenerates it and fails
when it drifts from the code.

The type language of the snapshot: "int", "float", "bool", "str", "any",
{"optional": T}, {"list": T} (lists and variable tuples), {"tuple": [T, ...]},
{"map": T} (string keys), {"union": [T, ...]}, {"fields": {key: T}} (a mapping with these keys only:
the nested `training:` of a trainer section, see TRAINER_SECTIONS).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import typing
from typing import Any, Dict, Optional, Tuple

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config_schema.json")

# YAML section -> (module, config dataclass). Sections that name a technique add its component.
SECTION_CLASSES: Dict[str, Tuple[str, str]] = {
    "data": ("components.data_translation.spec", "TranslationConfig"),
    "training": ("components.training.spec", "TrainingConfig"),
    "evaluation": ("components.evaluation.spec", "EvaluationConfig"),
    "optimization": ("components.optimization.spec", "OptimizationConfig"),
    "augmentation_search": ("components.augmentation_search.spec", "AugmentationSearchConfig"),
    "consistency_training": ("components.consistency.spec", "ConsistencyConfig"),
    "contrastive": ("components.contrastive.spec", "ContrastiveConfig"),
    "noisy_student": ("components.noisy_student.spec", "NoisyStudentConfig"),
    "domain_adaptation": ("components.domain_adaptation.spec", "DomainAdaptationConfig"),
    "calibration": ("components.calibration.spec", "CalibrationConfig"),
    "refit": ("components.refit.spec", "RefitConfig"),
    "distillation": ("components.distillation.spec", "DistillationConfig"),
    "ensemble": ("components.ensemble.spec", "EnsembleConfig"),
    "gan": ("components.synthesis.spec", "GanConfig"),
    "style_transfer": ("components.synthesis.spec", "StyleTransferConfig"),
    "blend_search": ("components.synthesis.spec", "BlendSearchConfig"),
    "architecture_changes": ("components.training.architecture_candidate", "ArchitectureChangesConfig"),
    "selection": ("components.champion_selection.spec", "SelectionConfig"),
    "data_validation": ("pipelines.data_validation", "DataValidationConfig"),
    "transform": ("components.transform.spec", "TransformConfig"),
    "output": ("components.export.spec", "ExportConfig"),
}
# Keys a section accepts on top of its dataclass fields (consumed by the pipeline builder).
EXTRA_SECTION_KEYS: Dict[str, Dict[str, Any]] = {
    "domain_adaptation": {"target": {"map": "any"}},
}
# Sections whose component trains a model. In YAML they all take that model's options the same way: a nested
# `training:` mapping of TrainingConfig keys, next to the technique's own keys. The value says where those
# options land in the component config: None = the component's own fields of the same names (its dataclass
# flattens them; the section's `training:` takes exactly the TrainingConfig keys the component has), or the
# name of the component's nested TrainingConfig field (`training:` takes every TrainingConfig key).
TRAINING_KEY = "training"
TRAINER_SECTIONS: Dict[str, Optional[str]] = {
    "optimization": None,
    "augmentation_search": None,
    "consistency_training": None,
    "contrastive": None,
    "noisy_student": None,
    "domain_adaptation": None,
    "distillation": "student",
    "ensemble": "member",
    "blend_search": TRAINING_KEY,
}


def describe_type(annotation: Any) -> Any:
    """A typing annotation as the snapshot's small JSON type language."""
    if annotation in (int,):
        return "int"
    if annotation in (float,):
        return "float"
    if annotation in (bool,):
        return "bool"
    if annotation in (str,):
        return "str"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        options = [arg for arg in args if arg is not type(None)]
        inner = describe_type(options[0]) if len(options) == 1 else {"union": [describe_type(a) for a in options]}
        return {"optional": inner} if len(options) < len(args) else inner
    if origin in (tuple,):
        if len(args) == 2 and args[1] is Ellipsis:
            return {"list": describe_type(args[0])}
        if not args:
            return {"list": "any"}
        return {"tuple": [describe_type(arg) for arg in args]}
    if origin in (list, typing.List) or (origin is not None and getattr(origin, "__name__", "") == "Sequence"):
        return {"list": describe_type(args[0]) if args else "any"}
    if origin in (dict,) or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        return {"map": describe_type(args[1]) if len(args) == 2 else "any"}
    return "any"


def config_class(section: str):
    module_name, class_name = SECTION_CLASSES[section]
    return getattr(importlib.import_module(module_name), class_name)


def generate_schema(strict: bool = True) -> Dict[str, Dict[str, Any]]:
    """{section: {field: type}} from the config dataclasses (imports TFX).

    With strict=False a section whose module does not import yet is left out.
    """
    schema: Dict[str, Dict[str, Any]] = {}
    for section in SECTION_CLASSES:
        try:
            cls = config_class(section)
        except (ImportError, AttributeError):
            if strict:
                raise
            continue
        hints = typing.get_type_hints(cls)
        fields = {field.name: describe_type(hints[field.name]) for field in dataclasses.fields(cls)}
        fields.update(EXTRA_SECTION_KEYS.get(section, {}))
        schema[section] = dict(sorted(fields.items()))
    for section, nested in TRAINER_SECTIONS.items():
        if section in schema and TRAINING_KEY in schema:
            schema[section] = user_facing_fields(schema[section], schema[TRAINING_KEY], nested)
    return schema


def user_facing_fields(fields: Dict[str, Any], training: Dict[str, Any], nested: Optional[str]) -> Dict[str, Any]:
    """A trainer section as YAML spells it: its own keys flat, its model's options under `training:`.

    Args:
      fields: the component config's {field: type}.
      training: TrainingConfig's {field: type} (the top-level `training:` section).
      nested: TRAINER_SECTIONS' value for the section.
    """
    own = dict(fields)
    if nested is None:
        model = {key: own.pop(key) for key in list(own) if key in training}
    else:
        own.pop(nested)
        model = dict(training)
    own[TRAINING_KEY] = {"fields": dict(sorted(model.items()))}
    return dict(sorted(own.items()))


def load_schema(path: str = SCHEMA_PATH) -> Dict[str, Dict[str, Any]]:
    with open(path) as handle:
        return json.load(handle)


def type_name(kind: Any) -> str:
    """How a type reads in an error message."""
    if isinstance(kind, str):
        return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "any": "any value"}[kind]
    if "optional" in kind:
        return f"{type_name(kind['optional'])} or null"
    if "list" in kind:
        return f"a list of {_plural(kind['list'])}"
    if "tuple" in kind:
        return f"a list of {len(kind['tuple'])} values ({', '.join(type_name(k) for k in kind['tuple'])})"
    if "map" in kind or "fields" in kind:
        return "a mapping"
    return " or ".join(type_name(k) for k in kind["union"])


def _plural(kind: Any) -> str:
    names = {"int": "integers", "float": "numbers", "bool": "booleans", "str": "strings", "any": "values"}
    return names.get(kind, type_name(kind)) if isinstance(kind, str) else type_name(kind)


def check_value(value: Any, kind: Any, where: str) -> Optional[str]:
    """None when `value` fits `kind`, else a one-line message naming `where` and the expected type."""
    problem = _mismatch(value, kind)
    if problem is None:
        return None
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"`{where}` must be {type_name(kind)}, got {shown} ({type(value).__name__})."


def _mismatch(value: Any, kind: Any) -> Optional[bool]:
    if isinstance(kind, str):
        if kind == "any":
            return None
        if kind == "bool":
            return None if isinstance(value, bool) else True
        if kind == "int":
            return None if isinstance(value, int) and not isinstance(value, bool) else True
        if kind == "float":
            return None if isinstance(value, (int, float)) and not isinstance(value, bool) else True
        if kind == "str":
            return None if isinstance(value, str) else True
    if "optional" in kind:
        return None if value is None else _mismatch(value, kind["optional"])
    if "list" in kind:
        if not isinstance(value, (list, tuple)):
            return True
        return next((True for item in value if _mismatch(item, kind["list"])), None)
    if "tuple" in kind:
        if not isinstance(value, (list, tuple)) or len(value) != len(kind["tuple"]):
            return True
        return next((True for item, inner in zip(value, kind["tuple"]) if _mismatch(item, inner)), None)
    if "map" in kind:
        if not isinstance(value, dict):
            return True
        return next((True for item in value.values() if _mismatch(item, kind["map"])), None)
    if "union" in kind:
        return None if any(_mismatch(value, inner) is None for inner in kind["union"]) else True
    if "fields" in kind:  # its keys and their values are checked one by one by the config reader
        return None if isinstance(value, dict) else True
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate or check the config field snapshot.")
    parser.add_argument("--write", action="store_true", help=f"write {SCHEMA_PATH}")
    args = parser.parse_args(argv)
    schema = generate_schema()
    text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    if args.write:
        with open(SCHEMA_PATH, "w") as handle:
            handle.write(text)
        print(f"wrote {SCHEMA_PATH} ({len(schema)} sections)")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
