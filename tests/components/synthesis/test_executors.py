"""The three executors on tiny canonical data: outputs, provenance, train-only splits, report files."""

import json
import os

import numpy as np
import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.synthesis import executor, spec, synthetic_io
from components.synthesis.spec import BlendSearchConfig, GanConfig, StyleTransferConfig
from components.common import model_io
from components.training import models
from components.types import artifacts, config_json, features
from tests.support.canonical import artifact_pair

SPLITS = {"train": 24, "eval": 12, "unlabeled": 12}


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return artifact_pair(tmp_path_factory.mktemp("real"), SPLITS)


def _outputs(tmp_path, **types_by_key):
    outputs = {}
    for key, artifact_type in types_by_key.items():
        artifact = artifact_type()
        artifact.uri = str(tmp_path / key)
        outputs[key] = [artifact]
    return outputs


def _inputs(real, **extra):
    examples, data_spec, _ = real
    return dict({spec.EXAMPLES_KEY: [examples], spec.DATA_SPEC_KEY: [data_spec]}, **extra)


def _single(outputs, key):
    return outputs[key][0]


@pytest.fixture(scope="module")
def gan_run(real, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("gan")
    classifier = standard_artifacts.Model()
    classifier.uri = str(tmp_path / "classifier")
    model_io.save_model_artifact(models.build_architecture("tiny_cnn", real[2], (12, 12)), classifier.uri, export=False)
    outputs = _outputs(
        tmp_path, generator=standard_artifacts.Model, synthetic_examples=standard_artifacts.Examples,
        report=artifacts.Report,
    )
    config = GanConfig(latent_dim=8, width=4, steps=3, batch_size=8, images_per_class=5, log_every_steps=1)
    inputs = _inputs(real, classifier_model=[classifier])
    executor.GanExecutor().Do(inputs, outputs, {spec.CONFIG_KEY: config_json.config_to_json(config)})
    return outputs


def test_gan_writes_generator_synthetic_train_split_and_report(gan_run, real):
    generator = _single(gan_run, spec.GENERATOR_KEY)
    synthetic = _single(gan_run, spec.SYNTHETIC_EXAMPLES_KEY)
    report = _single(gan_run, spec.REPORT_KEY)
    loaded = model_io.load_model(generator.uri)
    assert loaded([np.zeros((2, 8), np.float32), np.array([0, 2], np.int32)]).shape == (2, 12, 12, 1)
    assert artifact_utils.decode_split_names(synthetic.split_names) == [features.TRAIN_SPLIT]
    assert sorted(os.listdir(synthetic.uri)) == ["Split-train"]
    rows = synthetic_io.read_provenance(synthetic.uri)
    assert len(rows) == 15 and sorted(row["label"] for row in rows) == [0] * 5 + [1] * 5 + [2] * 5
    assert {row["kind"] for row in rows} == {spec.GAN_PROVENANCE}
    assert {row["model"] for row in rows} == {generator.uri} and {row["confidence"] for row in rows} == {1.0}
    images, labels = synthetic_io.read_split_arrays(synthetic.uri, features.TRAIN_SPLIT, real[2], (12, 12))
    assert images.shape == (15, 12, 12, 1)
    summary = json.load(open(os.path.join(report.uri, executor.SUMMARY_FILE_NAME)))
    assert summary["feature_space"] == "classifier_penultimate" and summary["used_unlabeled"] is True
    assert summary["frechet_distance"] >= 0 and "frechet_distance_real_reference" in summary
    assert os.path.getsize(os.path.join(report.uri, executor.SAMPLE_GRID_FILE_NAME)) > 100
    assert generator.get_float_custom_property(spec.FRECHET_DISTANCE_PROPERTY) == summary["frechet_distance"]
    assert synthetic.get_int_custom_property(spec.SYNTHETIC_COUNT_PROPERTY) == 15


def test_real_examples_have_no_synthetic_records_in_their_evaluation_splits(gan_run, real):
    for split in (features.EVAL_SPLIT, features.TRAIN_SPLIT):
        assert {row["kind"] for row in synthetic_io.read_provenance(real[0].uri, split)} == {""}


@pytest.fixture(scope="module")
def style_run(real, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("style")
    outputs = _outputs(tmp_path, synthetic_examples=standard_artifacts.Examples, report=artifacts.Report)
    config = StyleTransferConfig(steps=5, max_images=8, renders_per_image=2, batch_size=8)
    executor.StyleTransferExecutor().Do(_inputs(real), outputs, {spec.CONFIG_KEY: config_json.config_to_json(config)})
    return outputs


def test_style_transfer_keeps_size_and_label_and_marks_provenance(style_run, real):
    synthetic = _single(style_run, spec.SYNTHETIC_EXAMPLES_KEY)
    assert artifact_utils.decode_split_names(synthetic.split_names) == [features.TRAIN_SPLIT]
    images, labels, ids = synthetic_io.read_split_arrays(
        synthetic.uri, features.TRAIN_SPLIT, real[2], (12, 12), with_source_ids=True
    )
    originals, original_labels, original_ids = synthetic_io.read_split_arrays(
        real[0].uri, features.TRAIN_SPLIT, real[2], (12, 12), limit=8, with_source_ids=True
    )
    assert images.shape == (16, 12, 12, 1)
    by_source = dict(zip(original_ids, original_labels))
    for label, source_id in zip(labels, ids):
        original, style = source_id.split("#style=")
        assert by_source[original] == label and style.endswith((".jpg", ".png"))
    assert len({source_id.split("#style=")[1] for source_id in ids[::2]} | {ids[1].split("#style=")[1]}) >= 2
    rows = synthetic_io.read_provenance(synthetic.uri)
    assert {row["kind"] for row in rows} == {spec.STYLE_PROVENANCE}
    report = _single(style_run, spec.REPORT_KEY)
    summary = json.load(open(os.path.join(report.uri, executor.SUMMARY_FILE_NAME)))
    assert summary["num_synthetic"] == 16 and summary["seconds"] > 0
    assert any(path.endswith("china.jpg") for path in summary["styles"])
    assert os.path.getsize(os.path.join(report.uri, executor.BEFORE_AFTER_FILE_NAME)) > 100


def test_blend_search_writes_model_curve_and_chosen_ratio(real, gan_run, style_run, tmp_path):
    outputs = _outputs(tmp_path, model=standard_artifacts.Model, report=artifacts.Report)
    config = BlendSearchConfig(
        ratios=(0.0, 0.5), training={"architecture": "tiny_cnn", "epochs": 2, "batch_size": 8, "verbose": 0}
    )
    generated = [_single(run, spec.SYNTHETIC_EXAMPLES_KEY) for run in (gan_run, style_run)]
    inputs = _inputs(real, synthetic_examples=generated)
    executor.BlendSearchExecutor().Do(inputs, outputs, {spec.CONFIG_KEY: config_json.config_to_json(config)})
    model, report = _single(outputs, spec.MODEL_KEY), _single(outputs, spec.REPORT_KEY)
    curve = json.load(open(os.path.join(report.uri, executor.CURVE_JSON_FILE_NAME)))
    assert [point["ratio"] for point in curve["curve"]] == [0.0, 0.5]
    assert [point["examples_per_epoch"] for point in curve["curve"]] == [24, 36]
    assert curve["chosen_ratio"] in (0.0, 0.5) and curve["selection_split"] == features.EVAL_SPLIT
    assert len(curve["synthetic_examples"]) == 2
    assert model.get_float_custom_property(spec.SYNTHETIC_RATIO_PROPERTY) == curve["chosen_ratio"]
    assert report.get_float_custom_property(spec.SYNTHETIC_RATIO_PROPERTY) == curve["chosen_ratio"]
    assert os.path.exists(os.path.join(model.uri, model_io.KERAS_FILE_NAME))
    assert os.path.getsize(os.path.join(report.uri, executor.CURVE_PNG_FILE_NAME)) > 1000


def test_blend_search_refuses_real_examples_given_as_synthetic(real, tmp_path):
    outputs = _outputs(tmp_path, model=standard_artifacts.Model, report=artifacts.Report)
    config = BlendSearchConfig(ratios=(0.0,), training={"architecture": "tiny_cnn", "epochs": 1})
    with pytest.raises(ValueError, match="also given as synthetic"):
        executor.BlendSearchExecutor().Do(
            _inputs(real, synthetic_examples=[real[0]]), outputs, {spec.CONFIG_KEY: config_json.config_to_json(config)}
        )


def test_synthesis_rejects_non_classification_data(real, tmp_path):
    examples, data_spec, content = real
    other = artifacts.DataSpec()
    other.uri = str(tmp_path / "spec")
    content.task = features.TASK_MULTILABEL
    from components.types.data_spec import write_data_spec

    write_data_spec(content, other.uri)
    content.task = features.TASK_CLASSIFICATION
    outputs = _outputs(tmp_path, synthetic_examples=standard_artifacts.Examples, report=artifacts.Report)
    with pytest.raises(ValueError, match="single-label classification"):
        executor.StyleTransferExecutor().Do(
            {spec.EXAMPLES_KEY: [examples], spec.DATA_SPEC_KEY: [other]}, outputs,
            {spec.CONFIG_KEY: config_json.config_to_json(StyleTransferConfig(steps=1))},
        )


def test_written_synthetic_examples_round_trip_and_refuse_real_provenance(tmp_path, real):
    images = np.random.default_rng(0).uniform(size=(4, 12, 12, 1)).astype(np.float32)
    provenance = {"kind": spec.GAN_PROVENANCE, "model": "m", "confidence": 1.0}
    synthetic_io.write_synthetic_examples(str(tmp_path / "s"), images, [0, 1, 2, 0], ["a", "b", "c", "d"], provenance)
    loaded, labels = synthetic_io.read_split_arrays(str(tmp_path / "s"), features.TRAIN_SPLIT, real[2], (12, 12))
    np.testing.assert_allclose(loaded, np.round(images * 255) / 255, atol=1e-6)
    assert list(labels) == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="provenance kind starting with 'synthetic'"):
        synthetic_io.write_synthetic_examples(str(tmp_path / "t"), images, [0] * 4, list("abcd"), {"kind": "real"})
    with pytest.raises(ValueError, match="differ"):
        synthetic_io.write_synthetic_examples(str(tmp_path / "u"), images, [0], list("abcd"), provenance)


def test_gan_names_the_examples_when_the_train_split_is_empty(tmp_path):
    empty = artifact_pair(tmp_path, {"train": 0, "eval": 3})
    outputs = _outputs(tmp_path, generator=standard_artifacts.Model, synthetic_examples=standard_artifacts.Examples,
                       report=artifacts.Report)
    with pytest.raises(ValueError, match="no labeled 'train' records"):
        executor.GanExecutor().Do(_inputs(empty), outputs, {spec.CONFIG_KEY: config_json.config_to_json(GanConfig())})


def test_training_takes_the_synthetic_ratio_from_the_blend_search_report(real, gan_run, tmp_path, monkeypatch):
    from components.common import synthetic_blend as blend
    from components.training import executor as training_executor
    from components.training.spec import TrainingConfig

    ratios = []
    original = blend.train_dataset_with_synthetic

    def spy(*args, **kwargs):
        ratios.append(args[5])  # (examples_uri, synthetic_uris, data_spec, batch_size, image_size, ratio, ...)
        return original(*args, **kwargs)

    monkeypatch.setattr(blend, "train_dataset_with_synthetic", spy)

    report = artifacts.Report()
    report.uri = str(tmp_path / "blend_report")
    report.set_float_custom_property(spec.SYNTHETIC_RATIO_PROPERTY, 0.5)
    config = TrainingConfig(architecture="tiny_cnn", epochs=1, batch_size=8, verbose=0, synthetic_ratio=0.0)
    inputs = _inputs(real, synthetic_examples=[_single(gan_run, spec.SYNTHETIC_EXAMPLES_KEY)], blend_report=[report])
    outputs = _outputs(tmp_path, model=standard_artifacts.Model)
    training_executor.Executor().Do(inputs, outputs, {"config": config_json.config_to_json(config)})
    model = _single(outputs, "model")
    assert model.get_float_custom_property(spec.SYNTHETIC_RATIO_PROPERTY) == 0.5
    assert model.get_string_custom_property("synthetic_ratio_source") == "blend_search"
    assert ratios == [0.5]  # the blend the model trained on, not the config's 0
    history = json.load(open(os.path.join(model.uri, "history.json")))
    assert len(history["loss"]) == 1

    not_blend = artifacts.Report()
    not_blend.uri = str(tmp_path / "other_report")
    with pytest.raises(ValueError, match="other_report has no 'synthetic_ratio' property"):
        training_executor.Executor().Do(
            dict(inputs, blend_report=[not_blend]), _outputs(tmp_path / "again", model=standard_artifacts.Model),
            {"config": config_json.config_to_json(config)},
        )
