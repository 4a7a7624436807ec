"""A killed detection training (keras-hub RetinaNet) resumes from its last finished epoch and logs to TensorBoard."""

import os

import pytest

from components.common import resume
from components.training import detection
from components.training.spec import TrainingConfig
from tests.support import kills
from tests.support.shapes import write_shape_detection_examples

# Builds and trains a real RetinaNet twice (~1 min on a shared CPU).
pytestmark = pytest.mark.slow


def test_a_killed_detection_training_resumes_past_its_finished_epochs(tmp_path):
    spec = write_shape_detection_examples(str(tmp_path / "ex"), str(tmp_path / "ds"), {"train": 8, "eval": 4},
                                          shape="disc", size=32)
    config = TrainingConfig(epochs=2, batch_size=4, verbose=0, seed=0)
    root = str(tmp_path / "root")

    def train(*callbacks):
        with resume.execution_scope(kills.scope(root, "Training")) as scope:
            trained = detection.train_detector(str(tmp_path / "ex"), spec, config, extra_callbacks=callbacks)
        return trained, scope

    with pytest.raises(KeyboardInterrupt):
        train(kills.KillAfterEpochs(1))
    started = kills.EpochsStarted()
    (_, history, metrics, _), scope = train(started)
    assert started.started == [1]  # Epoch 1 was restored, not rerun.
    assert len(history["loss"]) == 2
    assert "eval_map" in metrics
    label = "fit-00-detection-training"
    assert not os.path.exists(scope.checkpoint_dir(label))
    assert kills.tensorboard_event_files(scope.tensorboard_dir(label))
