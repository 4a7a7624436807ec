"""End to end: translation -> augmentation search -> training with the policy -> evaluation, lineage in MLMD."""

import os

import pytest

from augment_ops.policy import Policy
from components.augmentation_search.component import AugmentationSearch
from components.augmentation_search.spec import AugmentationSearchConfig
from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.evaluation.component import Evaluation
from components.evaluation.spec import EvaluationConfig
from components.training.component import Training
from components.training.spec import TrainingConfig
from pipelines import lineage as lineage_lib
from pipelines.config import config_from_dict
from pipelines.pipeline import create_pipeline
from pipelines.runners import run_pipeline
from tests.support.canonical import write_image_folder


@pytest.mark.slow
def test_search_policy_flows_into_training_and_lineage_records_it(tmp_path):
    config = config_from_dict(
        {
            "pipeline_name": "search",
            "run_dir": str(tmp_path / "run"),
            "data": {"format": "image_folder", "path": write_image_folder(str(tmp_path / "data"), per_class=20),
                     "eval_fraction": 0.3, "test_fraction": 0.2},
        }
    )
    translation = DataTranslation(config=TranslationConfig.from_dict(config.data))
    search = AugmentationSearch(
        examples=translation.outputs["examples"],
        data_spec=translation.outputs["data_spec"],
        config=AugmentationSearchConfig(
            architecture="tiny_cnn", proxy_epochs=3, batch_size=16, learning_rate=0.03, trial_learning_rate=0.01,
            ops=("flip_left_right", "rot90", "rotate", "translate_y", "contrast", "gaussian_blur", "cutout"),
            magnitudes=(0.3, 1.0), probe_examples=16, max_clusters=4, min_clusters=2,
        ),
    )
    training = Training(
        examples=translation.outputs["examples"],
        data_spec=translation.outputs["data_spec"],
        augmentation_policy=search.outputs["augmentation_policy"],
        config=TrainingConfig(architecture="tiny_cnn", epochs=2, batch_size=16, learning_rate=0.03, verbose=0),
    )
    evaluation = Evaluation(
        examples=translation.outputs["examples"],
        data_spec=translation.outputs["data_spec"],
        model=training.outputs["model"],
        config=EvaluationConfig(),
    )
    run_pipeline(config, pipeline=create_pipeline(config, components=[translation, search, training, evaluation]))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert [node.component for node in lineage.executions] == ["DataTranslation", "AugmentationSearch", "Training", "Evaluation"]
    assert all(node.state == "COMPLETE" for node in lineage.executions)
    translated = {edge.key: edge.artifact_id for edge in lineage.outputs_of(lineage.execution("DataTranslation").id)}
    search_in = {edge.key: edge.artifact_id for edge in lineage.inputs_of(lineage.execution("AugmentationSearch").id)}
    search_out = {edge.key: edge.artifact_id for edge in lineage.outputs_of(lineage.execution("AugmentationSearch").id)}
    training_in = {edge.key: edge.artifact_id for edge in lineage.inputs_of(lineage.execution("Training").id)}
    training_out = {edge.key: edge.artifact_id for edge in lineage.outputs_of(lineage.execution("Training").id)}
    evaluation_in = {edge.key: edge.artifact_id for edge in lineage.inputs_of(lineage.execution("Evaluation").id)}
    assert search_in["examples"] == translated["examples"] and search_in["data_spec"] == translated["data_spec"]
    assert training_in["augmentation_policy"] == search_out["augmentation_policy"]
    assert evaluation_in["model"] == training_out["model"]

    policy_node = lineage.artifacts[search_out["augmentation_policy"]]
    report_node = lineage.artifacts[search_out["report"]]
    assert policy_node.type_name == "tfx_autofit.AugmentationPolicy"
    assert policy_node.properties["num_candidates"] >= 10
    assert policy_node.properties["chosen_policy"] == Policy.from_json(open(os.path.join(policy_node.uri, "policy.json")).read()).name
    assert report_node.properties["pass1_seconds"] > 0 and report_node.properties["pass2_seconds"] > 0
    assert os.path.exists(os.path.join(report_node.uri, "report.md"))
    assert lineage_lib.find_output(lineage, "Evaluation", "evaluation") is not None
