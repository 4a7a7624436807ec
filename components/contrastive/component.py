"""Contrastive pretraining component: a backbone learned from unlabeled images."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.contrastive import executor, spec
from components.types import config_json


class Contrastive(base_component.BaseComponent):
    """Pretrains a classifier's backbone with SimCLR (NT-Xent) or Barlow Twins.

    Views come from augment_ops steps in-graph (or an AugmentationPolicy
    artifact). The output `model` is the full classifier as the training
    component builds it, with the pretrained backbone and a linear-probe head,
    so it plugs into `Training(warm_start_model=...)`. Its custom property
    `linear_probe_accuracy` is the probe's accuracy on the eval split. With a
    backbone architecture, `pretrained_weights` (a local file) initializes
    the backbone before contrastive pretraining continues from it.

    Example:
        contrastive = Contrastive(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=ContrastiveConfig(method="barlow_twins", architecture="small_cnn", epochs=20),
        )
        training = Training(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            warm_start_model=contrastive.outputs["model"],
        )
    """

    SPEC_CLASS = spec.ContrastiveSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.ContrastiveConfig, dict, str, None] = None,
        augmentation_policy: Optional[types.BaseChannel] = None,
    ):
        config = config_json.coerce_config(spec.ContrastiveConfig, config)
        super().__init__(
            spec=spec.ContrastiveSpec(
                examples=examples,
                data_spec=data_spec,
                augmentation_policy=augmentation_policy,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
