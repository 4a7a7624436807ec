"""Component construction (the docstring examples) and config validation at pipeline-build time."""

import json

import pytest
from tfx.types import channel

from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.synthesis import spec
from components.synthesis.component import BlendSearch, GanSynthesis, StyleTransferSynthesis
from components.synthesis.spec import BlendSearchConfig, GanConfig, StyleTransferConfig
from components.types import config_json


@pytest.fixture
def translation(tmp_path):
    return DataTranslation(config=TranslationConfig(format="image_folder", path=str(tmp_path)))


def test_docstring_examples_construct(translation):
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    gan = GanSynthesis(examples=examples, data_spec=data_spec, config=GanConfig(steps=2000, images_per_class=200))
    styled = StyleTransferSynthesis(examples=examples, data_spec=data_spec,
                                    config=StyleTransferConfig(style_weight=1.0, steps=100))
    search = BlendSearch(
        examples=examples, data_spec=data_spec,
        synthetic_examples=[gan.outputs["synthetic_examples"], styled.outputs["synthetic_examples"]],
        config=BlendSearchConfig(training={"architecture": "small_cnn", "epochs": 3}),
    )
    assert set(gan.outputs) == {spec.GENERATOR_KEY, spec.SYNTHETIC_EXAMPLES_KEY, spec.REPORT_KEY}
    assert set(styled.outputs) == {spec.SYNTHETIC_EXAMPLES_KEY, spec.REPORT_KEY}
    assert set(search.outputs) == {spec.MODEL_KEY, spec.REPORT_KEY}
    assert isinstance(search.inputs[spec.SYNTHETIC_EXAMPLES_KEY], channel.UnionChannel)
    stored = json.loads(search.exec_properties[spec.CONFIG_KEY])
    assert stored["ratios"] == list(spec.DEFAULT_RATIOS) and stored["training"]["epochs"] == 3
    single = BlendSearch(examples=examples, data_spec=data_spec, synthetic_examples=gan.outputs["synthetic_examples"])
    assert not isinstance(single.inputs[spec.SYNTHETIC_EXAMPLES_KEY], channel.UnionChannel)


def test_bad_configs_fail_when_the_pipeline_is_built(translation):
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    with pytest.raises(ValueError, match="regularization"):
        GanSynthesis(examples=examples, data_spec=data_spec, config={"regularization": "weight_clipping"})
    with pytest.raises(ValueError, match="Unknown GanConfig option"):
        GanSynthesis(examples=examples, data_spec=data_spec, config={"stepz": 3})
    with pytest.raises(ValueError, match="needs vgg_weights_path"):
        StyleTransferSynthesis(examples=examples, data_spec=data_spec, config={"feature_network": "vgg19"})
    with pytest.raises(ValueError, match="Unknown architecture"):
        BlendSearchConfig(training={"architecture": "resnet9000"})
    with pytest.raises(ValueError, match="ratios must be >= 0"):
        BlendSearchConfig(ratios=(0.0, -0.5))
    with pytest.raises(ValueError, match="at least one synthetic_examples"):
        BlendSearch(examples=examples, data_spec=data_spec, synthetic_examples=[])


def test_configs_round_trip_through_json():
    for config in (GanConfig(steps=7, image_size=(16, 16)), StyleTransferConfig(style_dir="/styles", max_images=3),
                   BlendSearchConfig(ratios=(0.0, 2.0), seeds=(1, 2), training={"epochs": 2})):
        assert config_json.config_from_json(type(config), config_json.config_to_json(config)) == config


def test_training_takes_blend_search_report_only_with_synthetic_examples(translation):
    from components.training.component import Training

    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    gan = GanSynthesis(examples=examples, data_spec=data_spec)
    search = BlendSearch(examples=examples, data_spec=data_spec, synthetic_examples=gan.outputs["synthetic_examples"])
    training = Training(
        examples=examples, data_spec=data_spec, synthetic_examples=gan.outputs["synthetic_examples"],
        blend_report=search.outputs["report"],
    )
    assert training.inputs["blend_report"] is search.outputs["report"]
    with pytest.raises(ValueError, match="blend_report sets the synthetic ratio and needs a synthetic_examples input"):
        Training(examples=examples, data_spec=data_spec, blend_report=search.outputs["report"])
