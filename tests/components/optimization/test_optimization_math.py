"""The math of OptimizationParams without TFX: batch-size rule, LR range test, epochs from early stopping."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.optimization import batch_size, epochs, lr_range, optimization
from components.optimization.spec import OptimizationConfig
from components.training import models, trainer
from tests.support.canonical import artifact_pair

LADDER = (16, 32, 64, 128, 256)
TINY = dict(architecture="tiny_cnn", batch_sizes=(8, 16, 32), min_steps_per_epoch=4, range_test_steps=30,
            max_epochs=5, min_epochs=1)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """64 train / 32 eval stripe images of 16x16 in 3 classes."""
    tmp_path = tmp_path_factory.mktemp("optimization_data")
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, {"train": 64, "eval": 32}, size=16)
    return examples, data_spec_artifact, data_spec


@pytest.mark.parametrize(
    "num_train, expected",
    [(500, 16), (1000, 32), (5000, 128), (50_000, 256), (64, 16)],
)
def test_data_rule_caps_batch_size_by_steps_per_epoch(num_train, expected):
    # 500 images at >= 30 steps per epoch allow 16 (500/32 = 15.6 steps); 64 images: none qualifies -> smallest.
    assert batch_size.data_cap(num_train, LADDER, min_steps_per_epoch=30) == expected


def test_batch_size_is_the_largest_that_fits_within_the_data_cap():
    probed = []

    def fits(size):
        probed.append(size)
        return size <= 32

    choice = batch_size.choose_batch_size(50_000, LADDER, 30, fits)
    assert choice.batch_size == 32 and choice.data_cap == 256
    assert probed == [256, 128, 64, 32] and choice.fits == {256: False, 128: False, 64: False, 32: True}
    assert "ran out of memory" in choice.reason
    small = batch_size.choose_batch_size(500, LADDER, 30, lambda size: True)
    assert small.batch_size == 16 and small.fits == {16: True}  # Candidates above the data cap are never probed.
    with pytest.raises(ValueError, match="No batch size"):
        batch_size.choose_batch_size(500, LADDER, 30, lambda size: False)


def test_memory_probe_runs_a_real_step_and_reads_out_of_memory_errors(tiny_data):
    _, _, data_spec = tiny_data
    loss = trainer.make_loss(data_spec.task)
    build = lambda: models.build_architecture("tiny_cnn", data_spec, (16, 16))  # noqa: E731
    assert batch_size.memory_probe(build, (16, 16, 1), lambda: keras.optimizers.Adam(1e-3), loss)(8)

    def out_of_memory():
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape [4096,...]")

    assert not batch_size.memory_probe(out_of_memory, (16, 16, 1), lambda: None, loss)(8)
    assert batch_size.is_out_of_memory(tf.errors.InternalError(None, None, "CUDA error: out of memory"))
    assert not batch_size.is_out_of_memory(tf.errors.InternalError(None, None, "shape mismatch"))

    def broken():
        raise ValueError("not a memory problem")

    with pytest.raises(ValueError, match="not a memory problem"):
        batch_size.memory_probe(broken, (16, 16, 1), lambda: None, loss)(8)


def _synthetic_curve(steps=200, lr_min=1e-5, lr_max=10.0, explode_from=3.0):
    """Flat at low rates, falling from ~1e-3, lowest near 0.3, exploding past `explode_from`."""
    rates = lr_range.schedule(lr_min, lr_max, steps)
    logs = np.log10(rates)
    losses = 2.3 - 1.8 / (1 + np.exp(-(logs + 2.5) * 3)) + 0.5 * np.clip(logs + 0.5, 0, None) ** 2
    losses = np.where(rates > explode_from, losses * 50, losses)
    noise = np.random.default_rng(0).normal(0, 0.02, size=steps)
    return rates, losses + noise


def test_suggestion_sits_below_the_loss_minimum_and_names_the_divergence():
    rates, losses = _synthetic_curve()
    result = lr_range.suggest(rates, losses, 1e-5, 10.0)
    assert result.diverged_at is not None and 2.0 < result.diverged_at <= 4.0
    assert result.steepest_lr < result.min_loss_lr < result.diverged_at
    assert 1e-4 < result.learning_rate < result.min_loss_lr
    assert math.isclose(result.learning_rate, math.sqrt(result.steepest_lr * result.min_loss_lr / 10), rel_tol=1e-9)
    assert "diverged at" in result.reason and len(result.curve()) == len(rates)


def test_loss_that_diverges_at_once_gives_lr_min():
    rates = lr_range.schedule(1.0, 100.0, 50)
    losses = [2.3 * 10 ** (index / 5) for index in range(50)]
    result = lr_range.suggest(rates, losses, 1.0, 100.0)
    assert result.learning_rate == 1.0 and result.steepest_lr is None
    assert "diverged at" in result.reason and "before it fell" in result.reason
    nan_run = lr_range.suggest(rates[:5], [2.3, 2.2, float("nan"), 1.0, 1.0], 1.0, 100.0)
    assert nan_run.diverged_at == pytest.approx(rates[2])


def test_loss_still_falling_at_lr_max_says_so():
    rates = lr_range.schedule(1e-5, 1e-2, 100)
    losses = 2.3 - 0.2 * np.log10(rates / 1e-5)  # Falls all the way.
    result = lr_range.suggest(rates, losses, 1e-5, 1e-2)
    assert result.diverged_at is None and result.min_loss_lr == pytest.approx(1e-2)
    assert "raise lr_max" in result.reason and result.learning_rate < 1e-2


def _range_test(tiny_data, **overrides):
    examples, _, data_spec = tiny_data
    config = OptimizationConfig(**dict(TINY, **overrides))
    build = lambda: models.build_architecture("tiny_cnn", data_spec, (16, 16))  # noqa: E731
    return optimization.range_test_for(examples.uri, data_spec, config, build, (16, 16), 16)


def test_range_test_on_a_tiny_problem_picks_a_rate_inside_the_range_and_is_seeded(tiny_data):
    result = _range_test(tiny_data, lr_min=1e-4, lr_max=1.0)
    assert 1e-4 <= result.learning_rate <= 1.0
    assert len(result.learning_rates) == len(result.losses) <= 30
    assert result.learning_rates == sorted(result.learning_rates)
    assert min(result.smoothed) < result.smoothed[0]  # The loss fell somewhere in the sweep.
    again = _range_test(tiny_data, lr_min=1e-4, lr_max=1.0)
    assert again.losses == pytest.approx(result.losses, rel=1e-4)


def test_range_test_detects_a_diverging_rate(tiny_data):
    result = _range_test(tiny_data, optimizer="sgd", lr_min=1e-3, lr_max=1e4)
    assert result.diverged_at is not None
    assert len(result.losses) < 30  # Stopped at the divergence, not at the budget.
    assert result.learning_rate < result.diverged_at


@pytest.mark.parametrize("steps_per_epoch, max_epochs, expected", [(32, 40, 5), (196, 40, 2), (2, 40, 10), (2, 8, 2)])
def test_patience_scales_with_steps_per_epoch(steps_per_epoch, max_epochs, expected):
    assert epochs.auto_patience(steps_per_epoch, max_epochs) == expected


def test_epochs_are_the_best_eval_loss_epoch_with_a_floor():
    losses = [2.0, 1.2, 0.9, 0.8, 0.85, 0.95, 1.1]
    choice = epochs.choose_epochs(losses, min_epochs=2, max_epochs=20, patience=3)
    assert (choice.epochs, choice.best_epoch, choice.epochs_trained, choice.stopped_early) == (4, 4, 7, True)
    assert "epoch 4" in choice.reason
    floored = epochs.choose_epochs([1.0, 1.1, 1.2], min_epochs=3, max_epochs=20, patience=2)
    assert floored.epochs == 3 and floored.best_epoch == 1 and "minimum" in floored.reason
    decayed = epochs.choose_epochs(losses, 1, 20, 3, learning_rates=[1e-3, 1e-3, 1e-3, 2e-4, 2e-4, 4e-5, 4e-5])
    assert "cut after epochs [3, 5]" in decayed.reason
    assert epochs.decay_patience(5) == 2 and epochs.decay_patience(2) == 1
    with pytest.raises(ValueError, match="no finite eval loss"):
        epochs.best_epoch([float("nan"), float("inf")])


def test_plateau_decay_cuts_the_rate_at_most_max_cuts_times(tiny_data):
    _, _, data_spec = tiny_data
    model = models.build_architecture("tiny_cnn", data_spec, (16, 16))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="categorical_crossentropy")
    callback = optimization.PlateauDecay(factor=0.2, patience=2, max_cuts=2)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.1]):
        logs = {"val_loss": loss}
        callback.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.02, 0.02, 0.004, 0.004, 0.004], rel=1e-5)


def test_config_validation_names_the_key():
    with pytest.raises(ValueError, match="lr_min"):
        OptimizationConfig(lr_min=1.0, lr_max=0.1)
    with pytest.raises(ValueError, match="architecture"):
        OptimizationConfig(architecture="nope")
    with pytest.raises(ValueError, match="max_epochs"):
        OptimizationConfig(max_epochs=2, min_epochs=3)
    with pytest.raises(ValueError, match="batch_sizes"):
        OptimizationConfig(batch_sizes=())
