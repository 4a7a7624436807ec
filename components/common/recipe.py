"""The recipe a model was trained with, written next to it so the same training can be rerun.

Refit (components/refit) reruns the champion's recipe on train + eval once
the decisions are made; for that it needs the trainer, its resolved config
(after learned optimization params, a blend ratio ...) and the artifacts it
read. A trainer whose model carries no recipe cannot be refitted, and the
refit says so instead of guessing.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf

from components.common.artifact_io import read_json, write_json

RECIPE_FILE_NAME = "recipe.json"
TRAINING = "Training"
CONSISTENCY_TRAINING = "ConsistencyTraining"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one model was trained.

    Attributes:
      trainer: which trainer ran it (TRAINING, CONSISTENCY_TRAINING).
      config: the trainer's config as it ran (a dict of its config dataclass).
      inputs: URIs of the artifacts it read besides examples and DataSpec, by input key (a list for
        multi-artifact inputs; None when not wired).
      epochs: epochs whose weights the model holds (the best epoch when early stopping restored one).
    """

    trainer: str
    config: Dict[str, Any]
    inputs: Dict[str, Any]
    epochs: int

    def input_uri(self, key: str) -> Optional[str]:
        value = self.inputs.get(key)
        return value if isinstance(value, str) and value else None

    def input_uris(self, key: str) -> List[str]:
        value = self.inputs.get(key)
        return [uri for uri in value if uri] if isinstance(value, list) else []


def write_recipe(model_uri: str, recipe: Recipe) -> str:
    path = os.path.join(model_uri, RECIPE_FILE_NAME)
    write_json(path, dataclasses.asdict(recipe))  # write_json makes it strict JSON
    return path


def read_recipe(model_uri: str) -> Optional[Recipe]:
    """The recipe stored with a model, or None when the trainer wrote none."""
    path = os.path.join(model_uri, RECIPE_FILE_NAME)
    if not tf.io.gfile.exists(path):
        return None
    raw = read_json(path)
    return Recipe(trainer=raw["trainer"], config=dict(raw["config"]), inputs=dict(raw.get("inputs") or {}),
                  epochs=int(raw["epochs"]))


def weights_epochs(history: Dict[str, list], early_stopping_patience: int) -> int:
    """Epochs behind the weights a fit returned: the best `val_loss` epoch when early stopping restored it."""
    losses = list(history.get("loss", []))
    validation = [value for value in history.get("val_loss", []) if value is not None]
    if early_stopping_patience > 0 and validation:
        return int(min(range(len(validation)), key=lambda index: validation[index])) + 1
    return max(len(losses), 1)
