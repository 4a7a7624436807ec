"""Ensemble component: one Model that averages the probabilities of several."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, standard_artifacts

from components.ensemble import executor, spec
from components.types import config_json


class Ensemble(base_component.BaseComponent):
    """Trains N members with different seeds (or takes N Model artifacts) and exports their average.

    The output is a normal Model artifact (model.keras + Format-Serving), so
    it can be evaluated, calibrated, or distilled into one small model by
    passing it as Distillation's `teacher_model`.

    Example:
        ensemble = Ensemble(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=EnsembleConfig(num_members=3, member=TrainingConfig(architecture="small_cnn", epochs=5)),
        )
        distillation = Distillation(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            teacher_model=ensemble.outputs["model"],
        )
    """

    SPEC_CLASS = spec.EnsembleSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        models: Optional[Union[types.BaseChannel, Sequence[types.BaseChannel]]] = None,
        config: Union[spec.EnsembleConfig, dict, str, None] = None,
    ):
        """Args: `models` is one channel of Model artifacts or a list of channels (joined with a union)."""
        config = config_json.coerce_config(spec.EnsembleConfig, config)
        if isinstance(models, (list, tuple)):
            models = channel.union(models) if models else None
        super().__init__(
            spec=spec.EnsembleSpec(
                examples=examples,
                data_spec=data_spec,
                models=models,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
