"""The TFX executor: Do() on a tmp dir writes both artifacts; beam_pipeline_args reach the pipeline."""

import json
import os

import pytest
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import artifact_utils, standard_artifacts

from components.common import progress, resume
from components.data_translation.executor import Executor
from components.data_translation.spec import CONFIG_KEY, DATA_SPEC_KEY, EXAMPLES_KEY, TranslationConfig
from components.types import artifacts, data_spec
from tests.fixtures import classification_formats as cf
from tests.fixtures.readback import read_examples

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _run_executor(config, output_dir, beam_pipeline_args=()):
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(output_dir, "examples")
    spec = artifacts.DataSpec()
    spec.uri = os.path.join(output_dir, "data_spec")
    context = Executor.Context(beam_pipeline_args=list(beam_pipeline_args), tmp_dir=os.path.join(output_dir, "tmp"))
    Executor(context).Do({}, {EXAMPLES_KEY: [examples], DATA_SPEC_KEY: [spec]}, {CONFIG_KEY: config.to_json()})
    return examples, spec


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    cf.write_folder_with_unlabeled(str(root), labeled=40, unlabeled=6)
    return TranslationConfig(format="image_folder", path=str(root), eval_fraction=0.25)


def test_do_writes_examples_and_data_spec_with_properties(tmp_path, digits):
    examples, spec = _run_executor(digits, str(tmp_path))
    content = data_spec.read_data_spec(spec.uri)
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval", "unlabeled"]
    assert sorted(os.listdir(examples.uri)) == ["Split-eval", "Split-train", "Split-unlabeled"]
    assert content.records_read == 46 == content.records_written + content.records_rejected
    for output in (examples, spec):
        assert output.get_int_custom_property("records_written") == 46
        assert output.get_int_custom_property("records_rejected") == 0
        assert output.get_int_custom_property("count_unlabeled") == 6
        assert output.get_int_custom_property("count_train") == content.split_count("train")
        assert output.get_string_custom_property("task") == "classification"
    assert os.path.exists(os.path.join(spec.uri, "rejected_records.jsonl"))
    assert len(read_examples(examples.uri)) == 46


def test_beam_pipeline_args_reach_the_pipeline(tmp_path, digits):
    with pytest.raises(ValueError, match="NoSuchRunner"):
        _run_executor(digits, str(tmp_path / "bogus"), ["--runner=NoSuchRunner"])


@pytest.mark.parametrize(
    "running_mode",
    ["multi_threading", pytest.param("multi_processing", marks=pytest.mark.slow)],  # Processes: ~20 s of start-up.
)
def test_two_workers_write_what_one_worker_writes(tmp_path, digits, monkeypatch, running_mode):
    # Worker processes import the components package from the repository root.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
    single, single_spec = _run_executor(digits, str(tmp_path / "one"))
    multi, multi_spec = _run_executor(
        digits, str(tmp_path / "two"), ["--direct_num_workers=2", f"--direct_running_mode={running_mode}"]
    )

    def summary(uri):
        return {key: (value.split, value.label, value.encoded) for key, value in read_examples(uri).items()}

    assert summary(multi.uri) == summary(single.uri)
    assert data_spec.read_data_spec(multi_spec.uri).splits == data_spec.read_data_spec(single_spec.uri).splits


def test_do_writes_a_progress_file_under_the_pipeline_root(tmp_path, digits):
    # Laid out as TFX lays out a pipeline: <root>/<node id>/<output key>/<execution id>.
    root = str(tmp_path / "pipeline_root")
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = "DataTranslation"
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(root, "DataTranslation", EXAMPLES_KEY, "7")
    spec = artifacts.DataSpec()
    spec.uri = os.path.join(root, "DataTranslation", DATA_SPEC_KEY, "7")
    context = Executor.Context(
        beam_pipeline_args=[], tmp_dir=str(tmp_path / "tmp"), pipeline_node=node, unique_id="7"
    )
    Executor(context).Do({}, {EXAMPLES_KEY: [examples], DATA_SPEC_KEY: [spec]}, {CONFIG_KEY: digits.to_json()})

    path = resume.progress_path(root, "DataTranslation")
    with open(path) as handle:
        record = json.load(handle)
    assert (record["component"], record["stage"], record["unit"]) == ("DataTranslation", "translation", "record")
    assert (record["state"], record["execution_id"]) == (progress.FINISHED, "7")
    assert record["done"] == record["total"] == 46
    assert progress.read_progress_dir(root)["DataTranslation"] == record


def test_without_a_pipeline_no_progress_file_is_written(tmp_path, digits):
    _run_executor(digits, str(tmp_path))
    assert not any("_progress" in dirs for _, dirs, _ in os.walk(tmp_path))
