"""Consistency training component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.consistency.thresholds import MODES
from components.training.spec import TrainingConfig
from components.types import artifacts, features
from components.types.config_json import check as _check

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
AUGMENTATION_POLICY_KEY = "augmentation_policy"
WARM_START_MODEL_KEY = "warm_start_model"
# Output keys.
MODEL_KEY = "model"
# Exec property keys.
CONFIG_KEY = "config"

SUMMARY_FILE_NAME = "consistency_summary.json"
PROGRESS_DIR_NAME = "progress"
OPTIMIZERS = ("sgd", "adam")
# MLMD custom properties of the output model (besides eval_accuracy / eval_loss).
PSEUDO_LABEL_RATE = "pseudo_label_rate"
PSEUDO_LABEL_ACCURACY = "pseudo_label_accuracy"


@dataclasses.dataclass(frozen=True)
class ConsistencyConfig:
    """How to train with FixMatch-style consistency on labeled + unlabeled images.

    Defaults are the FixMatch paper's (Sohn et al. 2020, CIFAR-10 setting):
    SGD with Nesterov momentum 0.9, lr 0.03 with cosine decay
    `lr * cos(7 pi k / 16 K)`, weight decay 5e-4, batch 64, mu 7,
    threshold 0.95, lambda_u 1, EMA 0.999.

    Attributes:
      architecture / module_file: the classifier, as the training component
        builds it (built-in name, or a module file with `build_model`).
      epochs: passes over the unlabeled images (see steps_per_epoch).
      steps_per_epoch: optimizer steps per epoch; default
        ceil(unlabeled images / (mu * batch_size)), one pass over them.
      batch_size: labeled images per step (B); each step also takes
        mu * B unlabeled images, each in a weak and a strong view.
      mu: unlabeled-to-labeled batch ratio.
      optimizer: `sgd` (Nesterov momentum 0.9) or `adam`, both with
        FixMatch's cosine decay over all steps.
      weight_decay: decoupled weight decay on kernels (not biases or
        normalization parameters).
      threshold: confidence a weak-view prediction needs to become a
        pseudo-label (fixed mode), or the base of FlexMatch's class-wise ones.
      threshold_mode: `fixed` (FixMatch), `flexmatch` or `freematch`
        (class-wise adaptive; see thresholds.py).
      threshold_momentum: EMA momentum of FreeMatch's estimates and of the
        distribution-alignment running mean.
      distribution_alignment: rescale weak predictions towards the labeled
        class distribution before thresholding (ReMixMatch).
      lambda_u: weight of the unlabeled (consistency) loss.
      ema_decay: decay of the weight EMA; the EMA model is evaluated and exported.
      weak_flip: mirror left-right in the weak view. None (default): with an
        augmentation policy, only if it contains flip_left_right; without
        one, decided from the data before training (mirror_check.py: a
        briefly trained model scored on eval images as they are and
        mirrored; digits, text and signs lose their labels when mirrored).
        True / False force it (a policy without flip_left_right still wins).
      weak_translate: largest weak-view shift, as a fraction of the side.
      strong_num_ops / strong_magnitude: RandAugment N and the largest
        magnitude (without a policy; a policy's own magnitudes cap it).
      cutout: Cutout magnitude after the strong view (1.0 = half the side).
      include_labeled_in_unlabeled: the labeled train images also join the
        unlabeled pool (labels unused there), as in the paper.
      unlabeled_split: the Examples split holding unlabeled images.
      work_dir: where the per-epoch checkpoint (model, EMA, optimizer,
        threshold state) is kept for resuming; default `<model uri>/progress`.
      pretrained_weights: a local weights file for the classifier's nested
        `backbone` layer (a backbone architecture, or a module-file model
        with a layer so named), as `TrainingConfig.pretrained_weights`:
        loaded before the first step, never downloaded.
      fine_tune: the frozen-backbone warm-up schedule `{warmup_epochs,
        unfreeze_learning_rate_factor, keep_batch_norm_frozen}` of
        `TrainingConfig.fine_tune` (components/training/fine_tuning.py),
        driven by the FixMatch loop epoch by epoch; None: no schedule.
    """

    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    epochs: int = 100
    steps_per_epoch: Optional[int] = None
    batch_size: int = 64
    mu: int = 7
    learning_rate: float = 0.03
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    threshold: float = 0.95
    threshold_mode: str = "fixed"
    threshold_momentum: float = 0.999
    distribution_alignment: bool = False
    lambda_u: float = 1.0
    ema_decay: float = 0.999
    weak_flip: Optional[bool] = None
    weak_translate: float = 0.125
    strong_num_ops: int = 2
    strong_magnitude: float = 1.0
    cutout: float = 1.0
    include_labeled_in_unlabeled: bool = True
    unlabeled_split: str = features.UNLABELED_SPLIT
    seed: int = 0
    image_size: Optional[Tuple[int, int]] = None
    eval_batch_size: int = 256
    work_dir: Optional[str] = None
    verbose: int = 0
    pretrained_weights: Optional[str] = None
    fine_tune: Optional[Any] = None

    def __post_init__(self):
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}.")
        _check(self.steps_per_epoch is None or self.steps_per_epoch >= 1,
               f"steps_per_epoch must be >= 1 (or None: one pass over the unlabeled images), "
               f"got {self.steps_per_epoch}.")
        _check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}.")
        _check(self.mu >= 1, f"mu (unlabeled images per labeled image in a step) must be >= 1, got {self.mu}.")
        _check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}.")
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        _check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}.")
        _check(0.0 < self.threshold <= 1.0, f"threshold must be in (0, 1], got {self.threshold}.")
        _check(self.threshold_mode in MODES, f"threshold_mode must be one of {MODES}, got {self.threshold_mode!r}.")
        _check(0.0 <= self.threshold_momentum < 1.0,
               f"threshold_momentum must be in [0, 1), got {self.threshold_momentum}.")
        _check(self.lambda_u >= 0, f"lambda_u must be >= 0, got {self.lambda_u}.")
        _check(0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1), got {self.ema_decay}.")
        _check(0.0 <= self.weak_translate <= 0.3,
               f"weak_translate must be in [0, 0.3] of the side, got {self.weak_translate}.")
        _check(self.strong_num_ops >= 1, f"strong_num_ops must be >= 1, got {self.strong_num_ops}.")
        _check(0.0 <= self.strong_magnitude <= 1.0, f"strong_magnitude must be in [0, 1], got {self.strong_magnitude}.")
        _check(0.0 <= self.cutout <= 1.0, f"cutout must be in [0, 1] (0 = off), got {self.cutout}.")
        _check(bool(self.unlabeled_split), "unlabeled_split must name a split.")
        _check(self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size}.")
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(self.image_size))
        # Validates architecture / module_file, image_size, pretrained_weights and fine_tune like Training does,
        # and takes its fine_tune in FineTuneConfig form (a YAML/JSON dict becomes one).
        object.__setattr__(self, "fine_tune", self.training_config().fine_tune)

    def training_config(self) -> TrainingConfig:
        """The same model settings as a TrainingConfig (shared model builders and image-size resolution)."""
        return TrainingConfig(
            architecture=self.architecture,
            module_file=self.module_file,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            seed=self.seed,
            image_size=self.image_size,
            distribution="default",
            verbose=self.verbose,
            pretrained_weights=self.pretrained_weights,
            fine_tune=self.fine_tune,
        )

    @property
    def unlabeled_batch_size(self) -> int:
        return self.mu * self.batch_size


class ConsistencySpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        AUGMENTATION_POLICY_KEY: component_spec.ChannelParameter(type=artifacts.AugmentationPolicy, optional=True),
        WARM_START_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
