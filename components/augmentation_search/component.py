"""AugmentationSearch component: the two-pass search for an augmentation policy."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from components.augmentation_search import executor, spec
from components.types import artifacts, config_json


class AugmentationSearch(base_component.BaseComponent):
    """Finds an augmentation policy for the data: pass 1 measures, pass 2 trains briefly.

    Outputs `augmentation_policy` (augment_ops Policy JSON in `policy.json`,
    the optional input of Training, which mixes labels for its mixup/cutmix
    ops; `decision.json` beside it) and `report` (distance table, cluster
    plot, pass-2 curves, wall times). The searched policy is output only when
    it beats no augmentation / RandAugment beyond the noise of the eval split;
    the decision and its evidence are MLMD custom properties of both.

    Example:
        search = AugmentationSearch(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=AugmentationSearchConfig(architecture="small_cnn", proxy_epochs=8),
        )
        training = Training(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            augmentation_policy=search.outputs["augmentation_policy"],
        )
    """

    SPEC_CLASS = spec.AugmentationSearchSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.AugmentationSearchConfig, dict, str, None] = None,
        model: Optional[types.BaseChannel] = None,
    ):
        """Args:
        examples: canonical Examples with `train` and `eval` splits.
        data_spec: their DataSpec.
        config: AugmentationSearchConfig (or a dict / JSON of its fields), validated here.
        model: optional trained Model to measure pass 1 with and warm-start pass 2 from
          instead of training a proxy.
        """
        config = config_json.coerce_config(spec.AugmentationSearchConfig, config)
        super().__init__(
            spec=spec.AugmentationSearchSpec(
                examples=examples,
                data_spec=data_spec,
                model=model,
                config=config_json.config_to_json(config),
                augmentation_policy=types.Channel(type=artifacts.AugmentationPolicy),
                report=types.Channel(type=artifacts.Report),
            )
        )
