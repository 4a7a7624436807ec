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
    noisy_student:                 # a technique section with settings forces the technique
      iterations: 2                # the technique's own keys, flat
      training: {epochs: 20}       # the options of the model it trains: TrainingConfig keys, as in `training:`
    contrastive: false             # `false` forbids it; an absent section leaves it to autofit
    autofit: true                  # false: the fixed chain of the sections present
    beam_pipeline_args: [--direct_num_workers=2]
    resources:
      Training: {cpu: "4", memory: 16G, gpu_type: NVIDIA_TESLA_T4, gpu_count: 1}
    distribution_strategy: mirrored

One style for every section that trains a model (optimization, augmentation_search, consistency_training,
contrastive, noisy_student, domain_adaptation, distillation, ensemble, blend_search): the technique's own
keys at the top, the model's options under a nested `training:` whose keys are TrainingConfig keys (checked
like the top-level `training:` section). The top-level `training:` model and optimizer keys
(INHERITED_TRAINING_KEYS) apply to each of them unless its own `training:` sets them.

Every mistake is a one-line `ConfigError` naming the key: unknown sections
and keys (with a did-you-mean), wrong types, a technique forced on a task it
does not support. Field names and types come from `config_schema.json`, a
snapshot of the component config dataclasses, so no TFX import is needed.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import warnings
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
OPTIONAL_PLAIN_SECTIONS = ("data_validation", "transform")
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
    # tf.Transform preprocessing (components/transform/): Beam statistics, decode/resize/normalize in the graph.
    transform: Optional[Dict[str, Any]] = None
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


def _check_keys(section: str, values: Dict[str, Any], fields: Dict[str, Any],
                training: Optional[Dict[str, Any]] = None) -> None:
    """Unknown keys (did-you-mean) and wrong types; a nested `training:` ({"fields": ...}) recursively.

    Args:
      training: TrainingConfig's fields (the `training` section's schema), for the hints of trainer sections.
    """
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"`{section}` has a non-string key {key!r}.")
        if key not in fields:
            raise ConfigError(_unknown_key(section, key, fields, training))
        problem = config_schema.check_value(value, fields[key], f"{section}.{key}")
        if problem:
            raise ConfigError(problem)
        if isinstance(fields[key], dict) and "fields" in fields[key]:
            _check_keys(f"{section}.{key}", value, fields[key]["fields"], training=training)


def _unknown_key(section: str, key: str, fields: Dict[str, Any], training: Optional[Dict[str, Any]]) -> str:
    """The message for a key `section` lacks; a trainer section's model option is pointed to its `training:`."""
    known = f"Known: {', '.join(sorted(fields))}."
    nested = fields.get(config_schema.TRAINING_KEY)
    model_keys = nested.get("fields") if training is not None and isinstance(nested, dict) else None
    if model_keys is not None:
        close = key if key in model_keys else next(iter(difflib.get_close_matches(key, list(model_keys), n=1,
                                                                                   cutoff=0.6)), None)
        if key in model_keys or (close and not _did_you_mean(key, fields)):
            return (f"`{section}.{key}` is not an option of `{section}`. Did you mean `{section}.training.{close}`? "
                    f"The options of the model a section trains go under its `training:`. {known}")
    if model_keys is not None and key in training:
        return (f"`{section}.{key}` is not an option of `{section}`, and a training option `{section}` does not "
                f"take under its `training:` either. {known}")
    if training is not None and section.endswith(".training") and key in training:
        owner = section[: -len(".training")]
        return f"`{section}.{key}` is a training option `{owner}` does not take. {known}"
    return f"`{section}.{key}` is not an option of `{section}`.{_did_you_mean(key, fields)} {known}"


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
    for key in ("data", "training", "evaluation", "selection", "output", "data_validation", "transform",
                *SECTION_TECHNIQUES):
        values = normalized.get(key)
        if key in OPTIONLESS_TECHNIQUES and values:
            raise ConfigError(f"`{key}` takes no options: `true` forces it, `false` forbids it.")
        if isinstance(values, dict) and key in config_schema.TRAINER_SECTIONS:
            values = normalized[key] = _nested_training_section(key, values)
        if isinstance(values, dict) and key in schema:
            _check_keys(key, values, schema[key],
                        training=schema.get("training") if key in config_schema.TRAINER_SECTIONS else None)
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
    _check_transform(normalized)
    return normalized


