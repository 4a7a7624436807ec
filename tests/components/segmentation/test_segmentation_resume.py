"""A killed segmentation training resumes from its last finished epoch and logs to TensorBoard."""

import os

import keras
import pytest

from components.common import resume
from components.training import segmentation
from components.training.spec import TrainingConfig
from tests.components.segmentation.scenes import write_segmentation_examples
from tests.support import kills


def _tiny_segmenter(num_classes, shape):
    """Two convolutions: enough to train, fast on a shared CPU."""
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(num_classes, 1, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="tiny_segmenter")


def test_a_killed_segmentation_training_resumes_past_its_finished_epochs(tmp_path):
    spec = write_segmentation_examples(str(tmp_path / "ex"), str(tmp_path / "ds"), {"train": 8, "eval": 4}, size=16)
    config = TrainingConfig(epochs=3, batch_size=4, learning_rate=3e-3, verbose=0, seed=1)
    root = str(tmp_path / "root")

    def train(*callbacks):
        with resume.execution_scope(kills.scope(root, "Training")) as scope:
            trained = segmentation.train_segmenter(str(tmp_path / "ex"), spec, config, build_model=_tiny_segmenter,
                                                   extra_callbacks=callbacks)
        return trained, scope

    with pytest.raises(KeyboardInterrupt):
        train(kills.KillAfterEpochs(1))
    checkpoint = kills.scope(root, "Training").checkpoint_dir("fit-00-segmentation-training")
    assert os.path.exists(os.path.join(checkpoint, "training_metadata.json"))

    started = kills.EpochsStarted()
    (_, history, metrics, _), scope = train(started)
    assert started.started == [1, 2]  # Epoch 1 was restored, not rerun.
    assert len(history["loss"]) == 3 and len(history["pixel_accuracy"]) == 3
    assert 0.0 <= metrics["eval_pixel_accuracy"] <= 1.0
    assert not os.path.exists(checkpoint)  # A finished training leaves nothing to resume.
    events = kills.tensorboard_event_files(scope.tensorboard_dir("fit-00-segmentation-training"))
    assert events, "no TensorBoard event files under the execution scope"
