"""Config validation at pipeline-build time and the component's docstring example."""

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.augmentation_search.component import AugmentationSearch
from components.augmentation_search.spec import AugmentationSearchConfig
from components.training.component import Training
from components.types import artifacts, config_json


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"max_clusters": 10}, "max_clusters must be in"),
        ({"magnitudes": (0.5,)}, "magnitudes must hold"),
        ({"excluded_ops": ("warp_drive",)}, "Unknown augmentation op"),
        ({"architecture": "nope"}, "Unknown architecture"),
        ({"probabilities": (0.0,)}, "probabilities"),
        ({"box_priors": ("hexagon",)}, "box_priors"),
        ({"num_clusters": 12}, "num_clusters"),
        ({"min_effect_share": 1.0}, "min_effect_share"),
        ({"min_effect_share": -0.1}, "min_effect_share"),
    ],
)
def test_bad_configs_fail_at_construction(overrides, message):
    with pytest.raises(ValueError, match=message):
        AugmentationSearchConfig(**overrides)


def test_config_json_round_trip():
    config = AugmentationSearchConfig(magnitudes=(0.2, 0.7), excluded_ops=("invert",), ops=("rotate", "invert"))
    assert config_json.config_from_json(AugmentationSearchConfig, config_json.config_to_json(config)) == config


def test_docstring_example_wires_search_into_training():
    examples = types.Channel(type=standard_artifacts.Examples)
    data_spec = types.Channel(type=artifacts.DataSpec)
    search = AugmentationSearch(
        examples=examples, data_spec=data_spec, config=AugmentationSearchConfig(architecture="small_cnn", proxy_epochs=8)
    )
    training = Training(examples=examples, data_spec=data_spec, augmentation_policy=search.outputs["augmentation_policy"])
    assert search.outputs["augmentation_policy"].type is artifacts.AugmentationPolicy
    assert search.outputs["report"].type is artifacts.Report
    assert training.inputs["augmentation_policy"] is search.outputs["augmentation_policy"]
    with pytest.raises(ValueError, match="Unknown AugmentationSearchConfig option"):
        AugmentationSearch(examples=examples, data_spec=data_spec, config={"proxy_epoch": 3})
