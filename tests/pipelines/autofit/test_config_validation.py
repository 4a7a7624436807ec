"""Config mistakes are one-line errors naming the key, found before TFX is imported."""


import pytest

from pipelines import config_schema
from pipelines.config import ConfigError, config_from_dict, load_config
from tests.support.cli_probe import run_config_in_fresh_process

DATA = {"format": "image_folder", "path": "/data/images"}


def error_of(raw):
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"data": DATA, "training": {"epochs": "ten"}}, "`training.epochs` must be an integer, got 'ten' (str)"),
        ({"data": DATA, "training": {"epochs": 1.5}}, "`training.epochs` must be an integer, got 1.5"),
        ({"data": DATA, "training": {"learning_rate": "fast"}}, "`training.learning_rate` must be a number"),
        ({"data": "some/path"}, "`data` must be a mapping with format, path and task; got 'some/path'"),
        ({"data": DATA, "calibraton": {}}, "`calibraton` is not a config section or key. Did you mean `calibration`?"),
        ({"data": DATA, "noisy_student": {"iteratons": 2}}, "`noisy_student.iteratons` is not an option of "
                                                             "`noisy_student`. Did you mean `iterations`?"),
        ({"data": DATA, "budget": "huge"}, "`budget` must be one of quick, standard, thorough or a number"),
        ({"data": DATA, "budget": -3}, "`budget` in minutes must be > 0"),
        ({"data": DATA, "autofit": "no"}, "`autofit` must be true or false"),
        ({"data": DATA, "noisy_student": 3}, "`noisy_student` must be a mapping of options"),
        ({"training": {}}, "has no `data` section"),
        ({"data": {"format": "image_folder"}}, "`data.path` is missing"),
        ({"data": dict(DATA, task="multilabel", format="csv"), "calibration": {}},
         "`calibration` does not support task 'multilabel'"),
        ({"data": dict(DATA, format="coco", task="segmentation"), "augmentation_search": {}},
         "`augmentation_search` does not support task 'segmentation'"),
        ({"data": DATA, "resources": {"Training": {"gpus": 1}}}, "`resources.Training.gpus` is not an option"),
    ],
)
def test_mistakes_name_the_key(raw, expected):
    assert expected in error_of(raw)


def test_sections_force_forbid_or_leave_to_autofit():
    config = config_from_dict({"data": DATA, "noisy_student": {"iterations": 3}, "contrastive": False,
                               "calibration": None, "training": None})
    assert config.forced("noisy_student") == {"iterations": 3}
    assert config.forbidden("contrastive") and config.forced("contrastive") is None
    assert config.calibration == {}  # an empty section: on, with defaults
    assert config.forced("consistency_training") is None and not config.forbidden("consistency_training")
    assert config.training == {} and config.autofit is True and config.budget == "standard"


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("data: {format: image_folder, path: imgs}\ntraining: {module_file: m.py}\n"
                    "domain_adaptation: {target: {format: image_folder, path: night}}\n")
    config = load_config(str(path))
    assert config.data["path"] == str(tmp_path / "imgs")
    assert config.training["module_file"] == str(tmp_path / "m.py")
    assert config.forced("domain_adaptation")["target"]["path"] == str(tmp_path / "night")


def test_broken_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  format: image_folder\n  path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+, column \d+: not valid YAML"):
        load_config(str(path))


def test_cli_reports_config_errors_with_exit_2_before_importing_tensorflow(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("data: {format: image_folder, path: x}\ntraining: {epochs: ten}\n")
    result = run_config_in_fresh_process(str(path))
    assert result.returncode == 2
    assert "autofit: error: `training.epochs` must be an integer, got 'ten' (str)." in result.stderr
    assert "NO_TF" in result.stdout


def test_schema_snapshot_matches_the_config_dataclasses():
    """config_schema.json is what the code says; regenerate with `python -m pipelines.config_schema --write`."""
    assert config_schema.generate_schema() == config_schema.load_schema()


@pytest.mark.parametrize("value, kind, ok", [
    (3, "int", True), (True, "int", False), (3, "float", True), ("3", "float", False),
    (None, {"optional": "int"}, True), ([1, 2], {"tuple": ["int", "int"]}, True), ([1], {"tuple": ["int", "int"]}, False),
    ([["rotate", 0.5, 1.0]], {"list": {"tuple": ["str", "float", "float"]}}, True),
    ({"a": 1}, {"map": "float"}, True), ({"a": "x"}, {"map": "float"}, False),
    ("x", {"union": ["str", "float"]}, True), ([], {"union": ["str", "float"]}, False),
])
def test_type_checks(value, kind, ok):
    assert (config_schema.check_value(value, kind, "k") is None) == ok
