"""Running the ImageTransform executor on tiny canonical data, shared by the transform tests."""

import os

import numpy as np
import tensorflow as tf
from tfx.types import standard_artifacts

from components.transform.executor import Executor
from components.transform.spec import CONFIG_KEY, TRANSFORM_GRAPH_KEY, TransformConfig
from components.types import config_json, examples_io

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def run_transform(examples, data_spec_artifact, output_dir, config=None, beam_pipeline_args=()):
    """Do() of ImageTransform; returns the TransformGraph artifact."""
    graph = standard_artifacts.TransformGraph()
    graph.uri = os.path.join(output_dir, "transform_graph")
    context = Executor.Context(
        beam_pipeline_args=list(beam_pipeline_args), tmp_dir=os.path.join(output_dir, "tmp"), unique_id="1"
    )
    Executor(context).Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]},
        {TRANSFORM_GRAPH_KEY: [graph]},
        {CONFIG_KEY: config_json.config_to_json(config or TransformConfig())},
    )
    return graph


def serialized_records(examples_uri, split):
    files = examples_io.split_files(examples_uri, split)
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def unit_images(serialized, channels, image_size):
    """The [0, 1] images the suite's own decode gives (`examples_io.decode_image`), `[N,H,W,C]`."""
    spec = {"image/encoded": tf.io.FixedLenFeature([], tf.string)}
    return np.stack(
        [
            examples_io.decode_image(tf.io.parse_single_example(record, spec)["image/encoded"], channels, image_size)
            .numpy()
            for record in serialized
        ]
    )
