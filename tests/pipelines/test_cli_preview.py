"""`autofit preview`: op and policy grids on the sample photos, and clear errors."""

import numpy as np
import pytest
from PIL import Image

from augment_ops.policy import rand_augment
from pipelines import cli


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def test_op_preview_writes_a_grid_that_depends_on_the_op(tmp_path, capsys):
    rotate, invert = tmp_path / "rotate.png", tmp_path / "invert.png"
    for name, path in (("rotate", rotate), ("invert", invert)):
        assert cli.main(["preview", "--op", name, "--magnitudes", "0,1", "--size", "48", "--output", str(path)]) == 0
    assert str(rotate) in capsys.readouterr().out
    first, second = _pixels(rotate), _pixels(invert)
    assert first.shape == second.shape and first.shape[0] > 48
    assert np.abs(first - second).mean() > 1.0


def test_policy_preview_reads_an_artifact_folder(tmp_path):
    folder = tmp_path / "policy_artifact"
    folder.mkdir()
    (folder / "policy.json").write_text(rand_augment(2, 0.5).to_json())
    output = tmp_path / "policy.png"
    assert cli.main(["preview", "--policy", str(folder), "--draws", "2", "--size", "48", "--output", str(output)]) == 0
    assert _pixels(output).std() > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["preview"], "exactly one of --op"),
        (["preview", "--op", "no_such_op"], "Unknown augmentation op 'no_such_op'"),
        (["preview", "--policy", "missing.json"], "No policy file at missing.json"),
    ],
)
def test_preview_errors_name_the_problem(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_preview_rejects_a_file_that_is_not_a_policy(tmp_path, capsys):
    bad = tmp_path / "policy.json"
    bad.write_text('{"ops": [{"name": "rotate", "magnitude": 3}]}')
    assert cli.main(["preview", "--policy", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
