"""Domain adaptation component: a source-domain model adapted to unlabeled target-domain images."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.domain_adaptation import executor, spec
from components.types import config_json


class DomainAdaptation(base_component.BaseComponent):
    """Tries AdaBN, target self-training, CORAL and DANN against the source-only model.

    Source: labeled Examples (`train` split) and their DataSpec. Target:
    Examples whose `unlabeled` split holds target images; an optional labeled
    `eval` split picks the best method, a labeled `test` split is reported,
    and a labeled `train` split (a few target labels) joins the training data.
    The output `model` is the picked method's; custom properties hold
    `target_validation_accuracy_<method>`, `target_test_accuracy_<method>`
    and `best_method`.

    Example:
        adaptation = DomainAdaptation(
            source_examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            target_examples=night_translation.outputs["examples"],
            source_model=training.outputs["model"],
            config=DomainAdaptationConfig(methods=("source_only", "adabn", "self_training", "dann")),
        )
    """

    SPEC_CLASS = spec.DomainAdaptationSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        source_examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        target_examples: types.BaseChannel,
        source_model: Optional[types.BaseChannel] = None,
        target_data_spec: Optional[types.BaseChannel] = None,
        config: Union[spec.DomainAdaptationConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.DomainAdaptationConfig, config)
        super().__init__(
            spec=spec.DomainAdaptationSpec(
                source_examples=source_examples,
                data_spec=data_spec,
                target_examples=target_examples,
                target_data_spec=target_data_spec,
                source_model=source_model,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
                pseudo_labels=types.Channel(type=standard_artifacts.Examples),
            )
        )
