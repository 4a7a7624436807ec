"""Learning batch size, learning rate and epoch count for a model on canonical examples (the executor's math).

Order matters: the batch size comes first (memory and data size), the
learning rate is measured at that batch size, and the epoch count is
measured with both.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import keras
import tensorflow as tf

from components.optimization import batch_size as batch_size_rule
from components.optimization import epochs as epochs_rule
from components.optimization import lr_range, steps
from components.optimization.spec import OptimizationConfig
from components.training import trainer, training
from components.training.spec import TrainingConfig
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LearnedParams:
    batch_size: int
    learning_rate: float
    epochs: int
    batch: batch_size_rule.BatchSizeChoice
    range_test: lr_range.RangeTestResult
    epoch_choice: epochs_rule.EpochChoice
    eval_losses: List[float]
    epoch_learning_rates: List[float]
    num_train: int
    seconds: Dict[str, float]

    def to_json(self) -> dict:
        """The payload of `optimization_params.json`."""
        return {
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "epochs_trained": self.epoch_choice.epochs_trained,
            "best_epoch": self.epoch_choice.best_epoch,
            "patience": self.epoch_choice.patience,
            "stopped_early": self.epoch_choice.stopped_early,
            "reasons": {
                "batch_size": self.batch.reason,
                "learning_rate": self.range_test.reason,
                "epochs": self.epoch_choice.reason,
            },
            "batch_size_probes": {str(size): fits for size, fits in self.batch.fits.items()},
            "lr_range_test": {
                "steepest_lr": self.range_test.steepest_lr,
                "min_loss_lr": self.range_test.min_loss_lr,
                "diverged_at": self.range_test.diverged_at,
            },
            "lr_curve": self.range_test.curve(),
            "eval_loss_by_epoch": self.eval_losses,
            "learning_rate_by_epoch": self.epoch_learning_rates,
            "num_train_examples": self.num_train,
            "seconds": self.seconds,
        }


def training_config(config: OptimizationConfig, **overrides) -> TrainingConfig:
    """The TrainingConfig the measurements train with: constant LR, the same model and optimizer, quiet."""
    values = dict(
        architecture=config.architecture,
        module_file=config.module_file,
        image_size=config.image_size,
        optimizer=config.optimizer,
        seed=config.seed,
        trust_module_code=config.trust_module_code,
        schedule="constant",
        distribution="default",
        verbose=0,
    )
    values.update(overrides)
    return TrainingConfig(**values)


def _one_hot_batches(examples_uri, data_spec, batch, image_size, seed, repeat) -> tf.data.Dataset:
    dataset = examples_io.load_split(
        examples_uri, features.TRAIN_SPLIT, data_spec, batch_size=batch, image_size=image_size,
        shuffle=True, seed=seed, repeat=repeat,
    )
    return trainer.one_hot_labels(dataset, data_spec.task, data_spec.num_classes)


def check_inputs(examples_uri: str, data_spec: DataSpecContent) -> int:
    """Number of train examples; raises a one-line ValueError when the data cannot be used."""
    if data_spec.task not in (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL):
        raise ValueError(
            f"OptimizationParams learns training params for classifiers; the DataSpec's task is {data_spec.task!r}."
        )
    for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT):
        examples_io.split_files(examples_uri, split)  # FileNotFoundError naming the split.
    num_train = data_spec.split_count(features.TRAIN_SPLIT) or examples_io.count_records(
        examples_uri, features.TRAIN_SPLIT
    )
    if num_train < 1:
        raise ValueError(f"Examples at {examples_uri} have an empty train split; nothing to learn params from.")
    return num_train


def learn_optimization_params(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: OptimizationConfig,
    fits: Optional[Callable[[int], bool]] = None,
) -> LearnedParams:
    """Batch size, then learning rate (range test at that batch size), then epochs (early stopping with both).

    Args:
      fits: the memory probe `batch_size -> bool`; default: a real forward +
        backward step (batch_size.memory_probe).
    """
    num_train = check_inputs(examples_uri, data_spec)
    image_size = training.resolve_image_size(training_config(config), data_spec)
    build = training.model_builder(training_config(config), data_spec, image_size)
    loss = trainer.make_loss(data_spec.task)
    seconds: Dict[str, float] = {}

    started = time.time()
    if fits is None:
        fits = batch_size_rule.memory_probe(
            build, (*image_size, data_spec.channels),
            lambda: trainer.make_optimizer(training_config(config), 1), loss, seed=config.seed,
        )
    batch = batch_size_rule.choose_batch_size(num_train, config.batch_sizes, config.min_steps_per_epoch, fits)
    seconds["batch_size"] = time.time() - started
    logger.info("batch size %s", batch.reason)

    started = time.time()
    range_test = range_test_for(examples_uri, data_spec, config, build, image_size, batch.batch_size)
    seconds["learning_rate"] = time.time() - started
    logger.info("learning rate %s", range_test.reason)

    started = time.time()
    patience = epochs_rule.resolve_patience(config.patience, num_train, batch.batch_size, config.max_epochs)
    eval_losses, epoch_rates = early_stopping_run(
        examples_uri, data_spec, config, build, image_size, num_train, batch.batch_size, range_test.learning_rate,
        patience,
    )
    choice = epochs_rule.choose_epochs(eval_losses, config.min_epochs, config.max_epochs, patience, epoch_rates)
    seconds["epochs"] = time.time() - started
    logger.info("epochs %s", choice.reason)
    return LearnedParams(
        batch.batch_size, range_test.learning_rate, choice.epochs, batch, range_test, choice, eval_losses,
        epoch_rates, num_train, seconds,
    )


def range_test_for(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: OptimizationConfig,
    build: Callable[[], keras.Model],
    image_size: Tuple[int, int],
    batch: int,
) -> lr_range.RangeTestResult:
    """The LR range test on a fresh, seeded model at `batch` (the train split, shuffled and repeated)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    model = build()
    optimizer = trainer.make_optimizer(training_config(config, learning_rate=config.lr_min), 1)
    step = steps.make_train_step(model, optimizer, trainer.make_loss(data_spec.task))
    batches: Iterator = iter(_one_hot_batches(examples_uri, data_spec, batch, image_size, config.seed, repeat=True))
    return lr_range.run_range_test(
        step, lambda rate: steps.set_learning_rate(optimizer, rate), batches,
        config.lr_min, config.lr_max, config.range_test_steps,
    )


