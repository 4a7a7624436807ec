"""Contrastive pretraining that starts from a local pretrained backbone (`pretrained_weights`)."""

import numpy as np
import pytest

from components.contrastive import contrastive
from components.contrastive.spec import ContrastiveConfig
from components.types import config_json
from tests.support import tiny_backbone
from tests.support.canonical import artifact_pair

SIZE = 12


def _config(**overrides):
    values = dict(epochs=1, batch_size=8, verbose=0)
    values.update(overrides)
    return ContrastiveConfig(**values)


def test_the_encoder_starts_from_the_file_then_pretraining_moves_it(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 16, "eval": 8, "unlabeled": 16}, size=SIZE)
    module_file = tiny_backbone.write_module_file(tmp_path)
    weights, saved = tiny_backbone.save_pretrained(tmp_path, module_file, data_spec, (SIZE, SIZE))
    real_pretrain = contrastive.pretrain
    at_start = []

    def recording_pretrain(model, *args, **kwargs):
        at_start.append(tiny_backbone.backbone_arrays(model))
        return real_pretrain(model, *args, **kwargs)

    monkeypatch.setattr(contrastive, "pretrain", recording_pretrain)
    model, history, _ = contrastive.pretrain_backbone(
        examples.uri, data_spec, _config(module_file=module_file, pretrained_weights=weights))
    # Before the first contrastive step the encoder's backbone is the file's, BatchNorm statistics included.
    assert len(at_start[0]) == len(saved) == 6
    for loaded, expected in zip(at_start[0], saved):
        np.testing.assert_array_equal(loaded, expected)
    # Pretraining continued from there.
    assert np.all(np.isfinite(history["loss"]))
    assert not np.allclose(tiny_backbone.backbone_arrays(model)[0], saved[0])

    # Without the option the same config starts elsewhere (the comparison above is not vacuous).
    at_start.clear()
    contrastive.pretrain_backbone(examples.uri, data_spec, _config(module_file=module_file))
    assert not np.allclose(at_start[0][0], saved[0])


def _never_reads_data(*args, **kwargs):
    raise AssertionError("the pretraining data was read")


def test_a_missing_file_fails_before_any_data_is_read(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 8, "eval": 4}, size=SIZE)
    config = _config(module_file=tiny_backbone.write_module_file(tmp_path),
                     pretrained_weights=str(tmp_path / "missing.weights.h5"))
    monkeypatch.setattr(contrastive, "unlabeled_images", _never_reads_data)
    with pytest.raises(FileNotFoundError, match=r"pretrained_weights '.*missing\.weights\.h5' does not exist") as error:
        contrastive.pretrain_backbone(examples.uri, data_spec, config)
    assert "\n" not in str(error.value)


def test_weights_of_another_architecture_fail_before_any_data_is_read(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 8, "eval": 4}, size=SIZE)
    other = tiny_backbone.write_module_file(tmp_path, filters=4)
    weights, _ = tiny_backbone.save_pretrained(tmp_path, other, data_spec, (SIZE, SIZE), name="other.weights.h5")
    config = _config(module_file=tiny_backbone.write_module_file(tmp_path, filters=8), pretrained_weights=weights)
    monkeypatch.setattr(contrastive, "unlabeled_images", _never_reads_data)
    with pytest.raises(ValueError, match=r"pretrained_weights '.*other\.weights\.h5' do not fit backbone"):
        contrastive.pretrain_backbone(examples.uri, data_spec, config)


@pytest.mark.parametrize("overrides, message", [
    ({"architecture": "small_cnn", "pretrained_weights": "/w/x.weights.h5"}, "pretrained_weights needs a backbone"),
    ({"architecture": "resnet50", "pretrained_weights": "/w/resnet.pt"}, "pretrained_weights '/w/resnet.pt'"),
])
def test_pretrained_weights_are_checked_like_trainings(overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        ContrastiveConfig(**overrides)
    assert "\n" not in str(error.value)


def test_pretrained_weights_round_trip_through_json():
    config = ContrastiveConfig(architecture="mobilenet_v3_small", pretrained_weights="/w/mobilenet.weights.h5")
    assert config_json.config_from_json(ContrastiveConfig, config_json.config_to_json(config)) == config
    assert config.training_config().pretrained_weights == "/w/mobilenet.weights.h5"
