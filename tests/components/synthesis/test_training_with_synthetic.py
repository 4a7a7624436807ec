"""The training component's synthetic input: blended train data, ratio validation, provenance kept."""

import numpy as np
import pytest
from tfx.types import channel, standard_artifacts

from components.synthesis import spec as synthesis_spec
from components.synthesis import synthetic_io
from components.training import spec as training_spec
from components.types import config_json
from tests.support.canonical import artifact_pair

def _synthetic(tmp_path, count=30):
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path / "synthetic")
    images = np.random.default_rng(0).uniform(size=(count, 12, 12, 1)).astype(np.float32)
    provenance = {"kind": synthesis_spec.GAN_PROVENANCE, "model": "generator", "confidence": 1.0}
    synthetic_io.write_synthetic_examples(artifact.uri, images, np.arange(count) % 3, [str(i) for i in range(count)],
                                          provenance)
    return artifact


def test_training_executor_blends_synthetic_examples_at_the_ratio(tmp_path):
    from components.common import model_io
    from components.training.executor import Executor

    examples, data_spec, _ = artifact_pair(tmp_path, {"train": 24, "eval": 12})
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    config = training_spec.TrainingConfig(architecture="tiny_cnn", epochs=2, batch_size=8, verbose=0,
                                          synthetic_ratio=0.5)
    inputs = {training_spec.EXAMPLES_KEY: [examples], training_spec.DATA_SPEC_KEY: [data_spec],
              training_spec.SYNTHETIC_EXAMPLES_KEY: [_synthetic(tmp_path)]}
    Executor().Do(inputs, {training_spec.MODEL_KEY: [model]},
                  {training_spec.CONFIG_KEY: config_json.config_to_json(config)})
    assert model.get_float_custom_property("synthetic_ratio") == 0.5
    assert len(model_io.read_json(f"{model.uri}/history.json")["loss"]) == 2


def test_training_needs_synthetic_examples_for_a_positive_ratio(tmp_path):
    from components.training import training
    from components.training.component import Training

    examples, _, content = artifact_pair(tmp_path, {"train": 6, "eval": 3})
    config = training_spec.TrainingConfig(architecture="tiny_cnn", epochs=1, synthetic_ratio=1.0)
    with pytest.raises(ValueError, match="no synthetic examples"):
        training.train_classifier(examples.uri, content, config)
    with pytest.raises(ValueError, match="synthetic_ratio must be >= 0"):
        training_spec.TrainingConfig(synthetic_ratio=-1.0)
    gan_out = channel.Channel(type=standard_artifacts.Examples)
    style_out = channel.Channel(type=standard_artifacts.Examples)
    real = channel.Channel(type=standard_artifacts.Examples)
    from components.types.artifacts import DataSpec

    data_spec = channel.Channel(type=DataSpec)
    component = Training(examples=real, data_spec=data_spec, config=config, synthetic_examples=[gan_out, style_out])
    assert isinstance(component.inputs[training_spec.SYNTHETIC_EXAMPLES_KEY], channel.UnionChannel)
    with pytest.raises(ValueError, match="needs a synthetic_examples input"):
        Training(examples=real, data_spec=data_spec, config=config)
