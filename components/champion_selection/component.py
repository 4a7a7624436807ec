"""ChampionSelection component: the model that measurably helps, or the simpler one."""

from __future__ import annotations

import dataclasses
from typing import Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.champion_selection import executor, spec
from components.types import artifacts, config_json


class ChampionSelection(base_component.BaseComponent):
    """Scores candidate models on one held-out split and keeps the simplest that is not beaten beyond noise.

    Candidates are given simplest first. Writes the champion's files to
    `model` (with `champion`, its metric and interval as MLMD properties) and
    `selection.json` / `selection.md` to `selection` (every candidate's score
    with its bootstrap interval, every paired comparison and its decision).

    Example:
        selection = ChampionSelection(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            candidates=[("Training", training.outputs["model"]),
                        ("NoisyStudent", noisy_student.outputs["model"])],
        )
    """

    SPEC_CLASS = spec.ChampionSelectionSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        candidates: Sequence[tuple],
        config: Union[spec.SelectionConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.SelectionConfig, config)
        if not candidates:
            raise ValueError("ChampionSelection needs at least one (name, model channel) candidate.")
        if len(candidates) > spec.MAX_CANDIDATES:
            raise ValueError(f"ChampionSelection takes at most {spec.MAX_CANDIDATES} candidates, got {len(candidates)}.")
        names = tuple(name for name, _ in candidates)
        config = dataclasses.replace(config, candidate_names=names)
        inputs = {key: channel for key, (_, channel) in zip(spec.CANDIDATE_KEYS, candidates)}
        super().__init__(
            spec=spec.ChampionSelectionSpec(
                examples=examples,
                data_spec=data_spec,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
                selection=types.Channel(type=artifacts.Report),
                **inputs,
            )
        )
