"""Compiles a pipeline to KFP IR JSON for Kubeflow Pipelines and Vertex AI Pipelines."""

from __future__ import annotations

import json
import os
from tfx import v1 as tfx

from pipelines.config import RunConfig
from pipelines.pipeline import create_pipeline

TARGETS = ("kubeflow", "vertex")


def compile_pipeline(
    config: RunConfig, output_path: str, target: str = "kubeflow", pipeline=None, plan=None
) -> str:
    """Writes the pipeline JSON (IR schema 2.x); every component runs in `config.image`.

    Kubeflow Pipelines v2 and Vertex AI Pipelines read the same IR; `target`
    only checks the settings each needs (Vertex needs a gs:// pipeline root).
    `plan` is the autofit plan (pipelines.autofit.run.plan_for_compile); None compiles the fixed chain.
    """
    if target not in TARGETS:
        raise ValueError(f"Unknown compile target {target!r}; choose one of {TARGETS}.")
    if target == "vertex" and not config.pipeline_root.startswith("gs://"):
        raise ValueError(
            f"Vertex AI Pipelines need a gs:// pipeline root; run_dir is {config.run_dir!r}. "
            "Set run_dir: gs://BUCKET/PATH in the config."
        )
    pipeline = pipeline or create_pipeline(config, metadata_connection=None, plan=plan)
    directory = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(directory, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=config.image),
        output_dir=directory,
        output_filename=os.path.basename(output_path),
    )
    runner.run(pipeline, write_out=True)
    if config.resources:
        _apply_resources(output_path, config)
    return output_path


def _apply_resources(output_path: str, config: RunConfig) -> None:
    from pipelines.resources import apply_component_resources

    with open(output_path) as handle:
        spec = json.load(handle)
    spec = apply_component_resources(spec, config.resources)
    with open(output_path, "w") as handle:
        json.dump(spec, handle, indent=2, sort_keys=True)


def read_compiled(output_path: str) -> dict:
    with open(output_path) as handle:
        return json.load(handle)


def component_images(compiled: dict) -> dict:
    """{executor label: image} from a compiled pipeline JSON."""
    spec = compiled.get("pipelineSpec", compiled)
    executors = spec["deploymentSpec"]["executors"]
    return {name: body.get("container", {}).get("image") for name, body in executors.items()}

