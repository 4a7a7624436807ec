"""pipelines/resources.py on a really compiled (KubeflowV2DagRunner) pipeline."""

import copy

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipelines.config import ComponentResources
from pipelines.resources import (
    apply_component_resources,
    apply_job_labels,
    component_executors,
    cpu_cores,
    kubernetes_accelerators,
    memory_gigabytes,
)

TRAINING_GPU = {"Training": ComponentResources(cpu="4", memory="16Gi", gpu_type="NVIDIA_TESLA_T4", gpu_count=2)}


def _resources(compiled, component_id):
    spec = compiled["pipelineSpec"]
    label = spec["components"][component_id]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"].get("resources")


@pytest.mark.parametrize("cpu, cores", [("4", 4.0), ("0.5", 0.5), ("500m", 0.5), ("2500m", 2.5)])
def test_cpu_quantities_convert_to_cores(cpu, cores):
    assert cpu_cores(cpu) == pytest.approx(cores)


@pytest.mark.parametrize(
    "memory, gigabytes", [("16G", 16.0), ("16Gi", 16 * 2**30 / 1e9), ("512Mi", 512 * 2**20 / 1e9), ("1T", 1000.0), ("2000000000", 2.0)]
)
def test_memory_quantities_convert_to_decimal_gigabytes(memory, gigabytes):
    assert memory_gigabytes(memory) == pytest.approx(gigabytes)


@pytest.mark.parametrize("bad", ["four", "-1", "0", "4 cores", "1.5.2"])
def test_bad_cpu_is_rejected_with_the_value(bad):
    with pytest.raises(ValueError, match="Invalid cpu"):
        cpu_cores(bad)


@pytest.mark.parametrize("bad", ["16GB", "lots", "0Gi", "16 G"])
def test_bad_memory_is_rejected_with_the_value(bad):
    with pytest.raises(ValueError, match="Invalid memory"):
        memory_gigabytes(bad)


def test_resources_land_on_the_named_component_only(compiled_tiny):
    before = copy.deepcopy(compiled_tiny)
    updated = apply_component_resources(compiled_tiny, TRAINING_GPU)
    assert compiled_tiny == before, "the input must not be modified"
    assert _resources(updated, "Training") == {
        "cpuLimit": 4.0,
        "memoryLimit": pytest.approx(16 * 2**30 / 1e9),
        "accelerator": {"type": "NVIDIA_TESLA_T4", "count": "2"},
    }
    assert _resources(updated, "ExampleMaker") is None
    # Everything else is untouched, and the result is still a valid KFP PipelineSpec.
    assert {k: v for k, v in updated.items() if k != "pipelineSpec"} == {k: v for k, v in before.items() if k != "pipelineSpec"}
    json_format.ParseDict(updated["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())


def test_a_bare_pipeline_spec_works_too(compiled_tiny):
    updated = apply_component_resources(compiled_tiny["pipelineSpec"], {"ExampleMaker": ComponentResources(cpu="1")})
    label = updated["components"]["ExampleMaker"]["executorLabel"]
    assert updated["deploymentSpec"]["executors"][label]["container"]["resources"] == {"cpuLimit": 1.0}


def test_unknown_component_fails_listing_the_known_ones(compiled_tiny):
    with pytest.raises(ValueError, match=r"\['Trainer'\].*\['ExampleMaker', 'Training'\]"):
        apply_component_resources(compiled_tiny, {"Trainer": ComponentResources(cpu="1")})


@pytest.mark.parametrize(
    "settings, message",
    [
        (ComponentResources(gpu_count=1), "needs gpu_type"),
        (ComponentResources(gpu_type="NVIDIA_L4"), "gpu_count is 0"),
        (ComponentResources(gpu_type="NVIDIA_L4", gpu_count=-1), ">= 0"),
        (ComponentResources(memory="16GB"), "resources.Training: Invalid memory"),
    ],
)
def test_inconsistent_settings_fail_naming_the_component(compiled_tiny, settings, message):
    with pytest.raises(ValueError, match=message):
        apply_component_resources(compiled_tiny, {"Training": settings})


def test_kubernetes_accelerators_use_the_extended_resource_name(compiled_tiny):
    vertex = apply_component_resources(compiled_tiny, TRAINING_GPU)
    kubeflow = kubernetes_accelerators(vertex)
    assert _resources(kubeflow, "Training")["accelerator"] == {"type": "nvidia.com/gpu", "count": "2"}
    assert _resources(vertex, "Training")["accelerator"]["type"] == "NVIDIA_TESLA_T4"
    tpu = apply_component_resources(compiled_tiny, {"Training": ComponentResources(gpu_type="TPU_V3", gpu_count=8)})
    with pytest.raises(ValueError, match="TPU_V3"):
        kubernetes_accelerators(tpu)


def test_nested_dags_and_non_container_executors():
    spec = {
        "root": {"dag": {"tasks": {"group": {"componentRef": {"name": "comp-group"}}}}},
        "components": {
            "comp-group": {"dag": {"tasks": {
                "Inner": {"componentRef": {"name": "comp-inner"}},
                "Importer": {"componentRef": {"name": "comp-importer"}},
            }}},
            "comp-inner": {"executorLabel": "exec-inner"},
            "comp-importer": {"executorLabel": "exec-importer"},
        },
        "deploymentSpec": {"executors": {"exec-inner": {"container": {"image": "i"}}, "exec-importer": {"importer": {}}}},
    }
    assert component_executors(spec) == {"Inner": "exec-inner", "Importer": "exec-importer"}
    updated = apply_component_resources(spec, {"Inner": ComponentResources(memory="1G")})
    assert updated["deploymentSpec"]["executors"]["exec-inner"]["container"]["resources"] == {"memoryLimit": 1.0}
    with pytest.raises(ValueError, match="'Importer' runs no container.*'importer'"):
        apply_component_resources(spec, {"Importer": ComponentResources(cpu="1")})


def test_job_labels_merge_over_the_compiled_ones(compiled_tiny):
    labelled = apply_job_labels(compiled_tiny, {"team": "vision", "tfx_runner": "custom"})
    assert labelled["labels"]["team"] == "vision" and labelled["labels"]["tfx_runner"] == "custom"
    assert labelled["labels"]["tfx_version"] == compiled_tiny["labels"]["tfx_version"]
    for bad in ({"Team": "x"}, {"team": "Vision"}, {"1team": "x"}, {"team": "x" * 64}):
        with pytest.raises(ValueError, match="label"):
            apply_job_labels(compiled_tiny, bad)
    with pytest.raises(ValueError, match="PipelineJob JSON"):
        apply_job_labels(compiled_tiny["pipelineSpec"], {"team": "vision"})


def test_not_a_compiled_pipeline_is_rejected():
    with pytest.raises(ValueError, match="Not a compiled KFP pipeline"):
        apply_component_resources({"pipeline": {}}, {})
