"""The YAML run configuration, read and checked at the CLI/runner edge, before TFX is imported.

Example (only `data` is required; autofit plans the rest):

    pipeline_name: autofit-mnist
    run_dir: runs/mnist            # pipeline root, SQLite MLMD, reports
    data:
      format: image_folder         # see components.data_translation
      path: data/mnist             # class folders; an `unlabeled/` folder -> unlabeled split
    budget: standard               # quick | standard | thorough | minutes (a number)
    training:                      # optional: keys given here are kept, the rest is planned
      architecture: small_cnn      # or module_file: path/to/module.py
    evaluation:
      thresholds: {accuracy: 0.9}
    noisy_student: {iterations: 2} # a technique section with settings forces the technique
    contrastive: false             # `false` forbids it; an absent section leaves it to autofit
    autofit: true                  # false: the fixed chain of the sections present
    beam_pipeline_args: [--direct_num_workers=2]
    resources:
      Training: {cpu: "4", memory: 16G, gpu_type: NVIDIA_TESLA_T4, gpu_count: 1}
    distribution_strategy: mirrored

Every mistake is a one-line `ConfigError` naming the key: unknown sections
and keys (with a did-you-mean), wrong types, a technique forced on a task it
does not support. Field names and types come from `config_schema.json`, a
snapshot of the component config dataclasses, so no TFX import is needed.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from typing import Any, Dict, List, Optional, Union

import yaml

from pipelines import config_schema
from pipelines.autofit.techniques import BUDGETS, OPTIONLESS_TECHNIQUES, SECTION_TECHNIQUES, TECHNIQUES


class ConfigError(ValueError):
    """A config mistake: one line naming the key and the problem."""


@dataclasses.dataclass
class ComponentResources:
    cpu: Optional[str] = None
    memory: Optional[str] = None
    gpu_type: Optional[str] = None
    gpu_count: int = 0


TOP_LEVEL_TYPES: Dict[str, Any] = {
    "pipeline_name": "str",
    "run_dir": "str",
    "image": "str",
    "beam_pipeline_args": {"list": "str"},
    "resources": {"map": {"map": "any"}},
    "distribution_strategy": {"optional": "str"},
    "autofit": "bool",
    "budget": {"union": ["str", "float"]},
    "seed": "int",
}
# Sections that configure the run rather than add a technique.
PLAIN_SECTIONS = ("data", "training", "evaluation", "selection", "output")
OPTIONAL_PLAIN_SECTIONS = ("data_validation",)
Section = Union[Dict[str, Any], bool]  # a dict forces the technique with settings; False forbids it


@dataclasses.dataclass
class RunConfig:
    data: Dict[str, Any]
    pipeline_name: str = "tfx-autofit"
    run_dir: str = "runs/default"
    image: str = "tfx-autofit:0.1.0"
    training: Dict[str, Any] = dataclasses.field(default_factory=dict)
    evaluation: Dict[str, Any] = dataclasses.field(default_factory=dict)
    selection: Dict[str, Any] = dataclasses.field(default_factory=dict)
    output: Optional[Dict[str, Any]] = None
    data_validation: Optional[Dict[str, Any]] = None
    # Technique sections as given: {section: settings dict (forced) or False (forbidden)}; absent = autofit decides.
    techniques: Dict[str, Section] = dataclasses.field(default_factory=dict)
    autofit: bool = True
    budget: Union[str, float] = "standard"
    seed: int = 0
    beam_pipeline_args: List[str] = dataclasses.field(default_factory=list)
    resources: Dict[str, ComponentResources] = dataclasses.field(default_factory=dict)
    distribution_strategy: Optional[str] = None

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.run_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.run_dir, "metadata.sqlite")  # pipelines.metadata.SQLITE_FILE_NAME

    def forced(self, section: str) -> Optional[Dict[str, Any]]:
        """The settings of a technique section the user gave (None when absent or forbidden)."""
        value = self.techniques.get(section)
        return value if isinstance(value, dict) else None

    def forbidden(self, section: str) -> bool:
        return self.techniques.get(section) is False

    # The two sections the fixed chain has always had, by their old names.
    @property
    def augmentation_search(self) -> Optional[Dict[str, Any]]:
        return self.forced("augmentation_search")

    @property
    def calibration(self) -> Optional[Dict[str, Any]]:
        return self.forced("calibration")


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean `{close[0]}`?" if close else ""


def _check_keys(section: str, values: Dict[str, Any], fields: Dict[str, Any]) -> None:
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"`{section}` has a non-string key {key!r}.")
        if key not in fields:
            raise ConfigError(
                f"`{section}.{key}` is not an option of `{section}`.{_did_you_mean(key, fields)} "
                f"Known: {', '.join(sorted(fields))}."
            )
        problem = config_schema.check_value(value, fields[key], f"{section}.{key}")
        if problem:
            raise ConfigError(problem)


def _section_mapping(name: str, value: Any, allow_false: bool) -> Section:
    """None/true/{} -> {} (on, defaults); a mapping -> itself; false -> False when allowed."""
    if value is None or value is True:
        return {}
    if value is False and allow_false:
        return False
    if not isinstance(value, dict):
        allowed = "a mapping of options, `{}` for the defaults" + (", or `false` to forbid it" if allow_false else "")
        raise ConfigError(f"`{name}` must be {allowed}; got {value!r} ({type(value).__name__}).")
    return dict(value)


def validate_raw(raw: Any, schema: Optional[Dict[str, Dict[str, Any]]] = None, source: str = "config") -> Dict[str, Any]:
    """Checks a parsed YAML config against the snapshot; returns it with sections normalized.

    Raises:
      ConfigError: the first mistake, naming the key.
    """
    schema = schema if schema is not None else config_schema.load_schema()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must hold a YAML mapping of sections, got {type(raw).__name__}.")
    known = set(TOP_LEVEL_TYPES) | set(PLAIN_SECTIONS) | set(OPTIONAL_PLAIN_SECTIONS) | set(SECTION_TECHNIQUES)
    for key in raw:
        if key not in known:
            raise ConfigError(f"`{key}` is not a config section or key.{_did_you_mean(str(key), known)} "
                              f"Known: {', '.join(sorted(known))}.")
    if "data" not in raw:
        raise ConfigError(f"{source} has no `data` section (format, path, task).")
    if not isinstance(raw["data"], dict):
        raise ConfigError(f"`data` must be a mapping with format, path and task; got {raw['data']!r}.")
    normalized: Dict[str, Any] = {}
    for key, value in raw.items():
        if key in TOP_LEVEL_TYPES:
            problem = config_schema.check_value(value, TOP_LEVEL_TYPES[key], key)
            if problem:
                raise ConfigError(problem)
            normalized[key] = value
        elif key in PLAIN_SECTIONS or key in OPTIONAL_PLAIN_SECTIONS:
            normalized[key] = _section_mapping(key, value, allow_false=False)
        else:
            normalized[key] = _section_mapping(key, value, allow_false=True)
    for key in ("data", "training", "evaluation", "selection", "output", "data_validation", *SECTION_TECHNIQUES):
        values = normalized.get(key)
        if key in OPTIONLESS_TECHNIQUES and values:
            raise ConfigError(f"`{key}` takes no options: `true` forces it, `false` forbids it.")
        if isinstance(values, dict) and key in schema:
            _check_keys(key, values, schema[key])
        elif isinstance(values, dict) and values and key not in schema and key not in OPTIONLESS_TECHNIQUES:
            raise ConfigError(f"`{key}` is not available in this installation (its component is missing).")
    for required in ("format", "path"):
        if required not in normalized["data"]:
            raise ConfigError(f"`data.{required}` is missing.")
    budget = normalized.get("budget", "standard")
    if isinstance(budget, str) and budget not in BUDGETS:
        raise ConfigError(f"`budget` must be one of {', '.join(BUDGETS)} or a number of minutes, got {budget!r}.")
    if not isinstance(budget, str) and budget <= 0:
        raise ConfigError(f"`budget` in minutes must be > 0, got {budget}.")
    for name, resources in (normalized.get("resources") or {}).items():
        fields = {field.name: "any" for field in dataclasses.fields(ComponentResources)}
        _check_keys(f"resources.{name}", resources or {}, fields)
    _check_task_support(normalized)
    return normalized


def _check_task_support(normalized: Dict[str, Any]) -> None:
    task = normalized["data"].get("task", "classification")
    for section in SECTION_TECHNIQUES:
        if isinstance(normalized.get(section), dict) and task not in TECHNIQUES[section].tasks:
            raise ConfigError(
                f"`{section}` does not support task {task!r} (it supports {', '.join(TECHNIQUES[section].tasks)}); "
                f"remove the section or set it to false."
            )


def config_from_dict(raw: Dict[str, Any], base_dir: str = ".", schema=None) -> RunConfig:
    """Validates and builds a RunConfig; relative paths resolve against `base_dir`."""
    normalized = validate_raw(raw, schema=schema)
    techniques = {key: normalized.pop(key) for key in list(normalized) if key in SECTION_TECHNIQUES}
    resources = {name: ComponentResources(**(value or {})) for name, value in (normalized.pop("resources", None) or {}).items()}
    config = RunConfig(resources=resources, techniques=techniques, **normalized)
    config.run_dir = _resolve(config.run_dir, base_dir)
    data = dict(config.data)
    for key in ("path", "annotations", "class_list"):
        if isinstance(data.get(key), str):
            data[key] = _resolve(data[key], base_dir)
    config.data = data
    target = config.forced("domain_adaptation") and config.forced("domain_adaptation").get("target")
    if isinstance(target, dict):
        resolved = {key: _resolve(value, base_dir) if key in ("path", "annotations") and isinstance(value, str) else value
                    for key, value in target.items()}
        config.techniques["domain_adaptation"] = dict(config.techniques["domain_adaptation"], target=resolved)
    for section in ("training", *SECTION_TECHNIQUES):
        values = config.training if section == "training" else config.forced(section)
        if values:
            for key in ("module_file", "student_module_file"):
                if isinstance(values.get(key), str):
                    values[key] = _resolve(values[key], base_dir)
    return config


def load_config(path: str) -> RunConfig:
    if not os.path.exists(path):
        raise ConfigError(f"Config file {path} does not exist.")
    with open(path) as handle:
        text = handle.read()
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML ({problem}).") from None
    return config_from_dict(raw if raw is not None else {}, base_dir=os.path.dirname(os.path.abspath(path))) \
        if isinstance(raw, dict) else _not_mapping(path, raw)


def _not_mapping(path: str, raw: Any):
    raise ConfigError(f"Config file {path} must hold a YAML mapping, got {type(raw).__name__}.")


def _resolve(path: str, base_dir: str) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))
