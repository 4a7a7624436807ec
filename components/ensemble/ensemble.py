"""Ensembles without TFX: members trained with different seeds, one model averaging their probabilities.

The exported ensemble uses only built-in Keras layers (nested member models
and `Average`), so `keras.saving.load_model` needs no custom objects and the
ensemble can be a distillation teacher like any other Model artifact.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Sequence, Tuple

import keras

from components.training import training
from components.training.spec import TrainingConfig
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)
MEMBER_NAME_PREFIX = "member_"


def average_models(models: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose output `[B, K]` is the mean of the members' probabilities.

    Members are renamed `member_<i>` (nested models need unique names), so
    pass distinct model objects.

    Raises:
      ValueError: no members, the same object twice, or members that differ
        in input or output shape.
    """
    models = list(models)
    if not models:
        raise ValueError("An ensemble needs at least one member model.")
    if len({id(model) for model in models}) != len(models):
        raise ValueError("Ensemble members must be distinct model objects (load or clone a model to repeat it).")
    input_shape, output_shape = models[0].input_shape, models[0].output_shape
    for index, model in enumerate(models):
        if model.input_shape != input_shape or model.output_shape != output_shape:
            raise ValueError(
                f"Ensemble member {index} maps {model.input_shape} -> {model.output_shape}; "
                f"member 0 maps {input_shape} -> {output_shape}. Members must agree."
            )
    inputs = keras.Input(shape=input_shape[1:], name="image")
    outputs = []
    for index, model in enumerate(models):
        model.name = f"{MEMBER_NAME_PREFIX}{index}"
        outputs.append(model(inputs))
    averaged = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="average_probabilities")(outputs)
    return keras.Model(inputs, averaged, name=name)


def member_config(config: TrainingConfig, index: int) -> TrainingConfig:
    """Member `index` trains like `config` with seed `config.seed + index` (init, shuffle, mixing)."""
    return dataclasses.replace(config, seed=config.seed + index)


def train_members(
    examples_uri: str, data_spec: DataSpecContent, config: TrainingConfig, num_members: int
) -> List[Tuple[keras.Model, Dict[str, list], Dict[str, float]]]:
    """Trains `num_members` classifiers that differ only in their seed; returns (model, history, metrics) each."""
    if num_members < 1:
        raise ValueError(f"num_members must be >= 1, got {num_members}.")
    members = []
    for index in range(num_members):
        logger.info("ensemble: training member %d/%d (seed %d)", index + 1, num_members, config.seed + index)
        members.append(training.train_classifier(examples_uri, data_spec, member_config(config, index)))
    return members
