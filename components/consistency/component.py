"""Consistency training component: FixMatch on labeled + unlabeled Examples."""

from __future__ import annotations

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.consistency import executor, spec
from components.types import config_json


class ConsistencyTraining(base_component.BaseComponent):
    """Trains a classifier with FixMatch (optionally FlexMatch/FreeMatch thresholds, distribution alignment).

    Takes Examples with `train` (labeled), `eval` and `unlabeled` splits.
    Weak views (flip only where the `augmentation_policy` allows it, small
    translation) give pseudo-labels; strong views (RandAugment, or the
    policy's ops, plus Cutout) learn them. The output `model` holds the EMA
    of the weights, with custom properties `eval_accuracy`, `eval_loss`,
    `pseudo_label_rate` / `pseudo_label_accuracy` (eval split treated as
    unlabeled), `mask_rate` and `threshold_min|mean|max`; the per-epoch
    trajectory is in `consistency_summary.json`. A killed run resumes after
    its last finished epoch. With a backbone architecture, `pretrained_weights`
    (a local file) initializes the backbone and `fine_tune` trains the head
    alone for its warm-up epochs, then everything at a lower rate (the
    training component's schedule).

    Example:
        consistency = ConsistencyTraining(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            augmentation_policy=search.outputs["augmentation_policy"],
            config=ConsistencyConfig(architecture="small_cnn", epochs=50, threshold_mode="flexmatch"),
        )
        from_pretrained = ConsistencyTraining(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=ConsistencyConfig(architecture="mobilenet_v3_small", pretrained_weights="/weights/mnv3.weights.h5",
                                     fine_tune={"warmup_epochs": 2}),
        )
    """

    SPEC_CLASS = spec.ConsistencySpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.ConsistencyConfig, dict, str, None] = None,
        augmentation_policy: Optional[types.BaseChannel] = None,
        warm_start_model: Optional[types.BaseChannel] = None,
    ):
        config = config_json.coerce_config(spec.ConsistencyConfig, config)
        super().__init__(
            spec=spec.ConsistencySpec(
                examples=examples,
                data_spec=data_spec,
                augmentation_policy=augmentation_policy,
                warm_start_model=warm_start_model,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
