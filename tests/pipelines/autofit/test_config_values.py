"""Section values only the component configs can judge are refused before any data is read."""

import pytest

from pipelines import cli
from pipelines.config import ConfigError, config_from_dict
from pipelines.config_values import check_section_values


def config_with(tmp_path, **sections):
    return config_from_dict(dict({"data": {"format": "image_folder", "path": str(tmp_path / "missing")},
                                  "run_dir": str(tmp_path / "run")}, **sections))


@pytest.mark.parametrize("sections, expected", [
    ({"architecture_changes": {"changes": ["blur_pol"]}}, "`architecture_changes`"),
    ({"training": {"architecture_changes": ["antialias"]}}, "`training`"),
    ({"training": {"optimizer": "adamw2"}}, "`training`"),
])
def test_bad_values_name_their_section(tmp_path, sections, expected):
    with pytest.raises(ConfigError) as raised:
        check_section_values(config_with(tmp_path, **sections))
    assert str(raised.value).startswith(expected)


def test_valid_sections_pass(tmp_path):
    check_section_values(config_with(tmp_path, architecture_changes={"changes": ["silu", "blur_pool"]},
                                     training={"epochs": 3}, noisy_student={"iterations": 2}, calibration={},
                                     domain_adaptation={"target": {"format": "image_folder", "path": "x"}}))


def test_cli_run_refuses_a_bad_value_before_translation(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"data: {{format: image_folder, path: {data}}}\nrun_dir: {tmp_path / 'run'}\n"
                      "architecture_changes: {changes: [blurpool]}\n")
    assert cli.main(["run", "--config", str(config)]) == 2
    assert "`architecture_changes`" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing was translated
