"""The fine-tuning schedule for pretrained backbones: train the head first, then everything, slower.

With pretrained weights, a fresh randomly initialized head sends large,
noisy gradients into the backbone in the first steps and wrecks the features
it came for. The usual remedy (Keras transfer-learning guide, ULMFiT's
gradual unfreezing) is two phases, both inside one `fit` call here:

  epochs [0, warmup_epochs): the nested `backbone` layer is frozen
    (`trainable=False`, so its BatchNorm layers also run in inference
    mode); only the head and the input adapters learn.
  epochs [warmup_epochs, epochs): the backbone is unfrozen and the learning
    rate (the configured schedule, continued) is multiplied by
    `unfreeze_learning_rate_factor`. BatchNorm layers stay frozen by default
    (`keep_batch_norm_frozen`): small fine-tuning batches would overwrite
    their pretrained statistics.

It works in one `fit` because the optimizer is built on all variables
before the freeze (Keras optimizers accept a subset of the variables they
were built with, never new ones), and the train function is re-traced at
each switch so it sees the new trainable set. Custom train loops (consistency
training) drive the same phases through `schedule_phases`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, List, Mapping, Optional, Union

import keras

from components.training import backbones, surgery
from components.types.config_json import check

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    """`TrainingConfig.fine_tune`.

    Attributes:
      warmup_epochs: epochs with the backbone frozen (head only), >= 1.
      unfreeze_learning_rate_factor: multiplies the learning rate once the
        backbone is unfrozen, in (0, 1].
      keep_batch_norm_frozen: BatchNorm layers of the backbone stay in
        inference mode after unfreezing.
    """

    warmup_epochs: int = 1
    unfreeze_learning_rate_factor: float = 0.1
    keep_batch_norm_frozen: bool = True

    def __post_init__(self):
        check(self.warmup_epochs >= 1, f"fine_tune.warmup_epochs must be >= 1, got {self.warmup_epochs}.")
        check(
            0.0 < self.unfreeze_learning_rate_factor <= 1.0,
            f"fine_tune.unfreeze_learning_rate_factor must be in (0, 1], got {self.unfreeze_learning_rate_factor}.",
        )

    @classmethod
    def coerce(cls, value: Union[None, "FineTuneConfig", Mapping[str, Any]]) -> Optional["FineTuneConfig"]:
        """None, a FineTuneConfig, or its dict form (YAML/JSON) -> FineTuneConfig or None."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {field.name for field in dataclasses.fields(cls)}
            unknown = sorted(set(value) - known)
            check(not unknown, f"Unknown fine_tune option(s) {unknown}; known: {sorted(known)}.")
            return cls(**dict(value))
        raise ValueError(f"fine_tune must be a mapping like {{warmup_epochs: 1}}, got {type(value).__name__}.")


