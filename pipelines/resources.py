"""Per-component compute resources and job labels in a compiled KFP pipeline (IR).

KubeflowV2DagRunner compiles a pipeline to a PipelineJob JSON whose
`pipelineSpec.deploymentSpec.executors[<label>].container.resources` tells the
orchestrator what each step's container may use. TFX has no per-component
resource API, so the compile step writes the YAML `resources:` section into the
IR here, keyed by component id (the TFX node id, also the task name in the IR).

Units follow the IR: `cpuLimit` in cores, `memoryLimit` in decimal gigabytes
(what the KFP SDK writes and both Vertex AI and the Kubeflow backend read).
Accelerator types are target names: Vertex AI machine accelerators
(`NVIDIA_TESLA_T4`, `NVIDIA_L4`, ...) or, on Kubeflow Pipelines, a Kubernetes
extended resource (`nvidia.com/gpu`); `kubernetes_accelerators` converts the
former to the latter for Kubeflow.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, Iterator, Mapping, Tuple

from pipelines.config import ComponentResources

# Bytes per unit suffix of a Kubernetes memory quantity.
_MEMORY_UNITS = {
    "": 1,
    "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_MEMORY_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|K|M|G|T|P|E)?$")
_CPU_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
# GCP label rules (Vertex AI job labels): lowercase letters, digits, '_' and '-'.
_LABEL_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE_PATTERN = re.compile(r"^[a-z0-9_-]{0,63}$")
KUBERNETES_GPU_RESOURCE = "nvidia.com/gpu"


def cpu_cores(cpu: str) -> float:
    """'4' -> 4.0, '500m' -> 0.5 (a Kubernetes CPU quantity in cores)."""
    match = _CPU_PATTERN.match(str(cpu).strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"Invalid cpu {cpu!r}: expected a positive number of cores like '4', '0.5' or '500m'.")
    value = float(match.group(1))
    return value / 1000 if match.group(2) else value


def memory_gigabytes(memory: str) -> float:
    """'16G' -> 16.0, '16Gi' -> 17.179869184 (decimal GB, the IR's memory unit)."""
    match = _MEMORY_PATTERN.match(str(memory).strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(
            f"Invalid memory {memory!r}: expected a positive Kubernetes quantity like '16G', '16Gi' or '512Mi'."
        )
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""] / 10**9


def pipeline_spec_of(compiled: Dict[str, Any]) -> Dict[str, Any]:
    """The PipelineSpec inside a PipelineJob JSON, or `compiled` itself if it is one."""
    spec = compiled.get("pipelineSpec", compiled)
    if "deploymentSpec" not in spec or "root" not in spec:
        raise ValueError(
            "Not a compiled KFP pipeline: expected a PipelineJob JSON with 'pipelineSpec' "
            "or a PipelineSpec with 'root' and 'deploymentSpec'."
        )
    return spec


def component_executors(pipeline_spec: Dict[str, Any]) -> Dict[str, str]:
    """Maps each task (TFX component id) to its executor label, nested DAGs included."""
    components = pipeline_spec.get("components", {})
    executors: Dict[str, str] = {}

    def visit(dag: Mapping[str, Any]) -> None:
        for task_name, task in dag.get("tasks", {}).items():
            component = components.get(task.get("componentRef", {}).get("name", ""), {})
            if "dag" in component:
                visit(component["dag"])
            elif "executorLabel" in component:
                executors[task_name] = component["executorLabel"]

    visit(pipeline_spec["root"].get("dag", {}))
    return executors


def _container_of(pipeline_spec: Dict[str, Any], component_id: str, executor_label: str) -> Dict[str, Any]:
    executor = pipeline_spec["deploymentSpec"].get("executors", {}).get(executor_label, {})
    if "container" not in executor:
        kind = next(iter(executor), "missing")
        raise ValueError(
            f"Component {component_id!r} runs no container (its executor {executor_label!r} is {kind!r}); "
            "resources apply only to container components."
        )
    return executor["container"]


def resource_spec(component_id: str, resources: ComponentResources) -> Dict[str, Any]:
    """The IR `resources` message for one component's settings."""
    spec: Dict[str, Any] = {}
    try:
        if resources.cpu is not None:
            spec["cpuLimit"] = cpu_cores(resources.cpu)
        if resources.memory is not None:
            spec["memoryLimit"] = memory_gigabytes(resources.memory)
    except ValueError as error:
        raise ValueError(f"resources.{component_id}: {error}") from None
    count = int(resources.gpu_count or 0)
    if count < 0:
        raise ValueError(f"resources.{component_id}: gpu_count must be >= 0, got {count}.")
    if count and not resources.gpu_type:
        raise ValueError(
            f"resources.{component_id}: gpu_count {count} needs gpu_type "
            f"(e.g. NVIDIA_TESLA_T4 on Vertex AI, {KUBERNETES_GPU_RESOURCE} on Kubeflow)."
        )
    if resources.gpu_type and not count:
        raise ValueError(f"resources.{component_id}: gpu_type {resources.gpu_type!r} is set but gpu_count is 0.")
    if count:
        # The IR's int64 count is a string in proto JSON.
        spec["accelerator"] = {"type": resources.gpu_type, "count": str(count)}
    return spec


def apply_component_resources(
    pipeline_spec: Dict[str, Any], resources: Mapping[str, ComponentResources]
) -> Dict[str, Any]:
    """Returns a copy of the compiled pipeline with per-component container resources.

    Args:
        pipeline_spec: PipelineJob JSON (as written by KubeflowV2DagRunner) or a bare PipelineSpec.
        resources: component id -> ComponentResources, from RunConfig.resources.

    Raises:
        ValueError: a component id is not in the pipeline (the message lists the known ones),
            the component is not a container, or a quantity is malformed.
    """
    compiled = copy.deepcopy(pipeline_spec)
    spec = pipeline_spec_of(compiled)
    executors = component_executors(spec)
    unknown = sorted(set(resources) - set(executors))
    if unknown:
        raise ValueError(
            f"resources names unknown component(s) {unknown}; "
            f"components in pipeline {spec.get('pipelineInfo', {}).get('name', '?')!r}: {sorted(executors)}."
        )
    for component_id, settings in resources.items():
        container = _container_of(spec, component_id, executors[component_id])
        container.setdefault("resources", {}).update(resource_spec(component_id, settings))
    return compiled


def container_resources(pipeline_spec: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yields (component id, resources message) for every container that has one."""
    spec = pipeline_spec_of(pipeline_spec)
    for component_id, label in sorted(component_executors(spec).items()):
        container = spec["deploymentSpec"].get("executors", {}).get(label, {}).get("container", {})
        if container.get("resources"):
            yield component_id, container["resources"]


def kubernetes_accelerators(pipeline_spec: Dict[str, Any]) -> Dict[str, Any]:
    """Returns a copy whose accelerator types are Kubernetes resource names, for Kubeflow Pipelines.

    The Kubeflow backend uses the accelerator type verbatim as the container's resource limit
    name, so Vertex AI names (NVIDIA_TESLA_T4, NVIDIA_L4, ...) become `nvidia.com/gpu`; the GPU
    model is then chosen by the node pool (see kubernetes/ overlays). TPU types have no
    Kubernetes equivalent here and raise.
    """
    compiled = copy.deepcopy(pipeline_spec)
    for component_id, resources in container_resources(compiled):
        accelerator = resources.get("accelerator")
        if not accelerator or "/" in accelerator.get("type", ""):
            continue
        if not accelerator["type"].startswith("NVIDIA_"):
            raise ValueError(
                f"Component {component_id!r} asks for accelerator {accelerator['type']!r}, which Kubeflow Pipelines "
                f"cannot schedule; use an NVIDIA type or a Kubernetes resource name like {KUBERNETES_GPU_RESOURCE!r}."
            )
        accelerator["type"] = KUBERNETES_GPU_RESOURCE
    return compiled


def apply_job_labels(pipeline_job: Dict[str, Any], labels: Mapping[str, str]) -> Dict[str, Any]:
    """Returns a copy of a PipelineJob JSON with `labels` merged into its job labels (Vertex AI).

    Raises:
        ValueError: a key or value breaks the GCP label rules (lowercase letters, digits, '_', '-';
            keys start with a letter; at most 63 characters).
    """
    if "pipelineSpec" not in pipeline_job:
        raise ValueError("Job labels need a PipelineJob JSON (with 'pipelineSpec'), not a bare PipelineSpec.")
    validate_labels(labels)
    job = copy.deepcopy(pipeline_job)
    job["labels"] = {**job.get("labels", {}), **labels}
    return job


def validate_labels(labels: Mapping[str, str]) -> None:
    for key, value in labels.items():
        if not isinstance(key, str) or not _LABEL_KEY_PATTERN.match(key):
            raise ValueError(
                f"Invalid label key {key!r}: use lowercase letters, digits, '_' or '-', starting with a letter, "
                "at most 63 characters."
            )
        if not isinstance(value, str) or not _LABEL_VALUE_PATTERN.match(value):
            raise ValueError(
                f"Invalid value {value!r} for label {key!r}: use lowercase letters, digits, '_' or '-', "
                "at most 63 characters."
            )
