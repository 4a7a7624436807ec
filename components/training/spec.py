"""Training component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.types import artifacts
from components.types.config_json import check as _check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
AUGMENTATION_POLICY_KEY = "augmentation_policy"
WARM_START_MODEL_KEY = "warm_start_model"
SYNTHETIC_EXAMPLES_KEY = "synthetic_examples"
BLEND_REPORT_KEY = "blend_report"
OPTIMIZATION_PARAMS_KEY = "optimization_params"
TRANSFORM_GRAPH_KEY = "transform_graph"
# Output keys.
MODEL_KEY = "model"
# Exec property keys.
CONFIG_KEY = "config"

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step")
DISTRIBUTIONS = ("auto", "default", "mirrored", "multi_worker")
CLASS_WEIGHTINGS = ("none", "balanced")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How to train. Either `architecture` (built-in name) or `module_file`.

    Attributes:
      image_size: (height, width) the images are resized to; default: the
        DataSpec's `image_size` (the median height x median width; its
        `image_size_reason` says why).
      early_stopping_patience: epochs without eval-loss improvement before
        stopping (best weights restored); 0 turns it off.
      distribution: tf.distribute strategy; `auto` picks MirroredStrategy
        when GPUs are visible, the default strategy otherwise.
      synthetic_ratio: synthetic examples per real example per epoch, drawn
        afresh each epoch from the `synthetic_examples` input (its train
        split only); 0 = real data only.
      label_smoothing: mass moved from the label to the uniform distribution
        in the cross-entropy target.
      mixup_alpha: mixup strength in [0, 1] (0 = off), the augment_ops
        magnitude: each sample blends in a partner from its batch with a
        weight drawn from U(0, alpha / 2), labels mixed alike (soft labels).
      cutmix_alpha: cutmix strength in [0, 1] (0 = off): a partner patch of
        up to alpha / 2 of the image area, labels mixed by the pasted share.
        With both on, each sample gets one of the two (even odds).
      class_weighting: `none`, or `balanced`: each class's loss is weighted
        by N / (K * n_k) from the DataSpec's train counts, so rare classes
        count as much as frequent ones.
      trust_module_code: allow a module_file model to hold arbitrary Python
        (keras.layers.Lambda). Keras safe mode refuses to load such a model,
        so without this opt-in Training fails before fitting; with it, the
        model artifact is marked trusted and loads with safe mode off.
      explicit_fields: names of the fields the user set (the config builder
        fills it from the YAML keys); learned optimization params (the
        `optimization_params` input) replace batch_size, learning_rate and
        epochs except those named here.
    """

    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    early_stopping_patience: int = 0
    label_smoothing: float = 0.0
    seed: int = 0
    image_size: Optional[Tuple[int, int]] = None
    distribution: str = "auto"
    steps_per_epoch: Optional[int] = None
    verbose: int = 2
    synthetic_ratio: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    class_weighting: str = "none"
    trust_module_code: bool = False
    explicit_fields: Tuple[str, ...] = ()
    # Backbones (components/training/backbones.py, fine_tuning.py): a local weights file for the backbone, and
    # the frozen-backbone warm-up schedule {warmup_epochs, unfreeze_learning_rate_factor, keep_batch_norm_frozen}.
    pretrained_weights: Optional[str] = None
    fine_tune: Optional[Any] = None
    # Drop-in architecture changes applied after building (components/training/surgery.py): any of
    # blur_pool, group_norm, silu | gelu, stochastic_depth.
    architecture_changes: Tuple[str, ...] = ()
    # Detection: a local keras-hub preset directory of the RetinaNet image encoder (components/training/detection.py).
    backbone_preset: Optional[str] = None

    def user_set(self, name: str) -> bool:
        """Whether the user chose `name`: named in `explicit_fields` (YAML) or set to something but its default.

        Trainers whose task needs other defaults than classification's (detection, segmentation) replace only
        the fields this says the user left alone.
        """
        field = next(field for field in dataclasses.fields(self) if field.name == name)
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        return name in self.explicit_fields or getattr(self, name) != default

    def __post_init__(self):
        if self.module_file is None and not self.architecture:
            raise ValueError("TrainingConfig needs an architecture name or a module_file.")
        if self.architecture and self.module_file is None:
            from components.training.models import ARCHITECTURES

            if self.architecture not in ARCHITECTURES:
                raise ValueError(
                    f"Unknown architecture {self.architecture!r}; built-in ones are {sorted(ARCHITECTURES)}."
                )
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}.")
        _check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}.")
        _check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}.")
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        _check(self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {self.schedule!r}.")
        _check(
            self.distribution in DISTRIBUTIONS,
            f"distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}.",
        )
        _check(0.0 <= self.label_smoothing < 1.0, f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        _check(self.early_stopping_patience >= 0, "early_stopping_patience must be >= 0.")
        _check(self.synthetic_ratio >= 0, f"synthetic_ratio must be >= 0, got {self.synthetic_ratio}.")
        _check(0.0 <= self.mixup_alpha <= 1.0, f"mixup_alpha must be in [0, 1] (0 = off), got {self.mixup_alpha}.")
        _check(0.0 <= self.cutmix_alpha <= 1.0, f"cutmix_alpha must be in [0, 1] (0 = off), got {self.cutmix_alpha}.")
        _check(
            self.class_weighting in CLASS_WEIGHTINGS,
            f"class_weighting must be one of {CLASS_WEIGHTINGS}, got {self.class_weighting!r}.",
        )
        _check(isinstance(self.trust_module_code, bool), f"trust_module_code must be true or false, got {self.trust_module_code!r}.")
        unknown = sorted(set(self.explicit_fields) - {field.name for field in dataclasses.fields(self)})
        _check(not unknown, f"explicit_fields names unknown TrainingConfig fields {unknown}.")
        _check_backbone_options(self)
        if self.image_size is not None:
            _check(
                len(self.image_size) == 2 and all(int(v) > 0 for v in self.image_size),
                f"image_size must be (height, width) > 0, got {self.image_size}.",
            )


def _check_backbone_options(config: "TrainingConfig") -> None:
    """pretrained_weights / fine_tune need a model with a `backbone` layer; fine_tune dicts become FineTuneConfig."""
    from components.training import backbones, fine_tuning

    object.__setattr__(config, "fine_tune", fine_tuning.FineTuneConfig.coerce(config.fine_tune))
    builtin = config.module_file is None
    for option in ("pretrained_weights", "fine_tune"):
        if getattr(config, option) is not None and builtin and config.architecture not in backbones.BACKBONES:
            raise ValueError(
                f"{option} needs a backbone architecture ({sorted(backbones.BACKBONES)}) or a module_file model with a "
                f"layer named 'backbone'; architecture is {config.architecture!r}."
            )
    if config.pretrained_weights is not None:
        backbones.check_weights_path(config.pretrained_weights)
    from components.training import surgery

    object.__setattr__(config, "architecture_changes", surgery.check_changes(config.architecture_changes))


class TrainingSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        AUGMENTATION_POLICY_KEY: component_spec.ChannelParameter(type=artifacts.AugmentationPolicy, optional=True),
        WARM_START_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
        SYNTHETIC_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples, optional=True),
        # BlendSearch's report: its synthetic_ratio custom property replaces config.synthetic_ratio.
        BLEND_REPORT_KEY: component_spec.ChannelParameter(type=artifacts.Report, optional=True),
        # OptimizationParams' output: learned batch_size / learning_rate / epochs replace those not in explicit_fields.
        OPTIMIZATION_PARAMS_KEY: component_spec.ChannelParameter(type=artifacts.OptimizationParams, optional=True),
        # ImageTransform's output: decode, resize and normalization come from this tf.Transform graph.
        TRANSFORM_GRAPH_KEY: component_spec.ChannelParameter(type=standard_artifacts.TransformGraph, optional=True),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
