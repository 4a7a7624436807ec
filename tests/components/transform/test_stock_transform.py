"""The same preprocessing_fn through the stock TFX Transform executor: its graph is one Training can read."""

import json
import os

import numpy as np
import pytest
from tfx.components.transform.executor import Executor
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components.transform import preprocessing
from components.transform.transform_graph import ImageTransformGraph
from tests.components.transform.helpers import serialized_records, unit_images
from tests.support.canonical import artifact_pair


@pytest.mark.slow  # ~20-25 s on a loaded 2-core machine: the alternative path, not the one Training uses by default.
def test_stock_transform_writes_a_graph_with_the_same_statistics(tmp_path):
    examples, _, _ = artifact_pair(tmp_path, {"train": 6, "eval": 3}, size=10, channels=3)
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    os.makedirs(schema.uri)
    io_utils.write_pbtxt_file(os.path.join(schema.uri, "schema.pbtxt"), preprocessing.raw_schema())
    graph = standard_artifacts.TransformGraph()
    graph.uri = str(tmp_path / "transform_graph")
    context = Executor.Context(
        beam_pipeline_args=["--runner=FnApiRunner"], tmp_dir=str(tmp_path / "tmp"), unique_id="1"
    )
    Executor(context).Do(
        {"examples": [examples], "schema": [schema]},
        {"transform_graph": [graph]},
        {
            "module_path": preprocessing.__name__,
            "custom_config": json.dumps({"image_size": [8, 8], "channels": 3}),
            "disable_statistics": 1,
            "force_tf_compat_v1": 0,
        },
    )
    loaded = ImageTransformGraph(graph.uri)
    pixels = unit_images(serialized_records(examples.uri, "train"), 3, (8, 8)).reshape(-1, 3).astype(np.float64)
    assert loaded.image_size == (8, 8)
    np.testing.assert_allclose(loaded.statistics().mean, pixels.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(loaded.statistics().std, pixels.std(axis=0), atol=1e-5)
