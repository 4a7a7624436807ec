"""Configuration errors fail fast with clear messages; the component builds from a config."""

import json
import os

import pytest

from components.data_translation import translation
from components.data_translation.component import DataTranslation
from components.data_translation.spec import CONFIG_KEY, DATA_SPEC_KEY, EXAMPLES_KEY, TranslationConfig
from tests.fixtures import bad_inputs


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.png").write_bytes(bad_inputs.image_bytes())
    return str(tmp_path)


def test_component_docstring_example_builds_with_config_or_keywords(folder):
    config = TranslationConfig(format="image_folder", path=folder, eval_fraction=0.2)
    translation_component = DataTranslation(config=config)
    assert set(translation_component.outputs) == {EXAMPLES_KEY, DATA_SPEC_KEY}
    assert translation_component.outputs["examples"].type_name == "Examples"
    assert translation_component.outputs["data_spec"].type_name == "tfx_autofit.DataSpec"
    stored = TranslationConfig.from_json(translation_component.exec_properties[CONFIG_KEY])
    assert stored == TranslationConfig(format="image_folder", path=folder, eval_fraction=0.2)
    by_keywords = DataTranslation(format="csv", path=folder + "/cat/a.png", class_list=["x", "y"])
    assert json.loads(by_keywords.exec_properties[CONFIG_KEY])["class_list"] == ["x", "y"]
    assert TranslationConfig.from_json(by_keywords.exec_properties[CONFIG_KEY]).class_list == ("x", "y")


@pytest.mark.parametrize(
    "fields, error, message",
    [
        ({"format": "parquet"}, ValueError, "Unknown data format 'parquet'"),
        ({"task": "captioning"}, ValueError, "Unknown task 'captioning'"),
        ({"task": "detection"}, ValueError, "does not support task 'detection'"),
        ({"path": ""}, ValueError, "path is empty"),
        ({"path": "/no/such/dir"}, FileNotFoundError, "/no/such/dir does not exist"),
        ({"eval_fraction": 1.5}, ValueError, "eval_fraction must be in"),
        ({"eval_fraction": 0.6, "test_fraction": 0.5}, ValueError, "must be < 1"),
        ({"channels": 2}, ValueError, "channels must be one of"),
        ({"class_list": ["a", "a"]}, ValueError, "duplicate names"),
        ({"class_list": "/no/classes.txt"}, FileNotFoundError, "class_list: /no/classes.txt"),
        ({"colour": "red"}, ValueError, "Unknown TranslationConfig option\\(s\\) \\['colour'\\]"),
    ],
)
def test_bad_configs_fail_at_component_construction(folder, fields, error, message):
    arguments = {"format": "image_folder", "path": folder, **fields}
    with pytest.raises(error, match=message):
        DataTranslation(**arguments)


def test_coco_needs_annotations_and_both_config_forms_are_exclusive(folder):
    with pytest.raises(ValueError, match="needs annotations"):
        DataTranslation(format="coco", path=folder, task="detection")
    with pytest.raises(ValueError, match="either config or its fields"):
        DataTranslation(config=TranslationConfig(format="image_folder", path=folder), eval_fraction=0.3)


def test_remote_paths_are_left_to_the_executor():
    config = TranslationConfig(format="tfod", path="gs://bucket/train-*.tfrecord", task="detection")
    config.validate(check_paths=False)  # Checked when the executor starts, where the bucket is reachable.


COCO_FIELDS = {"format": "coco", "annotations": "a.json", "task": "detection"}


@pytest.mark.parametrize(
    "layout, fields, message",
    [
        ({}, {"format": "image_folder"}, "no class folders"),
        ({"cat/": None}, {"format": "image_folder"}, "no images"),
        ({"classes.txt": "a\n", "images/": None}, {"format": "yolo", "task": "detection"}, "has no images"),
        ({"images/x.png": "png"}, {"format": "yolo", "task": "detection"}, "needs class names"),
        ({"JPEGImages/": None}, {"format": "voc", "task": "detection"}, "no Annotations/"),
        ({"x.txt": ""}, {"format": "csv", "path": "x.txt"}, "has no rows"),
        ({"a.json": "{oops"}, COCO_FIELDS, "not valid JSON"),
        ({"a.json": '{"images": [], "categories": [{"id": 1, "name": "x"}]}'}, COCO_FIELDS, "list no images"),
        ({"a.json": '{"categories": []}'}, COCO_FIELDS, "no 'images' list"),
        ({"d/": None}, {"format": "tfod", "path": "d", "task": "detection"}, "No TFRecord files"),
    ],
)
def test_source_errors_fail_before_the_pipeline_runs(tmp_path, layout, fields, message):
    for name, content in layout.items():
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    fields = dict(fields)
    for key in ("path", "annotations"):
        if key in fields:
            fields[key] = str(tmp_path / fields[key])
    fields.setdefault("path", str(tmp_path))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        translation.translate(TranslationConfig(**fields), str(tmp_path / "ex"), str(tmp_path / "ds"))
    assert not os.path.exists(tmp_path / "ex")


def test_all_records_rejected_fails_after_writing_the_report(tmp_path):
    (tmp_path / "src" / "cat").mkdir(parents=True)
    (tmp_path / "src" / "cat" / "a.png").write_bytes(b"broken")
    config = TranslationConfig(format="image_folder", path=str(tmp_path / "src"))
    with pytest.raises(ValueError, match="No records written .* 1 read, all rejected; see .*rejected_records.jsonl"):
        translation.translate(config, str(tmp_path / "ex"), str(tmp_path / "ds"))
    assert "corrupt or truncated image" in (tmp_path / "ds" / "rejected_records.jsonl").read_text()
