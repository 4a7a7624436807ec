"""Stock StatisticsGen / SchemaGen / ExampleValidator on our Examples, and their anomalies in the report."""

import glob
import json
import os
import shutil

import pytest

from pipelines.data_validation import (
    EXAMPLE_VALIDATOR_ID,
    SCHEMA_GEN_ID,
    STATISTICS_GEN_ID,
    DataValidationConfig,
    data_validation_components,
)


def _examples_channel():
    from tfx.types import channel, standard_artifacts

    return channel.Channel(type=standard_artifacts.Examples)


def test_components_leave_the_unlabeled_split_out_of_schema_and_validation():
    statistics, schema, validator = data_validation_components(_examples_channel())
    assert [statistics.id, schema.id, validator.id] == [STATISTICS_GEN_ID, SCHEMA_GEN_ID, EXAMPLE_VALIDATOR_ID]
    assert json.loads(statistics.exec_properties["exclude_splits"]) == []
    assert json.loads(schema.exec_properties["exclude_splits"]) == ["unlabeled"]
    assert json.loads(validator.exec_properties["exclude_splits"]) == ["unlabeled"]
    assert schema.exec_properties["infer_feature_shape"] in (True, 1)
    assert validator.inputs["schema"] is schema.outputs["schema"]
    assert validator.inputs["statistics"] is statistics.outputs["statistics"]


def test_config_section_is_validated_when_the_pipeline_is_built():
    custom = data_validation_components(_examples_channel(), {"validation_exclude_splits": []})
    assert json.loads(custom[2].exec_properties["exclude_splits"]) == []
    with pytest.raises(ValueError, match=r"data_validation has unknown keys \['exclude'\]"):
        DataValidationConfig.from_dict({"exclude": ["unlabeled"]})
    with pytest.raises(ValueError, match="data_validation.schema_exclude_splits must be a list of split names"):
        DataValidationConfig(schema_exclude_splits="unlabeled")


def _image_folder_with_unlabeled(root: str) -> str:
    from tests.support.canonical import write_image_folder

    data = write_image_folder(os.path.join(root, "data"), per_class=10)
    extra = write_image_folder(os.path.join(root, "extra"), per_class=2, seed=1)
    os.makedirs(os.path.join(data, "unlabeled"))
    for index, path in enumerate(sorted(glob.glob(os.path.join(extra, "*", "*.png")))):
        shutil.move(path, os.path.join(data, "unlabeled", f"u{index}.png"))
    return data


@pytest.mark.slow
def test_validation_runs_on_translated_examples_and_anomalies_reach_the_report(tmp_path):
    """LocalDagRunner: translation -> statistics -> schema (labeled splits) -> validation of every split.

    Validating the unlabeled split against the labeled schema is the
    anomaly to find: its records have no `label`.
    """
    from pipelines import lineage as lineage_lib
    from pipelines.config import config_from_dict
    from pipelines.pipeline import create_components, create_pipeline
    from pipelines.report import build_context
    from pipelines.runners import run_pipeline

    config = config_from_dict({
        "pipeline_name": "validation", "run_dir": str(tmp_path / "run"),
        "data": {"format": "image_folder", "path": _image_folder_with_unlabeled(str(tmp_path)),
                 "eval_fraction": 0.25, "test_fraction": 0.25},
    })
    translation = create_components(config)[0]
    checks = data_validation_components(translation.outputs["examples"], {"validation_exclude_splits": []})
    run_pipeline(config, pipeline=create_pipeline(config, components=[translation, *checks]))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert [(node.component, node.state) for node in lineage.executions] == [
        ("DataTranslation", "COMPLETE"), ("StatisticsGen", "COMPLETE"), ("SchemaGen", "COMPLETE"),
        ("ExampleValidator", "COMPLETE"),
    ]
    validation = build_context(config.run_dir, with_preview=False)["validation"]
    assert validation.splits == ["eval", "test", "train", "unlabeled"]
    assert validation.failed_splits == ["unlabeled"]
    label = [anomaly for anomaly in validation.anomalies if anomaly.feature == "label"]
    assert [anomaly.split for anomaly in label] == ["unlabeled"] and label[0].short_description
    # On a dataset this small SchemaGen also closes image/source_id's vocabulary (see pipelines.data_validation).
    assert {anomaly.feature for anomaly in validation.anomalies} <= {"label", "image/source_id"}
    assert {feature["name"] for feature in validation.schema_features} >= {"image/encoded", "label", "image/source_id"}
