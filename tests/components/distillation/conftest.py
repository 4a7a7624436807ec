"""A trained teacher Model artifact on tiny stripe data with an unlabeled split, shared by the distillation tests."""

import pytest
from tfx.types import standard_artifacts

from components.common import model_io
from components.training import training
from components.training.spec import TrainingConfig
from tests.support.canonical import artifact_pair


@pytest.fixture(scope="session")
def teacher(tmp_path_factory):
    """(examples, data_spec artifact, DataSpecContent, teacher Model artifact, teacher eval accuracy)."""
    tmp_path = tmp_path_factory.mktemp("distillation_data")
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, {"train": 96, "eval": 48, "unlabeled": 96})
    config = TrainingConfig(architecture="small_cnn", epochs=5, batch_size=16, learning_rate=0.01, verbose=0)
    model, history, metrics = training.train_classifier(examples.uri, data_spec, config)
    artifact = standard_artifacts.Model()
    artifact.uri = str(tmp_path / "teacher")
    model_io.save_model_artifact(model, artifact.uri, history=history, metrics=metrics, export=False)
    return examples, data_spec_artifact, data_spec, artifact, metrics["eval_accuracy"]
