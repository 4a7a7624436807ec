"""Refit component: the champion's recipe retrained on train + eval once the decisions are made."""

from __future__ import annotations

from typing import Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.refit import executor, spec
from components.types import config_json


class Refit(base_component.BaseComponent):
    """Reruns the champion's training recipe with the eval images added to train (AutoGluon's refit_full).

    With few labels, the images held out to choose the recipe are a large share of the labels; once the
    choice is made the final model learns from them too. The recipe (`recipe.json`, written by Training and
    ConsistencyTraining next to their models) is rerun with the same config and seed for the epochs behind the
    champion's weights. Models from other trainers pass through unchanged; `refit` / `refit_reason` say which
    happened. The refitted model has no held-out score of its own on eval: its `held_out_eval_*` properties
    are the recipe's score before refit, and a test split (if any) scores it honestly downstream.

    Example:
        refit = Refit(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            champion=selection.outputs["model"],
        )
    """

    SPEC_CLASS = spec.RefitSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        champion: types.BaseChannel,
        config: Union[spec.RefitConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.RefitConfig, config)
        super().__init__(
            spec=spec.RefitSpec(
                examples=examples,
                data_spec=data_spec,
                champion=champion,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