class PlateauDecay(keras.callbacks.Callback):
    """Cuts the learning rate by `factor` after `patience` epochs without a lower eval loss, at most `max_cuts` times.

    Like keras.callbacks.ReduceLROnPlateau, but counting cuts instead of
    comparing against a float32 `min_lr` (which can add a spurious tiny cut).
    Logs the rate each epoch ran at as `learning_rate`.
    """

    def __init__(self, factor: float, patience: int, max_cuts: int):
        super().__init__()
        self.factor, self.patience, self.max_cuts = float(factor), int(patience), int(max_cuts)

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cuts = float("inf"), 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["learning_rate"] = rate
        loss = logs.get("val_loss")
        if loss is None:
            return
        if loss < self.best:
            self.best, self.wait = float(loss), 0
            return
        self.wait += 1
        if self.wait >= self.patience and self.cuts < self.max_cuts:
            self.model.optimizer.learning_rate = rate * self.factor
            self.cuts, self.wait = self.cuts + 1, 0
            logger.info("optimization params: eval loss flat for %d epochs; learning rate %.3g -> %.3g",
                        self.patience, rate, rate * self.factor)


def early_stopping_run(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: OptimizationConfig,
    build: Callable[[], keras.Model],
    image_size: Tuple[int, int],
    num_train: int,
    batch: int,
    learning_rate: float,
    patience: int,
) -> Tuple[List[float], List[float]]:
    """(eval loss, learning rate) per epoch of a reduce-on-plateau run stopped after `patience` epochs without gain.

    The rules are in components.optimization.epochs.
    """
    run_config = training_config(
        config, batch_size=batch, learning_rate=learning_rate, epochs=config.max_epochs,
        early_stopping_patience=patience,
    )
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    train = training.labeled_dataset(examples_uri, features.TRAIN_SPLIT, data_spec, run_config, image_size, True)
    held_out = training.labeled_dataset(examples_uri, features.EVAL_SPLIT, data_spec, run_config, image_size, False)
    decay = PlateauDecay(epochs_rule.LR_DECAY_FACTOR, epochs_rule.decay_patience(patience), epochs_rule.LR_DECAYS)
    _, history = trainer.fit(
        build, train, held_out, run_config, data_spec.task, num_train, extra_callbacks=[decay],
        log_prefix="optimization params",
    )
    losses = [float(value) for value in history.get("val_loss", [])]
    return losses, [float(value) for value in history.get("learning_rate", [learning_rate] * len(losses))]
