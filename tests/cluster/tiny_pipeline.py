"""A two-step TFX pipeline compiled with KubeflowV2DagRunner, standing in for the real one in submission tests."""


import json
import os
from typing import Any, Dict

from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model

PIPELINE_NAME = "tiny-autofit"
IMAGE = "tfx-autofit:0.1.0"


@component
def ExampleMaker(examples: OutputArtifact[Examples], count: Parameter[int] = 3) -> None:
    del examples, count  # Never executed: the tests only compile.


@component
def Training(examples: InputArtifact[Examples], model: OutputArtifact[Model], epochs: Parameter[int] = 1) -> None:
    del examples, model, epochs


def compile_tiny_pipeline(output_dir: str, pipeline_root: str) -> Dict[str, Any]:
    """Compiles ExampleMaker -> Training (with an `epochs` runtime parameter); returns the JSON."""
    examples = ExampleMaker(count=2)
    training = Training(
        examples=examples.outputs["examples"],
        epochs=tfx.dsl.experimental.RuntimeParameter(name="epochs", ptype=int, default=1),
    )
    pipeline = tfx.dsl.Pipeline(pipeline_name=PIPELINE_NAME, pipeline_root=pipeline_root, components=[examples, training])
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=IMAGE),
        output_dir=output_dir,
        output_filename="tiny.json",
    )
    runner.run(pipeline)
    with open(os.path.join(output_dir, "tiny.json")) as handle:
        return json.load(handle)
