"""A killed DANN alignment resumes from its last finished epoch (classifier, domain head, optimizer) and logs."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.common import resume
from components.domain_adaptation import domain_adaptation
from components.domain_adaptation.spec import DomainAdaptationConfig
from components.training import models
from tests.support import kills
from tests.support.canonical import artifact_pair

COUNT = 16
BATCH = 8


class _TrainedState(keras.callbacks.Callback):
    """Optimizer step count and every trained variable (classifier + domain head) at the first epoch's
    start (after any restore) and at the last finished epoch's end; class attributes outlive a killed run."""

    at_end = None

    def __init__(self):
        super().__init__()
        self.iterations = None
        self.at_start = None

    def _values(self):
        return [np.array(variable) for variable in self.model.trained_variables]

    def on_epoch_begin(self, epoch, logs=None):
        if self.at_start is None:
            self.iterations = int(self.model.optimizer.iterations.numpy())
            self.at_start = self._values()

    def on_epoch_end(self, epoch, logs=None):
        _TrainedState.at_end = self._values()


def _domains(num_classes):
    rng = np.random.default_rng(0)
    labels = np.arange(COUNT) % num_classes
    labeled = tf.data.Dataset.from_tensor_slices(
        (rng.uniform(size=(COUNT, 12, 12, 1)).astype("float32"), tf.one_hot(labels, num_classes)))
    target = tf.data.Dataset.from_tensor_slices(rng.uniform(0.3, 1.0, size=(COUNT, 12, 12, 1)).astype("float32"))
    return domain_adaptation.Domains(labeled, COUNT, target, COUNT, None, None)


def test_a_killed_dann_alignment_resumes_with_its_domain_head_and_optimizer(tmp_path):
    _, _, data_spec = artifact_pair(tmp_path, {"train": 3})
    keras.utils.set_random_seed(0)
    source = models.build_architecture("small_cnn", data_spec, (12, 12))
    domains = _domains(data_spec.num_classes)
    config = DomainAdaptationConfig(methods=("dann",), default_method="dann", epochs=3, batch_size=BATCH,
                                    adabn_after_alignment=False, verbose=0)
    root = str(tmp_path / "root")

    def run(*callbacks):
        with resume.execution_scope(kills.scope(root, "DomainAdaptation")) as scope:
            adapted = domain_adaptation.align(source, "dann", domains, config, extra_callbacks=callbacks)
        return adapted, scope

    with pytest.raises(KeyboardInterrupt):
        run(_TrainedState(), kills.KillAfterEpochs(1))
    killed = _TrainedState.at_end

    state, started = _TrainedState(), kills.EpochsStarted()
    adapted, scope = run(state, started)
    assert started.started == [1, 2]  # Epoch 1 was restored, not rerun.
    assert state.iterations == COUNT // BATCH  # The DANN ramp (optimizer steps) continues where it stopped.
    assert len(state.at_start) == len(killed) > len(source.trainable_variables)  # The domain head came back too.
    for saved, restored in zip(killed, state.at_start):
        np.testing.assert_array_equal(saved, restored)
    assert adapted.predict(np.zeros((2, 12, 12, 1), "float32"), verbose=0).shape == (2, data_spec.num_classes)
    assert not os.path.exists(scope.checkpoint_dir("fit-00-dann"))
    assert kills.tensorboard_event_files(scope.tensorboard_dir("fit-00-dann"))
