"""A killed GAN training resumes from its last checkpointed window and ends where an unbroken run ends."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.common import progress, resume
from components.synthesis import gan
from tests.components.synthesis.tiny_data import stripe_arrays
from tests.support import kills

STEPS = 6
WINDOW = 2


def _trainer():
    keras.utils.set_random_seed(0)
    generator = gan.build_generator(3, (12, 12), 1, latent_dim=8, width=4)
    discriminator = gan.build_discriminator(3, (12, 12), 1, width=4)
    return gan.GanTrainer(generator, discriminator, num_classes=3, latent_dim=8, beta_1=0.5, seed=0)


def _batches(limit=None):
    """The same batch every step (so a rerun's restarted data matches); KeyboardInterrupt after `limit`."""
    images, labels = stripe_arrays(8, size=12)
    served = 0
    while True:
        if limit is not None and served == limit:
            raise KeyboardInterrupt("killed")
        served += 1
        yield images, labels


def test_a_killed_gan_resumes_after_its_last_window_and_matches_an_unbroken_run(tmp_path):
    unbroken = _trainer()
    expected = gan.train_gan(unbroken, _batches(), STEPS, log_every_steps=WINDOW)

    root = str(tmp_path / "root")
    with resume.execution_scope(kills.scope(root, "GanSynthesis")) as scope:
        with pytest.raises(KeyboardInterrupt):
            gan.train_gan(_trainer(), _batches(limit=5), STEPS, log_every_steps=WINDOW)  # Dies in step 6.
    label = "fit-00-gan"
    checkpoint = scope.checkpoint_dir(label)
    assert tf.train.latest_checkpoint(checkpoint).endswith("-4")  # Windows end at steps 2 and 4.
    assert progress.read_progress_dir(root)["GanSynthesis"]["done"] == 5

    served = []

    def counted():
        for batch in _batches():
            served.append(1)
            yield batch

    resumed_trainer = _trainer()
    with resume.execution_scope(kills.scope(root, "GanSynthesis", execution_id="2")) as scope:
        history = gan.train_gan(resumed_trainer, counted(), STEPS, log_every_steps=WINDOW)
    assert len(served) == 2  # Steps 5 and 6 only.
    assert history["step"] == [2, 4, 6]
    np.testing.assert_allclose(history["generator_loss"], expected["generator_loss"], rtol=1e-5, atol=1e-6)
    for name in ("generator", "discriminator", "ema_generator"):
        for left, right in zip(getattr(unbroken, name).weights, getattr(resumed_trainer, name).weights):
            np.testing.assert_allclose(np.array(left), np.array(right), rtol=1e-5, atol=1e-6, err_msg=name)
    assert not os.path.exists(checkpoint)  # A finished training leaves nothing to resume.
    assert kills.tensorboard_event_files(scope.tensorboard_dir(label))
    assert progress.read_progress_dir(root)["GanSynthesis"]["state"] == progress.FINISHED


def test_a_checkpoint_of_other_networks_is_refused(tmp_path):
    checkpoint = str(tmp_path / "checkpoint")
    gan.GanCheckpoint(_trainer(), checkpoint).save(2, {"step": [2], "discriminator_loss": [1.0],
                                                       "generator_loss": [1.0], "seconds": [0.1]})
    keras.utils.set_random_seed(0)
    wider = gan.GanTrainer(gan.build_generator(3, (12, 12), 1, latent_dim=8, width=8),
                           gan.build_discriminator(3, (12, 12), 1, width=8), num_classes=3, latent_dim=8)
    with pytest.raises(ValueError, match="does not fit these networks"):
        gan.train_gan(wider, _batches(), STEPS, log_every_steps=WINDOW, checkpoint_dir=checkpoint, log_dir="")
