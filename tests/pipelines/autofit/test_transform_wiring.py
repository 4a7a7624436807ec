"""The `transform:` section adds ImageTransform and every Training candidate reads its graph."""

import json

import pytest

from pipelines.config import ConfigError
from pipelines.pipeline import create_components
from tests.pipelines.autofit.test_autofit_compile import config_for, semi_supervised_plan


def test_transform_section_feeds_every_training(tmp_path):
    config = config_for(tmp_path, transform={"normalize": "per_channel"}, label_smoothing=True,
                        training={"image_size": [16, 16]})
    nodes = create_components(config, semi_supervised_plan(config))
    by_id = {node.id: node for node in nodes}
    assert "ImageTransform" in by_id
    settings = json.loads(by_id["ImageTransform"].exec_properties["config"])
    assert settings["image_size"] == [16, 16] and settings["normalize"] == "per_channel"  # the training's size
    graph = by_id["ImageTransform"].outputs["transform_graph"]
    trainings = [node for node in nodes if type(node).__name__ == "Training"]
    assert len(trainings) >= 2  # the plain training and the label-smoothing candidate
    for node in trainings:
        assert node.inputs["transform_graph"] is graph, node.id


def test_without_the_section_there_is_no_transform(tmp_path):
    config = config_for(tmp_path)
    ids = [node.id for node in create_components(config, semi_supervised_plan(config))]
    assert "ImageTransform" not in ids


@pytest.mark.parametrize("extra, message", [
    ({"transform": {}, "data": {"format": "coco", "path": "x", "task": "detection"}}, "not task 'detection'"),
    ({"transform": {"image_size": [8, 8]}, "training": {"image_size": [16, 16]}}, "differs from `training.image_size`"),
    ({"transform": {"normalise": "none"}}, "normalize"),
])
def test_transform_mistakes_are_config_errors(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        config_for(tmp_path, **extra)
