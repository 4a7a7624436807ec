"""The fine-tune schedule driven by a custom train loop (FineTunePhases), as consistency training uses it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.training import backbones, fine_tuning


def _toy_model() -> keras.Model:
    backbone_input = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(backbone_input)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    backbone = keras.Model(backbone_input, x, name=backbones.BACKBONE_LAYER_NAME)
    inputs = keras.Input((6, 6, 1))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="probabilities")(backbone(inputs)))


class _Loop:
    """A minimal compiled-step loop: `retrace` replaces the tf.function, as FixMatchStep.retrace does."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        self.retraces = 0
        self.retrace()

    def retrace(self):
        self.retraces += 1
        self.step = tf.function(self._step)

    def _step(self, images, labels):
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(labels, self.model(images, training=True))
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def _arrays(model):
    conv, norm = model.get_layer("backbone").get_layer("conv"), model.get_layer("backbone").get_layer("norm")
    return [np.array(v) for v in (conv.kernel, norm.moving_mean, model.get_layer("probabilities").kernel)]


def test_a_custom_loop_trains_the_head_first_then_everything_at_the_lower_rate():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(size=(8, 6, 6, 1)).astype("float32")
    labels = np.arange(8) % 2
    model = _toy_model()
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.05, decay_steps=10))
    loop = _Loop(model, optimizer)
    config = fine_tuning.FineTuneConfig(warmup_epochs=2, unfreeze_learning_rate_factor=0.2)
    phases = fine_tuning.schedule_phases(config, 4, model, optimizer, loop.retrace)
    phases.start()  # Builds the unbuilt optimizer on every variable, then freezes.
    assert optimizer.built and len(optimizer.variables) > 2 * len(model.trainable_variables)
    initial = _arrays(model)
    rates = []
    for epoch in range(4):
        switched = phases.begin_epoch(epoch)
        assert switched == (epoch == 2)
        rates.append(float(optimizer.learning_rate))
        loop.step(images, labels)
        if epoch == 1:
            after_warmup = _arrays(model)
    np.testing.assert_array_equal(after_warmup[0], initial[0])  # Backbone frozen through both warm-up epochs.
    assert not np.allclose(after_warmup[2], initial[2])  # The head learned.
    assert not np.allclose(_arrays(model)[0], after_warmup[0])  # Then the backbone learned too...
    np.testing.assert_array_equal(_arrays(model)[1], initial[1])  # ...with BatchNorm statistics kept frozen.
    schedule = keras.optimizers.schedules.CosineDecay(0.05, decay_steps=10)
    assert rates[:2] == pytest.approx([float(schedule(0)), float(schedule(1))])
    assert rates[2] == pytest.approx(0.2 * float(schedule(2)), rel=1e-5)
    assert phases.unfrozen_at_epoch == 2 and loop.retraces == 3  # Built, frozen, unfrozen.


def test_phases_need_a_backbone_and_none_without_a_config():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="flat")
    optimizer = keras.optimizers.Adam()
    assert fine_tuning.schedule_phases(None, 3, model, optimizer, lambda: None) is None
    with pytest.raises(ValueError, match="fine_tune: model 'flat' has no nested layer named 'backbone'"):
        fine_tuning.schedule_phases(fine_tuning.FineTuneConfig(), 3, model, optimizer, lambda: None)
