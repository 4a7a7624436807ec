"""Consistency training from a local pretrained backbone, with Training's fine-tune schedule in the FixMatch loop."""

import numpy as np
import pytest

from components.consistency import consistency, fixmatch
from components.consistency.spec import ConsistencyConfig
from components.training import backbones
from components.training.fine_tuning import FineTuneConfig
from components.types import config_json
from tests.support import tiny_backbone
from tests.support.canonical import artifact_pair

SPLITS = {"train": 24, "eval": 12, "unlabeled": 48}
SIZE = 16


def tiny_config(**overrides):
    values = dict(epochs=2, steps_per_epoch=3, batch_size=8, mu=2, threshold=0.6, learning_rate=0.03,
                  eval_batch_size=8)
    values.update(overrides)
    return ConsistencyConfig(**values)


class EpochStarts:
    """Wraps `consistency.train_epoch`: what the step looks like when each epoch starts."""

    def __init__(self):
        self.rows = []
        self.real = consistency.train_epoch

    def __call__(self, step, batches, num_steps, reporter=None):
        model = step.model
        self.rows.append({
            "backbone_trainable": backbones.find_backbone(model).trainable,
            "trainable_names": sorted(v.path for v in model.trainable_variables),
            "backbone": tiny_backbone.backbone_arrays(model),
            "head": np.array(model.get_layer("probabilities").kernel),
            "iterations": int(step.optimizer.iterations.numpy()),
            "learning_rate": float(step.optimizer.learning_rate),
        })
        return self.real(step, batches, num_steps, reporter)


def test_pretrained_backbone_is_loaded_then_frozen_for_the_warmup_then_unfrozen_slower(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS, size=SIZE)
    module_file = tiny_backbone.write_module_file(tmp_path)
    weights, saved = tiny_backbone.save_pretrained(tmp_path, module_file, data_spec, (SIZE, SIZE))
    config = tiny_config(module_file=module_file, pretrained_weights=weights, seed=3,
                         fine_tune={"warmup_epochs": 1, "unfreeze_learning_rate_factor": 0.1})
    starts = EpochStarts()
    monkeypatch.setattr(consistency, "train_epoch", starts)
    run = consistency.run_consistency_training(examples.uri, data_spec, config, str(tmp_path / "work"))

    first, second = starts.rows
    # Before the first step the backbone holds the file's weights (kernels and BatchNorm statistics).
    assert len(first["backbone"]) == len(saved) == 6
    for loaded, expected in zip(first["backbone"], saved):
        np.testing.assert_array_equal(loaded, expected)
    # Warm-up epoch: only the head trains, at the configured rate.
    assert first["backbone_trainable"] is False
    assert first["trainable_names"] == ["probabilities/bias", "probabilities/kernel"]
    schedule = fixmatch.FixMatchCosine(0.03, total_steps=6)
    assert first["learning_rate"] == pytest.approx(0.03)
    for after_warmup, expected in zip(second["backbone"], saved):
        np.testing.assert_array_equal(after_warmup, expected)
    assert not np.allclose(second["head"], first["head"])
    # Epoch 2: the backbone trains (BatchNorm statistics stay frozen) at a tenth of FixMatch's cosine.
    assert second["backbone_trainable"] is True
    assert {"conv/kernel", "conv/bias"} <= set(second["trainable_names"])
    assert not {"norm/moving_mean", "norm/gamma"} & set(second["trainable_names"])
    assert second["iterations"] == 3
    assert second["learning_rate"] == pytest.approx(0.1 * float(schedule(3)), rel=1e-5)

    assert run.unfrozen_at_epoch == 1
    assert [record["backbone_frozen"] for record in run.history] == [True, False]
    # The exported (EMA) backbone moved away from the file in epoch 2, but its BatchNorm statistics did not.
    exported = tiny_backbone.backbone_arrays(run.model)
    assert not np.allclose(exported[0], saved[0])  # conv kernel
    np.testing.assert_allclose(exported[4], saved[4], rtol=1e-6)  # moving mean
    np.testing.assert_allclose(exported[5], saved[5], rtol=1e-6)  # moving variance


