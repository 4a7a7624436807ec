"""Local pipeline: translation -> GAN and style transfer -> blend-ratio search -> evaluation, with lineage."""

import json
import os

import pytest

from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.evaluation.component import Evaluation
from components.synthesis import spec, synthetic_io
from components.synthesis.component import BlendSearch, GanSynthesis, StyleTransferSynthesis
from components.synthesis.spec import BlendSearchConfig, GanConfig, StyleTransferConfig
from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.pipeline import create_pipeline
from pipelines.runners import run_pipeline
from tests.support.canonical import write_image_folder

COMPONENTS = ["DataTranslation", "GanSynthesis", "StyleTransferSynthesis", "BlendSearch", "Evaluation"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("synthesis_pipeline")
    data = write_image_folder(str(tmp_path / "data"), per_class=16)
    config = config_from_dict({"pipeline_name": "synthesis", "run_dir": str(tmp_path / "run"),
                               "data": {"format": "image_folder", "path": data}})
    translation = DataTranslation(
        config=TranslationConfig(format="image_folder", path=data, eval_fraction=0.25, test_fraction=0.25)
    )
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    gan = GanSynthesis(examples=examples, data_spec=data_spec,
                       config=GanConfig(latent_dim=8, width=4, steps=4, batch_size=8, images_per_class=6))
    styled = StyleTransferSynthesis(examples=examples, data_spec=data_spec,
                                    config=StyleTransferConfig(steps=3, max_images=9))
    search = BlendSearch(
        examples=examples, data_spec=data_spec,
        synthetic_examples=[gan.outputs["synthetic_examples"], styled.outputs["synthetic_examples"]],
        config=BlendSearchConfig(ratios=(0.0, 0.5), training={"architecture": "tiny_cnn", "epochs": 3,
                                                              "batch_size": 8, "learning_rate": 0.03, "verbose": 0}),
    )
    evaluation = Evaluation(examples=examples, data_spec=data_spec, model=search.outputs["model"])
    components = [translation, gan, styled, search, evaluation]
    run_pipeline(config, pipeline=create_pipeline(config, components=components))
    return lineage_lib.read_lineage(config.run_dir)


def _edges(lineage, component, direction):
    node = lineage.execution(component)
    edges = lineage.inputs_of(node.id) if direction == "input" else lineage.outputs_of(node.id)
    result = {}
    for edge in edges:
        result.setdefault(edge.key, []).append(edge.artifact_id)
    return result


def test_all_components_complete_in_order(finished_run):
    assert [node.component for node in finished_run.executions] == COMPONENTS
    assert all(node.state == "COMPLETE" for node in finished_run.executions)


def test_lineage_links_generators_search_and_evaluation(finished_run):
    translation = _edges(finished_run, "DataTranslation", "output")
    gan_out = _edges(finished_run, "GanSynthesis", "output")
    style_out = _edges(finished_run, "StyleTransferSynthesis", "output")
    assert _edges(finished_run, "GanSynthesis", "input")["examples"] == translation["examples"]
    assert _edges(finished_run, "StyleTransferSynthesis", "input")["examples"] == translation["examples"]
    search_in = _edges(finished_run, "BlendSearch", "input")
    assert search_in["examples"] == translation["examples"]
    generated = gan_out["synthetic_examples"] + style_out["synthetic_examples"]
    assert sorted(search_in["synthetic_examples"]) == sorted(generated)
    evaluation_in = _edges(finished_run, "Evaluation", "input")
    assert evaluation_in["model"] == _edges(finished_run, "BlendSearch", "output")["model"]
    assert evaluation_in["examples"] == translation["examples"]  # Scored on real data only.


def test_synthetic_artifacts_are_train_only_with_provenance(finished_run):
    for component, kind in (("GanSynthesis", spec.GAN_PROVENANCE), ("StyleTransferSynthesis", spec.STYLE_PROVENANCE)):
        artifact = lineage_lib.find_output(finished_run, component, "synthetic_examples")
        assert os.listdir(artifact.uri) == ["Split-train"]
        assert artifact.properties["provenance"] == kind
        assert {row["kind"] for row in synthetic_io.read_provenance(artifact.uri)} == {kind}
    evaluation = lineage_lib.find_output(finished_run, "Evaluation", "evaluation")
    metrics = json.load(open(os.path.join(evaluation.uri, "metrics.json")))
    assert metrics["split"] == "test"
    real = lineage_lib.find_output(finished_run, "DataTranslation", "examples")
    assert {row["kind"] for row in synthetic_io.read_provenance(real.uri, "test")} == {""}


def test_chosen_ratio_and_curve_are_recorded(finished_run):
    model = lineage_lib.find_output(finished_run, "BlendSearch", "model")
    report = lineage_lib.find_output(finished_run, "BlendSearch", "report")
    assert model.properties[spec.SYNTHETIC_RATIO_PROPERTY] in (0.0, 0.5)
    assert report.properties[spec.SYNTHETIC_RATIO_PROPERTY] == model.properties[spec.SYNTHETIC_RATIO_PROPERTY]
    curve = json.load(open(os.path.join(report.uri, "blend_curve.json")))
    assert [point["ratio"] for point in curve["curve"]] == [0.0, 0.5]
    assert os.path.exists(os.path.join(report.uri, "blend_curve.png"))
    generator = lineage_lib.find_output(finished_run, "GanSynthesis", "generator")
    assert generator.properties[spec.FEATURE_SPACE_PROPERTY] == "random_cnn_last_layer_mean"