def _check_transform(normalized: Dict[str, Any]) -> None:
    transform = normalized.get("transform")
    if transform is None:
        return
    task = normalized["data"].get("task", "classification")
    if task not in ("classification", "multilabel"):
        raise ConfigError(f"`transform` supports classification and multilabel, not task {task!r}.")
    sizes = transform.get("image_size"), (normalized.get("training") or {}).get("image_size")
    if all(size is not None for size in sizes) and list(sizes[0]) != list(sizes[1]):
        raise ConfigError(f"`transform.image_size` {list(sizes[0])} differs from `training.image_size` "
                          f"{list(sizes[1])}: set one of them.")


# The old names of two sections' nested training options, still read (with a warning) as `training:`.
DEPRECATED_TRAINING_KEYS = {"distillation": "student", "ensemble": "member"}


def _nested_training_section(section: str, values: Dict[str, Any]) -> Dict[str, Any]:
    """A trainer section with `training: null` as `{}` and a deprecated `student:` / `member:` as `training:`."""
    values = dict(values)
    old = DEPRECATED_TRAINING_KEYS.get(section)
    if old is not None and old in values:
        if config_schema.TRAINING_KEY in values:
            raise ConfigError(f"`{section}` has both `{old}` and `training`; `{old}` is the old name: "
                              f"use `{section}.training` only.")
        warnings.warn(f"`{section}.{old}` is deprecated: use `{section}.training` (the same TrainingConfig keys).",
                      FutureWarning, stacklevel=4)
        values[config_schema.TRAINING_KEY] = values.pop(old)
    if config_schema.TRAINING_KEY in values and values[config_schema.TRAINING_KEY] is None:
        values[config_schema.TRAINING_KEY] = {}
    return values


def component_settings(section: str, values: Dict[str, Any]) -> Dict[str, Any]:
    """A section as YAML spells it -> its component config's fields.

    A trainer section's `training:` becomes the component's own fields (noisy_student, contrastive, ...) or its
    nested TrainingConfig field (distillation `student`, ensemble `member`, blend_search `training`).
    """
    if section not in config_schema.TRAINER_SECTIONS or config_schema.TRAINING_KEY not in values:
        return dict(values)
    out = dict(values)
    model = dict(out.pop(config_schema.TRAINING_KEY) or {})
    nested = config_schema.TRAINER_SECTIONS[section]
    if nested is None:
        out.update(model)
    else:
        out[nested] = model
    return out


# Top-level `training:` keys every trainer section inherits unless its own `training:` sets them: the model and
# how it is optimized. Epochs and batch size are the plan's per technique (a FixMatch epoch is not a supervised
# one), so they are not inherited. The distillation student is by design not the user's model: it inherits the
# optimizer settings only.
INHERITED_TRAINING_KEYS = ("architecture", "module_file", "image_size", "learning_rate", "optimizer", "schedule",
                           "weight_decay", "trust_module_code", "pretrained_weights", "fine_tune")
MODEL_IDENTITY_KEYS = ("architecture", "module_file", "trust_module_code", "pretrained_weights", "fine_tune")
OWN_MODEL_SECTIONS = ("distillation",)


def inherited_training(section: str, training: Dict[str, Any]) -> Dict[str, Any]:
    """The top-level training options `section`'s model starts from (its own `training:` wins over them)."""
    keys = [key for key in INHERITED_TRAINING_KEYS
            if not (section in OWN_MODEL_SECTIONS and key in MODEL_IDENTITY_KEYS)]
    return {key: training[key] for key in keys if key in training}


def nested_training(section: str, training: Dict[str, Any], own: Optional[Dict[str, Any]],
                    default_architecture: Optional[str] = None) -> Dict[str, Any]:
    """The nested TrainingConfig dict of distillation / ensemble / blend_search: inherited, then its own.

    Args:
      default_architecture: the component's default model, kept when neither the inherited nor the section's
        own options name one (a dict without `architecture` would otherwise fall back to TrainingConfig's).
    """
    merged = dict(inherited_training(section, training), **(own or {}))
    if merged and default_architecture and "architecture" not in merged and "module_file" not in merged:
        merged["architecture"] = default_architecture
    return merged


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
    techniques = {key: component_settings(key, value) if isinstance(value, dict) else value
                  for key, value in techniques.items()}
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
        nested = config_schema.TRAINER_SECTIONS.get(section)
        for scope in (values, values.get(nested) if values and nested else None):
            for key in ("module_file", "student_module_file"):
                if scope and isinstance(scope.get(key), str):
                    scope[key] = _resolve(scope[key], base_dir)
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
