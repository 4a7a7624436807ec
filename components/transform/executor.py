"""ImageTransform executor: artifact I/O around the Beam analysis (preprocessing.add_analysis)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

import tensorflow_transform.beam as tft_beam
from tfx import types
from tfx.dsl.components.base import base_beam_executor

from components.common.artifact_io import write_json
from components.common.executor_base import ComponentExecutor
from components.transform import preprocessing, spec, transform_graph
from components.types import examples_io
from components.types.beam_options import effective_beam_args

logger = logging.getLogger(__name__)


class Executor(ComponentExecutor, base_beam_executor.BaseBeamExecutor):
    """Runs the analysis on the pipeline's Beam runner (beam_pipeline_args apply) and records the statistics."""

    def __init__(self, context=None):
        super().__init__(context)
        # Without a named runner, Beam's DirectRunner would try to download Prism first.
        self._beam_pipeline_args = effective_beam_args(self._beam_pipeline_args)

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.TransformConfig)
        config, data_spec = inputs.config, inputs.data_spec
        image_size = tuple(config.image_size or examples_io.default_image_size(data_spec))
        files = examples_io.split_files(inputs.examples.uri, config.split)  # Names a missing split before Beam starts.
        output = self.single(output_dict, spec.TRANSFORM_GRAPH_KEY)
        build = preprocessing.make_preprocessing_fn(image_size, data_spec.channels, config.normalize)
        temp_dir = os.path.join(self._get_tmp_dir(), "tft")
        logger.info("ImageTransform: %s statistics of %d files of split %r at %s", config.normalize, len(files),
                    config.split, image_size)
        with self._make_beam_pipeline() as pipeline:
            with tft_beam.Context(temp_dir=temp_dir):
                preprocessing.add_analysis(pipeline, files, build, output.uri, label=config.split)
        statistics = transform_graph.ImageTransformGraph(output.uri).statistics()
        summary = {
            "normalize": config.normalize,
            "split": config.split,
            "image_size": list(image_size),
            "channels": data_spec.channels,
            "channel_mean": [float(v) for v in statistics.mean],
            "channel_std": [float(v) for v in statistics.std],
        }
        write_json(os.path.join(output.uri, spec.STATISTICS_FILE_NAME), summary)
        output.set_string_custom_property("normalize", config.normalize)
        output.set_string_custom_property("analyzed_split", config.split)
        output.set_int_custom_property("image_height", int(image_size[0]))
        output.set_int_custom_property("image_width", int(image_size[1]))
        output.set_int_custom_property("channels", int(data_spec.channels))
        output.set_string_custom_property("channel_mean", json.dumps(summary["channel_mean"]))
        output.set_string_custom_property("channel_std", json.dumps(summary["channel_std"]))
        logger.info("ImageTransform wrote %s: %s", output.uri, summary)