@keras.saving.register_keras_serializable(package="tfx_autofit")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`factor * schedule(step)`: the configured schedule continued at a lower level."""

    def __init__(self, schedule, factor: float):
        self.schedule = schedule
        self.factor = float(factor)

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "factor": self.factor}

    @classmethod
    def from_config(cls, config):
        return cls(keras.optimizers.schedules.deserialize(config["schedule"]), config["factor"])


def set_backbone_trainable(backbone: keras.Model, trainable: bool, keep_batch_norm_frozen: bool) -> None:
    """Freezes or unfreezes the backbone; BatchNorm layers stay frozen with `keep_batch_norm_frozen`, blur filters always."""
    backbone.trainable = trainable
    if not trainable:
        return
    for layer in _all_layers(backbone):
        if keep_batch_norm_frozen and isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        if layer.name.endswith(surgery.BLUR_SUFFIX):  # The fixed blur filters of architecture_changes: blur_pool.
            layer.trainable = False


def _all_layers(model: keras.layers.Layer) -> List[keras.layers.Layer]:
    found, pending = [], list(getattr(model, "layers", []))
    while pending:
        layer = pending.pop()
        found.append(layer)
        pending.extend(getattr(layer, "layers", []) or [])
    return found


class FineTunePhases:
    """The schedule itself, for any train loop: frozen backbone first, then unfrozen at a lower rate.

    `FineTuneSchedule` drives it from Keras `fit`; a custom loop (consistency
    training's FixMatch steps) calls `start()` once before its first step and
    `begin_epoch(epoch)` before each epoch. `retrace` must make the loop's
    compiled step see the new trainable set and learning rate (fit:
    `make_train_function(force=True)`; a `tf.function` step: a fresh one).

    Args:
      config: the schedule.
      model: holds a nested layer named `backbone`.
      optimizer: the one that trains `model`; built on all of its trainable
        variables by `start()` when not built yet.
      retrace: called after each change of the trainable set.

    Raises:
      ValueError: `model` has no nested layer named `backbone`.
    """

    def __init__(self, config: FineTuneConfig, model: keras.Model, optimizer: keras.optimizers.Optimizer,
                 retrace: Callable[[], None]):
        self.config = config
        self.model = model
        self.optimizer = optimizer
        self.retrace = retrace
        self.unfrozen_at_epoch: Optional[int] = None
        self.backbone = backbones.find_backbone(model)
        if self.backbone is None:
            raise ValueError(
                f"fine_tune: model {model.name!r} has no nested layer named {backbones.BACKBONE_LAYER_NAME!r}; "
                f"use a backbone architecture ({sorted(backbones.BACKBONES)}) or name the base model so."
            )

    def start(self) -> None:
        """Freezes the backbone for the warm-up (call once, before the first train step)."""
        if not self.optimizer.built:
            # All variables the second phase will train must be known to the optimizer from the start.
            with self.model.distribute_strategy.scope():
                self.optimizer.build(self.model.trainable_variables)
        set_backbone_trainable(self.backbone, False, self.config.keep_batch_norm_frozen)
        self.retrace()
        logger.info("fine_tune: backbone frozen for %d warm-up epoch(s)", self.config.warmup_epochs)

    def begin_epoch(self, epoch: int) -> bool:
        """Unfreezes and lowers the learning rate at the first epoch >= warmup_epochs; returns whether it did now."""
        # `>=`, not `==`: a run resumed after a kill (components.common.resume) may start past the warm-up.
        if epoch < self.config.warmup_epochs or self.unfrozen_at_epoch is not None:
            return False
        set_backbone_trainable(self.backbone, True, self.config.keep_batch_norm_frozen)
        optimizer = self.optimizer
        factor = self.config.unfreeze_learning_rate_factor
        current = optimizer._learning_rate  # The schedule or variable the optimizer was built with.
        resumed_past_switch = epoch > self.config.warmup_epochs
        if isinstance(current, keras.optimizers.schedules.LearningRateSchedule):
            optimizer.learning_rate = ScaledSchedule(current, factor)  # schedules are code: scale again
        elif not resumed_past_switch:  # a constant rate lives in the optimizer state a resume restores, scaled
            optimizer.learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate)) * factor
        self.retrace()
        self.unfrozen_at_epoch = epoch
        trainable = sum(int(keras.ops.size(v)) for v in self.backbone.trainable_variables)
        logger.info(
            "fine_tune: backbone unfrozen at epoch %d (%d trainable backbone parameters), learning rate x%s",
            epoch + 1, trainable, factor,
        )
        return True


class FineTuneSchedule(keras.callbacks.Callback):
    """Frozen-backbone warm-up, then unfreeze with a lower learning rate (see the module docstring).

    Attach to the `fit` of a model with a nested layer named `backbone`
    (every `backbones` architecture; module-file models can name their base
    model so). `unfrozen_at_epoch` records when the switch happened.
    """

    def __init__(self, config: FineTuneConfig):
        super().__init__()
        self.config = config
        self._phases: Optional[FineTunePhases] = None

    @property
    def unfrozen_at_epoch(self) -> Optional[int]:
        return self._phases.unfrozen_at_epoch if self._phases is not None else None

    def on_train_begin(self, logs=None):
        model = self.model
        self._phases = FineTunePhases(
            self.config, model, model.optimizer, retrace=lambda: model.make_train_function(force=True)
        )
        self._phases.start()

    def on_epoch_begin(self, epoch, logs=None):
        self._phases.begin_epoch(epoch)


def _warn_when_never_unfrozen(fine_tune: FineTuneConfig, epochs: int) -> None:
    if fine_tune.warmup_epochs >= epochs:
        logger.warning(
            "fine_tune.warmup_epochs=%d >= epochs=%d: the backbone stays frozen for the whole run.",
            fine_tune.warmup_epochs, epochs,
        )


def schedule_callbacks(fine_tune: Optional[FineTuneConfig], epochs: int) -> List[keras.callbacks.Callback]:
    """The callbacks for `trainer.fit(extra_callbacks=...)`: none without a fine_tune config.

    Trainer-based components (distillation, noisy student, ...) pass these too
    so a pretrained backbone gets the same schedule everywhere.
    """
    if fine_tune is None:
        return []
    _warn_when_never_unfrozen(fine_tune, epochs)
    return [FineTuneSchedule(fine_tune)]


def schedule_phases(
    fine_tune: Optional[FineTuneConfig], epochs: int, model: keras.Model, optimizer: keras.optimizers.Optimizer,
    retrace: Callable[[], None],
) -> Optional[FineTunePhases]:
    """`schedule_callbacks` for a custom train loop: the phases to drive (see FineTunePhases), or None."""
    if fine_tune is None:
        return None
    _warn_when_never_unfrozen(fine_tune, epochs)
    return FineTunePhases(fine_tune, model, optimizer, retrace)
