import keras
import numpy as np
import pytest
import tensorflow as tf

from components.synthesis import gan
from tests.components.synthesis.tiny_data import stripe_arrays


@pytest.mark.parametrize(
    "size, channels, stages",
    [((12, 12), 1, 1), ((28, 28), 1, 2), ((30, 20), 3, 2), ((64, 64), 3, 4), ((128, 96), 3, 4)],
)
def test_generator_and_discriminator_shapes_follow_the_image_size(size, channels, stages):
    assert gan.upsampling_stages(size) == stages
    generator = gan.build_generator(num_classes=4, image_size=size, channels=channels, latent_dim=8, width=4)
    discriminator = gan.build_discriminator(num_classes=4, image_size=size, channels=channels, width=4)
    noise = tf.random.normal([3, 8])
    labels = tf.constant([0, 2, 3])
    images = generator([noise, labels], training=False)
    assert images.shape == (3, *size, channels)
    assert float(tf.reduce_min(images)) >= 0.0 and float(tf.reduce_max(images)) <= 1.0
    unconditional, conditional = discriminator([images, labels], training=False)
    assert unconditional.shape == (3,) and conditional.shape == (3,)


def test_larger_images_get_deeper_networks():
    small = gan.build_generator(2, (32, 32), 3, latent_dim=8, width=4)
    large = gan.build_generator(2, (128, 128), 3, latent_dim=8, width=4)
    transposed = lambda model: sum("conv2d_transpose" in layer.name for layer in model.layers)  # noqa: E731
    assert transposed(small) == 3 and transposed(large) == 5


def test_discriminator_depends_on_the_label():
    discriminator = gan.build_discriminator(num_classes=3, image_size=(12, 12), channels=1, width=4)
    images = tf.random.uniform([2, 12, 12, 1], seed=1)
    _, as_zero = discriminator([images, tf.constant([0, 0])])
    _, as_two = discriminator([images, tf.constant([2, 2])])
    assert not np.allclose(as_zero.numpy(), as_two.numpy())


def _trainer(seed=0, regularization_weight=0.0, width=8):
    keras.utils.set_random_seed(seed)
    generator = gan.build_generator(3, (12, 12), 1, latent_dim=16, width=width)
    discriminator = gan.build_discriminator(3, (12, 12), 1, width=width, spectral_norm=regularization_weight == 0)
    return gan.GanTrainer(
        generator, discriminator, num_classes=3, latent_dim=16, generator_learning_rate=2e-4,
        discriminator_learning_rate=4e-4, beta_1=0.5, gradient_penalty_weight=regularization_weight, seed=seed,
    )


@pytest.mark.parametrize("penalty", [0.0, 1.0], ids=["spectral_norm", "gradient_penalty"])
def test_discriminator_steps_lower_the_discriminator_loss(penalty):
    images, labels = stripe_arrays(32, size=12)
    trainer = _trainer(regularization_weight=penalty)
    step = tf.constant(0)
    losses = [float(trainer.discriminator_step(images, labels, step)["discriminator_loss"]) for _ in range(15)]
    assert losses[-1] < losses[0] - 0.3, losses
    if penalty:
        assert float(trainer.discriminator_step(images, labels, step)["r1_penalty"]) > 0


def test_generator_steps_lower_the_generator_loss_against_a_fixed_discriminator():
    images, labels = stripe_arrays(32, size=12)
    trainer = _trainer()
    for _ in range(5):
        trainer.discriminator_step(images, labels, tf.constant(0))
    weights = [w.numpy().copy() for w in trainer.discriminator.trainable_weights]
    losses = [float(trainer.generator_step(tf.constant(32), tf.constant(0))["generator_loss"]) for _ in range(15)]
    assert losses[-1] < losses[0] - 0.1, losses
    for before, after in zip(weights, trainer.discriminator.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_unlabeled_batches_train_the_unconditional_head():
    images, labels = stripe_arrays(16, size=12)
    unlabeled, _ = stripe_arrays(16, size=12, seed=5)
    no_labels = tf.zeros([16], tf.int32)

    def unconditional_gain(use_unlabeled: bool) -> float:
        trainer = _trainer(seed=0)  # Same seed: same initial weights and same fakes in both runs.
        unlabeled_tensor = tf.constant(unlabeled)
        before = float(tf.reduce_mean(trainer.discriminator([unlabeled_tensor, no_labels])[0]))
        for _ in range(8):
            trainer.discriminator_step(images, labels, tf.constant(0), unlabeled if use_unlabeled else None)
        return float(tf.reduce_mean(trainer.discriminator([unlabeled_tensor, no_labels])[0])) - before

    assert unconditional_gain(True) > unconditional_gain(False)


def test_training_is_deterministic_logs_windows_and_moves_the_ema_generator():
    images, labels = stripe_arrays(48, size=12)

    def run():
        trainer = _trainer(seed=3)
        initial = [w.copy() for w in trainer.ema_generator.get_weights()]
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(16)
        history = gan.train_gan(trainer, iter(dataset), steps=4, log_every_steps=2)
        return trainer, history, initial

    first, history, initial = run()
    second, _, _ = run()
    assert history["step"] == [2, 4] and len(history["generator_loss"]) == 2
    assert all(np.isfinite(history["discriminator_loss"]))
    for left, right in zip(first.ema_generator.get_weights(), second.ema_generator.get_weights()):
        np.testing.assert_allclose(left, right, rtol=1e-5, atol=1e-6)
    averaged = first.ema_generator.get_weights()
    assert any(not np.allclose(before, after) for before, after in zip(initial, averaged))
    trained = first.generator.get_weights()
    assert any(not np.allclose(ema, raw) for ema, raw in zip(averaged, trained))  # An average, not a copy.


def test_conditional_sampling_returns_the_requested_classes_deterministically():
    generator = gan.build_generator(4, (12, 12), 1, latent_dim=8, width=4)
    images, labels = gan.generate_per_class(generator, num_classes=4, per_class=5, latent_dim=8, seed=1)
    assert images.shape == (20, 12, 12, 1)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(4), 5))
    again, _ = gan.generate_per_class(generator, num_classes=4, per_class=5, latent_dim=8, seed=1)
    np.testing.assert_array_equal(images, again)
    requested = np.array([3, 3, 1])
    assert gan.sample_images(generator, requested, latent_dim=8, seed=0).shape == (3, 12, 12, 1)


@pytest.mark.slow
def test_trained_generator_draws_the_conditioned_class():
    """A classifier trained on real stripes recognizes the class each generated image was conditioned on."""
    from components.training import models
    from tests.components.synthesis.tiny_data import stripe_data_spec

    images, labels = stripe_arrays(96, size=12)
    keras.utils.set_random_seed(0)
    trainer = _trainer(seed=0, width=16)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(96, seed=0).repeat().batch(32)
    gan.train_gan(trainer, iter(dataset), steps=800, log_every_steps=200)
    generated, conditioned = gan.generate_per_class(trainer.ema_generator, 3, 20, latent_dim=16, seed=0)

    classifier = models.build_architecture("tiny_cnn", stripe_data_spec(3), (12, 12))
    classifier.compile(optimizer=keras.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy")
    classifier.fit(images, labels, epochs=8, batch_size=16, verbose=0)
    predicted = classifier.predict(generated, verbose=0).argmax(-1)
    assert np.mean(predicted == conditioned) > 0.8
