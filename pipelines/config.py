"""The YAML run configuration, read only at the CLI/runner edge.

Example (all keys but `data` optional):

    pipeline_name: autofit-mnist
    run_dir: runs/mnist            # pipeline root, SQLite MLMD, reports
    image: tfx-autofit:0.1.0       # container image for Kubeflow/Vertex
    data:
      format: image_folder         # see components.data_translation
      path: data/mnist
      task: classification
    training:
      architecture: small_cnn      # or module_file: path/to/module.py
      epochs: 5
    evaluation:
      thresholds: {accuracy: 0.9}
    augmentation_search: {}        # optional: search a policy first and train with it
    calibration: {method: temperature}   # optional: calibrate the model before evaluation
    beam_pipeline_args: [--direct_num_workers=2]
    resources:
      Training: {cpu: "4", memory: 16G, gpu_type: NVIDIA_TESLA_T4, gpu_count: 1}
    distribution_strategy: mirrored
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Optional

import yaml


@dataclasses.dataclass
class ComponentResources:
    cpu: Optional[str] = None
    memory: Optional[str] = None
    gpu_type: Optional[str] = None
    gpu_count: int = 0


@dataclasses.dataclass
class RunConfig:
    data: Dict[str, Any]
    pipeline_name: str = "tfx-autofit"
    run_dir: str = "runs/default"
    image: str = "tfx-autofit:0.1.0"
    training: Dict[str, Any] = dataclasses.field(default_factory=dict)
    evaluation: Dict[str, Any] = dataclasses.field(default_factory=dict)
    # Optional techniques: a section present (even empty: defaults) adds its component to the default pipeline.
    augmentation_search: Optional[Dict[str, Any]] = None
    calibration: Optional[Dict[str, Any]] = None
    beam_pipeline_args: List[str] = dataclasses.field(default_factory=list)
    resources: Dict[str, ComponentResources] = dataclasses.field(default_factory=dict)
    distribution_strategy: Optional[str] = None
    # Free-form sections for later components (augmentation_search, ...).
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.run_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.run_dir, "metadata.sqlite")  # pipelines.metadata.SQLITE_FILE_NAME


OPTIONAL_SECTIONS = ("augmentation_search", "calibration")


def config_from_dict(raw: Dict[str, Any], base_dir: str = ".") -> RunConfig:
    """Builds a RunConfig; relative paths resolve against `base_dir`."""
    if "data" not in raw:
        raise ValueError("Config has no 'data' section (format, path, task).")
    raw = dict(raw)
    for section in OPTIONAL_SECTIONS:  # `calibration:` with nothing under it means "on, with defaults"
        if section in raw and raw[section] is None:
            raw[section] = {}
    known = {field.name for field in dataclasses.fields(RunConfig)}
    extra = {key: raw.pop(key) for key in list(raw) if key not in known}
    resources = {
        name: ComponentResources(**(value or {})) for name, value in (raw.pop("resources", None) or {}).items()
    }
    config = RunConfig(resources=resources, **raw)
    config.extra.update(extra)
    config.run_dir = _resolve(config.run_dir, base_dir)
    data = dict(config.data)
    for key in ("path", "annotations", "class_list"):
        if isinstance(data.get(key), str):
            data[key] = _resolve(data[key], base_dir)
    config.data = data
    if isinstance(config.training.get("module_file"), str):
        config.training = dict(config.training, module_file=_resolve(config.training["module_file"], base_dir))
    return config


def load_config(path: str) -> RunConfig:
    if not os.path.exists(path):
        raise FileNotFoundError(f"Config file {path} does not exist.")
    with open(path) as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"Config file {path} must hold a YAML mapping, got {type(raw).__name__}.")
    return config_from_dict(raw, base_dir=os.path.dirname(os.path.abspath(path)))


def _resolve(path: str, base_dir: str) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))
