"""The fine-tuning schedule: frozen backbone for the warm-up epochs, then unfrozen at a lower learning rate."""

import numpy as np
import pytest
import keras

from components.training import backbones, fine_tuning, training
from components.training.spec import TrainingConfig
from tests.support.canonical import artifact_pair


def _toy_model() -> keras.Model:
    """A conv + BatchNorm `backbone` and a dense head: big enough to see which part learns."""
    backbone_input = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(backbone_input)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    backbone = keras.Model(backbone_input, x, name=backbones.BACKBONE_LAYER_NAME)
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2, activation="softmax", name="probabilities")(backbone(inputs))
    return keras.Model(inputs, outputs, name="toy")


class _Snapshots(keras.callbacks.Callback):
    """Weights and learning rate at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        self.rows.append(
            {
                "conv": keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer("conv").kernel).copy(),
                "moving_mean": keras.ops.convert_to_numpy(
                    model.get_layer("backbone").get_layer("norm").moving_mean
                ).copy(),
                "head": keras.ops.convert_to_numpy(model.get_layer("probabilities").kernel).copy(),
                "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
            }
        )


def _fit(learning_rate, config: fine_tuning.FineTuneConfig, epochs: int = 3):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(32, 8, 8, 1)).astype("float32")
    labels = keras.ops.convert_to_numpy(keras.ops.one_hot(rng.integers(0, 2, 32), 2))
    model = _toy_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy")
    initial = {
        "conv": keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer("conv").kernel).copy(),
        "moving_mean": keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer("norm").moving_mean).copy(),
    }
    snapshots = _Snapshots()
    callbacks = fine_tuning.schedule_callbacks(config, epochs)
    model.fit(images, labels, batch_size=8, epochs=epochs, callbacks=[*callbacks, snapshots], verbose=0)
    return initial, snapshots.rows, callbacks[0]


def test_backbone_frozen_during_warmup_then_trained_at_lower_learning_rate():
    config = fine_tuning.FineTuneConfig(warmup_epochs=1, unfreeze_learning_rate_factor=0.1)
    initial, rows, schedule = _fit(0.01, config)
    # Epoch 1: only the head learned.
    np.testing.assert_array_equal(rows[0]["conv"], initial["conv"])
    assert rows[0]["learning_rate"] == pytest.approx(0.01)
    # Epochs 2-3: the backbone learns, at a tenth of the rate.
    assert not np.allclose(rows[1]["conv"], rows[0]["conv"])
    assert not np.allclose(rows[2]["conv"], rows[1]["conv"])
    assert rows[1]["learning_rate"] == pytest.approx(0.001)
    assert schedule.unfrozen_at_epoch == 1
    # BatchNorm statistics stayed frozen throughout (keep_batch_norm_frozen).
    for row in rows:
        np.testing.assert_array_equal(row["moving_mean"], initial["moving_mean"])
    assert not np.allclose(rows[2]["head"], rows[0]["head"])


def test_schedule_is_scaled_and_batch_norm_can_be_unfrozen():
    schedule = keras.optimizers.schedules.CosineDecay(0.02, decay_steps=12)
    config = fine_tuning.FineTuneConfig(warmup_epochs=2, unfreeze_learning_rate_factor=0.5, keep_batch_norm_frozen=False)
    initial, rows, _ = _fit(schedule, config)
    np.testing.assert_array_equal(rows[1]["conv"], initial["conv"])
    np.testing.assert_array_equal(rows[1]["moving_mean"], initial["moving_mean"])
    assert not np.allclose(rows[2]["conv"], initial["conv"])
    assert not np.allclose(rows[2]["moving_mean"], initial["moving_mean"])  # BatchNorm trains after the switch.
    # 4 steps per epoch: at the end of epoch 3 (step 12) the cosine has decayed to 0; at epoch 2 end compare.
    expected = 0.5 * float(keras.ops.convert_to_numpy(schedule(12)))
    assert rows[2]["learning_rate"] == pytest.approx(expected, abs=1e-7)


def test_fine_tune_needs_a_backbone_layer():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="adam", loss="mse")
    callbacks = fine_tuning.schedule_callbacks(fine_tuning.FineTuneConfig(), epochs=2)
    with pytest.raises(ValueError, match="no nested layer named 'backbone'"):
        model.fit(np.zeros((4, 4)), np.zeros((4, 2)), epochs=1, callbacks=callbacks, verbose=0)
    assert fine_tuning.schedule_callbacks(None, epochs=2) == []


def test_training_loads_pretrained_backbone_and_keeps_it_frozen_in_warmup(tmp_path):
    """Training end to end: the backbone starts from the local file and stays frozen through the warm-up."""
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 24, "eval": 6})
    keras.utils.set_random_seed(7)
    pretrained = training.models.build_architecture("mobilenet_v3_small", data_spec, (12, 12))
    path = str(tmp_path / "pretrained.weights.h5")
    backbones.save_backbone_weights(pretrained, path)

    config = TrainingConfig(
        architecture="mobilenet_v3_small",
        pretrained_weights=path,
        fine_tune={"warmup_epochs": 1},
        epochs=1,
        batch_size=12,
        verbose=0,
        seed=1,
    )
    model, history, metrics = training.train_classifier(examples.uri, data_spec, config)
    assert len(history["loss"]) == 1 and "eval_accuracy" in metrics
    # Every backbone weight (kernels and BatchNorm statistics) is still the file's: loaded, then frozen.
    saved = backbones.find_backbone(pretrained).weights
    trained = backbones.find_backbone(model).weights
    assert len(saved) == len(trained) > 100
    for before, after in zip(saved, trained):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(after), keras.ops.convert_to_numpy(before))


def test_a_run_resumed_past_the_warmup_unfreezes_without_rescaling_a_restored_rate():
    """After a kill, fit restarts at a later epoch (initial_epoch): the switch must still happen, once."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(16, 8, 8, 1)).astype("float32")
    labels = keras.ops.convert_to_numpy(keras.ops.one_hot(rng.integers(0, 2, 16), 2))
    model = _toy_model()
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="categorical_crossentropy")  # already scaled
    config = fine_tuning.FineTuneConfig(warmup_epochs=1, unfreeze_learning_rate_factor=0.1)
    callbacks = fine_tuning.schedule_callbacks(config, 4)
    before = keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer("conv").kernel).copy()
    model.fit(images, labels, batch_size=8, epochs=4, initial_epoch=2, callbacks=callbacks, verbose=0)
    assert callbacks[0].unfrozen_at_epoch == 2
    assert not np.allclose(keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer("conv").kernel), before)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.001)
