"""A killed contrastive pretraining resumes from its last finished epoch and logs to TensorBoard."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.common import resume
from components.contrastive import backbone, contrastive
from components.contrastive.spec import ContrastiveConfig
from components.training import models
from tests.support import kills
from tests.support.canonical import artifact_pair

IMAGES = 16
BATCH = 8


class _StartState(keras.callbacks.Callback):
    """The optimizer step count and encoder weights when `fit` starts its first epoch (after any restore)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.iterations = None
        self.weights = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.iterations is None:
            self.iterations = int(self.model.optimizer.iterations.numpy())
            self.weights = [np.array(w) for w in self.encoder.get_weights()]


class _EndWeights(keras.callbacks.Callback):
    """Keeps the encoder weights at the end of the last finished epoch (in a class attribute: the run dies)."""

    last_weights = None

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def on_epoch_end(self, epoch, logs=None):
        _EndWeights.last_weights = [np.array(w) for w in self.encoder.get_weights()]


def test_a_killed_pretraining_resumes_with_its_weights_and_optimizer_state(tmp_path):
    method = "simclr"
    _, _, data_spec = artifact_pair(tmp_path, {"train": 4})
    config = ContrastiveConfig(method=method, architecture="tiny_cnn", epochs=3, batch_size=BATCH, verbose=0)
    images = tf.data.Dataset.from_tensor_slices(
        np.random.default_rng(0).uniform(size=(IMAGES, 12, 12, 1)).astype("float32")).batch(BATCH)
    root = str(tmp_path / "root")

    def run(*callbacks_of):
        backbone.reset_layer_names()
        model = models.build_architecture("tiny_cnn", data_spec, (12, 12))
        callbacks = [make(backbone.encoder_of(model)) for make in callbacks_of]
        with resume.execution_scope(kills.scope(root, "Contrastive")) as scope:
            history = contrastive.pretrain(model, images, IMAGES, config, extra_callbacks=callbacks)
        return history, callbacks, scope

    with pytest.raises(KeyboardInterrupt):
        run(_EndWeights, lambda encoder: kills.KillAfterEpochs(1))
    killed_weights = _EndWeights.last_weights

    started = kills.EpochsStarted()
    history, (state, _), scope = run(_StartState, lambda encoder: started)
    assert started.started == [1, 2]  # Epoch 1 was restored, not rerun.
    assert state.iterations == IMAGES // BATCH  # The optimizer (and its schedule) continues where it stopped.
    for saved, restored in zip(killed_weights, state.weights):
        np.testing.assert_array_equal(saved, restored)
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))
    label = f"fit-00-contrastive-{method}"
    assert not os.path.exists(scope.checkpoint_dir(label))
    assert kills.tensorboard_event_files(scope.tensorboard_dir(label))
