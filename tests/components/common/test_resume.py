"""The resume helper: a checkpoint folder stable for the same work, and trainer.fit picking it up."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import standard_artifacts

from components.common import progress, resume
from components.training import trainer
from components.training.spec import TrainingConfig


def _artifact(artifact_id: int, uri: str = ""):
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.uri = uri
    return artifact


def _context(component_id: str, execution_id: int):
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = component_id
    return base_executor.BaseExecutor.Context(pipeline_node=node, unique_id=str(execution_id))


def _scope(root, execution_id, config_json='{"epochs": 3}', examples_id=7):
    model = standard_artifacts.Model()
    model.uri = os.path.join(root, "Training", "model", str(execution_id))
    return resume.scope_from_context(
        _context("Training", execution_id),
        {"examples": [_artifact(examples_id)]},
        {"model": [model]},
        {"config": config_json},
    )


def test_checkpoint_dir_is_stable_across_executions_and_changes_with_the_work(tmp_path):
    root = str(tmp_path / "pipeline_root")
    killed, rerun = _scope(root, 11), _scope(root, 12)
    assert killed.pipeline_root == root and killed.component_id == "Training"
    assert killed.execution_id == "11" and rerun.execution_id == "12"
    assert killed.checkpoint_dir(killed.next_fit_label("training")) == rerun.checkpoint_dir(rerun.next_fit_label("training"))
    assert killed.checkpoint_dir("fit-00-training").startswith(os.path.join(root, resume.RESUME_DIR_NAME, "Training"))
    assert _scope(root, 12, config_json='{"epochs": 4}').run_key != killed.run_key
    assert _scope(root, 12, examples_id=8).run_key != killed.run_key
    # Several trainings in one execution get their own folders, in call order.
    assert [killed.next_fit_label("trial") for _ in range(2)] == ["fit-01-trial", "fit-02-trial"]


def test_no_scope_outside_a_pipeline_and_scope_ends_with_do(tmp_path):
    assert resume.scope_from_context(None, {}, {}, {}) is None
    assert resume.scope_from_context(base_executor.BaseExecutor.Context(), {}, {}, {}) is None
    seen = []

    class Executor(resume.ExecutionScopedExecutor, base_executor.BaseExecutor):
        def Do(self, input_dict, output_dict, exec_properties):
            seen.append(resume.current_scope())

    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "root" / "Training" / "model" / "5")
    Executor(_context("Training", 5)).Do({}, {"model": [model]}, {})
    assert seen[0].pipeline_root == str(tmp_path / "root") and seen[0].execution_id == "5"
    assert resume.current_scope() is None


class _KillAfter(keras.callbacks.Callback):
    """Stands in for kill -9: stops the process's training after `epochs` finished epochs."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt("killed")


def _data():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(32, 4, 4, 1)).astype("float32")
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype("int32")
    return tf.data.Dataset.from_tensor_slices((images, tf.one_hot(labels, 2))).batch(8)


def _build():
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])


def test_fit_resumes_from_the_last_finished_epoch_and_removes_the_checkpoint(tmp_path):
    config = TrainingConfig(epochs=5, batch_size=8, learning_rate=0.01, verbose=0, seed=3)
    checkpoint = str(tmp_path / "checkpoint")
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(_build, _data(), _data(), config, "classification", 32, checkpoint_dir=checkpoint,
                    log_dir="", extra_callbacks=[_KillAfter(2)])
    with open(os.path.join(checkpoint, "training_metadata.json")) as handle:
        assert json.load(handle)["epoch"] == 2
    saved_history = json.load(open(os.path.join(checkpoint, resume.HISTORY_FILE_NAME)))
    assert len(saved_history["loss"]) == 2

    started = []

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)

    model, history = trainer.fit(_build, _data(), _data(), config, "classification", 32, checkpoint_dir=checkpoint,
                                 log_dir="", extra_callbacks=[FirstEpoch()])
    assert started == [2, 3, 4]  # Epochs 1-2 were restored, not rerun.
    assert len(history["loss"]) == 5 and len(history["val_loss"]) == 5
    assert history["loss"][:2] == saved_history["loss"]
    assert not os.path.exists(checkpoint) and os.path.isdir(tmp_path)  # An explicit folder's parent stays.
    assert model.predict(next(iter(_data()))[0], verbose=0).shape == (8, 2)


def test_fit_inside_a_scope_writes_tensorboard_and_progress(tmp_path):
    root = str(tmp_path / "root")
    scope = _scope(root, 9)
    config = TrainingConfig(epochs=2, batch_size=8, verbose=0)
    with resume.execution_scope(scope):
        trainer.fit(_build, _data(), _data(), config, "classification", 32)
    tensorboard = scope.tensorboard_dir("fit-00-training")
    events = [name for _, _, files in os.walk(tensorboard) for name in files if name.startswith("events.out")]
    assert len(events) >= 2, os.listdir(tensorboard)  # train/ and validation/
    record = progress.read_progress_dir(root)["Training"]
    assert record["state"] == progress.FINISHED and record["done"] == record["total"] == 8
    assert record["unit"] == "step" and record["execution_id"] == "9"
    assert not os.path.exists(scope.checkpoint_dir("fit-00-training"))
    assert not os.path.exists(scope.resume_root)  # Emptied scope folders go too.
    assert os.path.isdir(os.path.dirname(scope.resume_root))


def test_standard_callbacks_resume_a_plain_model_fit(tmp_path):
    """What detection/segmentation/contrastive use around their own `model.fit`."""
    checkpoint = str(tmp_path / "checkpoint")

    def train(extra):
        model = _build()
        model.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy")
        callbacks, resumable = trainer.standard_callbacks(3, "detection training", checkpoint_dir=checkpoint, log_dir="")
        fitted = model.fit(_data(), epochs=3, callbacks=callbacks + extra, verbose=0)
        return trainer.fitted_history(fitted, resumable), resumable

    with pytest.raises(KeyboardInterrupt):
        train([_KillAfter(1)])
    history, resumable = train([])
    assert resumable.resumed_from_epoch == 1 and len(history["loss"]) == 3
    assert not os.path.exists(checkpoint)
