"""Compile for Kubeflow Pipelines / Vertex AI, and beam_pipeline_args reaching the Beam component."""

import json

import pytest
from tfx.dsl.compiler import compiler
from tfx.proto.orchestration import executable_spec_pb2

from pipelines.compile import compile_pipeline, component_images, read_compiled
from pipelines.config import config_from_dict
from pipelines.pipeline import create_pipeline

BEAM_ARGS = ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]


def config_for(tmp_path, run_dir=None, **extra):
    data_dir = tmp_path / "data" / "a"
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = {
        "pipeline_name": "compiled",
        "run_dir": run_dir or str(tmp_path / "run"),
        "image": "registry.example/tfx-autofit:0.1.0",
        "data": {"format": "image_folder", "path": str(tmp_path / "data")},
        "training": {"architecture": "small_cnn", "epochs": 1},
        "beam_pipeline_args": BEAM_ARGS,
    }
    raw.update(extra)
    return config_from_dict(raw)


def test_kubeflow_json_names_every_component_with_the_image(tmp_path):
    config = config_for(tmp_path)
    output = compile_pipeline(config, str(tmp_path / "out" / "pipeline.json"), target="kubeflow")
    compiled = read_compiled(output)
    spec = compiled.get("pipelineSpec", compiled)
    assert spec["schemaVersion"].startswith("2.")
    assert set(spec["root"]["dag"]["tasks"]) == {"DataTranslation", "Training", "Evaluation"}
    images = component_images(compiled)
    assert len(images) == 3 and set(images.values()) == {"registry.example/tfx-autofit:0.1.0"}
    translation = spec["deploymentSpec"]["executors"]["DataTranslation_executor"]["container"]
    assert "components.data_translation.executor.Executor" in translation["args"]
    assert set(BEAM_ARGS) <= set(translation["args"])


def test_vertex_needs_a_cloud_pipeline_root(tmp_path):
    with pytest.raises(ValueError, match="gs:// pipeline root"):
        compile_pipeline(config_for(tmp_path), str(tmp_path / "v.json"), target="vertex")
    config = config_for(tmp_path, run_dir="gs://bucket/runs/x")
    output = compile_pipeline(config, str(tmp_path / "v.json"), target="vertex")
    compiled = read_compiled(output)
    assert compiled["runtimeConfig"]["gcsOutputDirectory"].startswith("gs://bucket/runs/x")


def test_beam_pipeline_args_reach_the_translation_executor_spec(tmp_path):
    ir = compiler.Compiler().compile(create_pipeline(config_for(tmp_path)))
    deployment = ir.deployment_config
    from tfx.proto.orchestration import pipeline_pb2

    config = pipeline_pb2.IntermediateDeploymentConfig()
    deployment.Unpack(config)
    spec = executable_spec_pb2.BeamExecutableSpec()
    config.executor_specs["DataTranslation"].Unpack(spec)
    assert list(spec.beam_pipeline_args) == ["--runner=FnApiRunner", *BEAM_ARGS]
    assert spec.python_executor_spec.class_path.endswith("data_translation.executor.Executor")


def test_cli_compile_writes_json(tmp_path, capsys):
    import yaml

    from pipelines.cli import main

    from tests.support.canonical import write_image_folder

    config_path = tmp_path / "config.yaml"
    write_image_folder(str(tmp_path / "data"), per_class=8)
    config_path.write_text(yaml.safe_dump({
        "pipeline_name": "cli", "run_dir": "run", "data": {"format": "image_folder", "path": "data"},
    }))
    assert main(["compile", "--config", str(config_path), "--output", str(tmp_path / "c.json")]) == 0
    compiled = json.loads((tmp_path / "c.json").read_text())
    printed = capsys.readouterr().out
    assert "Compiled pipeline for kubeflow" in printed
    # autofit profiles the data locally and compiles the planned DAG (the plan is printed and written).
    assert "autofit plan (budget standard" in printed and (tmp_path / "run" / "autofit" / "plan.json").exists()
    tasks = compiled.get("pipelineSpec", compiled)["root"]["dag"]["tasks"]
    assert {"AutofitPlan", "ChampionSelection"} <= set(tasks)


def test_local_runner_default_is_offline_and_a_named_runner_is_kept():
    from components.types.beam_options import effective_beam_args

    assert effective_beam_args([]) == ["--runner=FnApiRunner"]
    dataflow = ["--runner=DataflowRunner", "--project=p"]
    assert effective_beam_args(dataflow) == dataflow


def test_yaml_sections_add_augmentation_search_and_calibration(tmp_path):
    from pipelines.pipeline import create_components

    config = config_for(tmp_path, augmentation_search=None, calibration={"method": "temperature"})
    assert config.augmentation_search == {}  # an empty YAML section turns the component on with its defaults
    components = create_components(config)
    by_id = {component.id: component for component in components}
    assert [component.id for component in components] == [
        "DataTranslation", "AugmentationSearch", "Training", "Calibration", "Evaluation"]
    assert by_id["Training"].inputs["augmentation_policy"] is by_id["AugmentationSearch"].outputs["augmentation_policy"]
    assert by_id["Calibration"].inputs["model"] is by_id["Training"].outputs["model"]
    assert by_id["Evaluation"].inputs["model"] is by_id["Calibration"].outputs["calibrated_model"]
    output = compile_pipeline(config, str(tmp_path / "out" / "pipeline.json"), target="kubeflow")
    spec = read_compiled(output)
    tasks = spec.get("pipelineSpec", spec)["root"]["dag"]["tasks"]
    assert set(tasks) == set(by_id)

    plain = [component.id for component in create_components(config_for(tmp_path))]
    assert plain == ["DataTranslation", "Training", "Evaluation"]
    with pytest.raises(ValueError, match="no_such_option"):
        create_components(config_for(tmp_path, calibration={"no_such_option": 1}))
