"""A small trained classifier as a Model artifact, shared by the calibration tests."""

import pytest
from tfx.types import standard_artifacts

from components.common import model_io
from components.training import training
from components.training.spec import TrainingConfig
from tests.support.canonical import artifact_pair


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """(examples, data_spec artifact, DataSpecContent, Model artifact) on tiny stripe data with a test split."""
    tmp_path = tmp_path_factory.mktemp("calibration_data")
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, {"train": 96, "eval": 60, "test": 60})
    config = TrainingConfig(architecture="tiny_cnn", epochs=4, batch_size=16, learning_rate=0.03, verbose=0)
    model, history, metrics = training.train_classifier(examples.uri, data_spec, config)
    artifact = standard_artifacts.Model()
    artifact.uri = str(tmp_path / "model")
    model_io.save_model_artifact(model, artifact.uri, history=history, metrics=metrics, export=False)
    return examples, data_spec_artifact, data_spec, artifact