def test_a_run_resumed_after_the_warmup_trains_the_backbone_at_the_lower_rate(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, SPLITS, size=SIZE)
    module_file = tiny_backbone.write_module_file(tmp_path)
    config = tiny_config(module_file=module_file, epochs=3, steps_per_epoch=2, fine_tune={"warmup_epochs": 1})
    work_dir = str(tmp_path / "work")
    starts = EpochStarts()

    def killed_in_third_epoch(step, batches, num_steps, reporter=None):
        if len(starts.rows) == 2:
            raise KeyboardInterrupt("killed")
        return starts(step, batches, num_steps, reporter)

    monkeypatch.setattr(consistency, "train_epoch", killed_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        consistency.run_consistency_training(examples.uri, data_spec, config, work_dir)
    starts.rows.clear()
    monkeypatch.setattr(consistency, "train_epoch", starts)
    run = consistency.run_consistency_training(examples.uri, data_spec, config, work_dir)
    (third,) = starts.rows
    assert run.resumed_epochs == 2 and run.unfrozen_at_epoch == 2
    assert third["backbone_trainable"] is True and third["iterations"] == 4
    assert third["learning_rate"] == pytest.approx(0.1 * float(fixmatch.FixMatchCosine(0.03, 6)(4)), rel=1e-5)
    assert [record["backbone_frozen"] for record in run.history] == [True, False, False]


def _never_trains(*args, **kwargs):
    raise AssertionError("training started")


def test_a_missing_weights_file_fails_before_training(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 6, "eval": 3}, size=SIZE)
    config = tiny_config(module_file=tiny_backbone.write_module_file(tmp_path),
                         pretrained_weights=str(tmp_path / "missing.weights.h5"))
    monkeypatch.setattr(consistency, "train_epoch", _never_trains)
    monkeypatch.setattr(consistency, "Pools", _never_trains)  # Not even the data is read.
    with pytest.raises(FileNotFoundError, match=r"pretrained_weights '.*missing\.weights\.h5' does not exist") as error:
        consistency.run_consistency_training(examples.uri, data_spec, config, str(tmp_path / "work"))
    assert "\n" not in str(error.value)


def test_weights_of_another_architecture_fail_before_training(tmp_path, monkeypatch):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 6, "eval": 3}, size=SIZE)
    other = tiny_backbone.write_module_file(tmp_path, filters=4)
    weights, _ = tiny_backbone.save_pretrained(tmp_path, other, data_spec, (SIZE, SIZE), name="other.weights.h5")
    config = tiny_config(module_file=tiny_backbone.write_module_file(tmp_path, filters=8), pretrained_weights=weights)
    monkeypatch.setattr(consistency, "train_epoch", _never_trains)
    monkeypatch.setattr(consistency, "Pools", _never_trains)
    with pytest.raises(ValueError, match=r"pretrained_weights '.*other\.weights\.h5' do not fit backbone"):
        consistency.run_consistency_training(examples.uri, data_spec, config, str(tmp_path / "work"))


@pytest.mark.parametrize("overrides, message", [
    ({"architecture": "tiny_cnn", "pretrained_weights": "/w/x.weights.h5"}, "pretrained_weights needs a backbone"),
    ({"architecture": "tiny_cnn", "fine_tune": {"warmup_epochs": 1}}, "fine_tune needs a backbone"),
    ({"architecture": "mobilenet_v3_small", "pretrained_weights": "/w/x.pt"}, "pretrained_weights '/w/x.pt'"),
    ({"architecture": "mobilenet_v3_small", "fine_tune": {"warmup_epochs": 0}}, "warmup_epochs must be >= 1"),
    ({"architecture": "mobilenet_v3_small", "fine_tune": {"warmup": 1}}, "Unknown fine_tune option"),
])
def test_pretrained_options_are_checked_like_trainings(overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        ConsistencyConfig(**overrides)
    assert "\n" not in str(error.value)


def test_fine_tune_round_trips_through_json():
    config = ConsistencyConfig(architecture="mobilenet_v3_small", pretrained_weights="/w/mobilenet.weights.h5",
                               fine_tune={"warmup_epochs": 2, "unfreeze_learning_rate_factor": 0.5})
    assert config.fine_tune == FineTuneConfig(warmup_epochs=2, unfreeze_learning_rate_factor=0.5)
    assert config_json.config_from_json(ConsistencyConfig, config_json.config_to_json(config)) == config
    training = config.training_config()
    assert (training.pretrained_weights, training.fine_tune) == (config.pretrained_weights, config.fine_tune)
