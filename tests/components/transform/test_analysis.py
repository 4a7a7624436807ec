"""ImageTransform's Beam analysis: per-channel statistics equal numpy's, on one process and on two."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from components.transform import preprocessing
from components.transform.spec import STATISTICS_FILE_NAME, TransformConfig
from components.transform.transform_graph import ImageTransformGraph
from components.types import config_json, examples_io
from tests.components.transform.helpers import REPO_ROOT, run_transform, serialized_records, unit_images
from tests.support.canonical import artifact_pair


def test_config_is_checked_when_built():
    with pytest.raises(ValueError, match="normalize must be one of"):
        TransformConfig(normalize="imagenet")
    with pytest.raises(ValueError, match="image_size"):
        TransformConfig(image_size=(0, 8))
    with pytest.raises(ValueError, match="statistics of held-out splits leak"):
        TransformConfig(split="eval")
    with pytest.raises(ValueError, match="Unknown TransformConfig option"):
        config_json.coerce_config(TransformConfig, {"normalise": "none"})
    assert config_json.config_from_json(TransformConfig, '{"image_size": [8, 6]}').image_size == (8, 6)


def test_stock_transform_entry_point_needs_size_and_channels():
    with pytest.raises(ValueError, match=r"custom_config needs \['channels'\]"):
        preprocessing.preprocessing_fn({}, {"image_size": [8, 8]})


@pytest.mark.parametrize(
    "beam_args",
    [
        pytest.param([], id="one_process"),
        # Two worker processes each import TF and TFT: ~75 s on a loaded 2-core machine.
        pytest.param(
            ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
            id="multi_processing",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_channel_statistics_match_numpy(tmp_path, monkeypatch, beam_args):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
    examples, data_spec_artifact, data_spec = artifact_pair(tmp_path, {"train": 9, "eval": 3}, size=10, channels=3)
    graph_artifact = run_transform(examples, data_spec_artifact, str(tmp_path), beam_pipeline_args=beam_args)

    # Reference: numpy over every train pixel after the suite's own decode at the DataSpec's size (10x10).
    pixels = unit_images(serialized_records(examples.uri, "train"), 3, (10, 10)).reshape(-1, 3).astype(np.float64)
    graph = ImageTransformGraph(graph_artifact.uri)
    statistics = graph.statistics()
    np.testing.assert_allclose(statistics.mean, pixels.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(statistics.std, pixels.std(axis=0), atol=1e-5)
    assert graph.image_size == (10, 10) and graph.channels == 3
    summary = json.loads(open(os.path.join(graph_artifact.uri, STATISTICS_FILE_NAME)).read())
    assert summary["image_size"] == [10, 10] and summary["split"] == "train"
    np.testing.assert_allclose(json.loads(graph_artifact.get_string_custom_property("channel_mean")), statistics.mean)
    assert graph_artifact.get_string_custom_property("normalize") == "per_channel"
    # The eval split was not analyzed: statistics of train alone.
    both = unit_images(serialized_records(examples.uri, "eval"), 3, (10, 10)).reshape(-1, 3)
    assert not np.allclose(np.concatenate([pixels, both]).mean(axis=0), statistics.mean, atol=1e-7)


def test_normalize_none_decodes_and_resizes_only(tmp_path):
    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 4, "eval": 2}, size=12, channels=1)
    config = TransformConfig(normalize="none", image_size=(6, 8))
    graph = ImageTransformGraph(run_transform(examples, data_spec_artifact, str(tmp_path), config).uri)
    serialized = serialized_records(examples.uri, "eval")
    transformed = graph.transform_serialized(tf.constant(serialized))[preprocessing.IMAGE_KEY].numpy()
    assert transformed.shape == (2, 6, 8, 1)
    np.testing.assert_allclose(transformed, unit_images(serialized, 1, (6, 8)), atol=1e-6)
    np.testing.assert_array_equal(graph.statistics().mean, [0.0])
    np.testing.assert_array_equal(graph.statistics().std, [1.0])


def test_graph_without_image_output_is_refused(tmp_path):
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam

    examples, _, _ = artifact_pair(tmp_path, {"train": 2})
    files = examples_io.split_files(examples.uri, "train")
    with beam.Pipeline(argv=["--runner=FnApiRunner"]) as pipeline:
        with tft_beam.Context(temp_dir=str(tmp_path / "tmp")):
            only_raw = lambda inputs: {"raw": inputs["image/encoded"]}  # noqa: E731
            preprocessing.add_analysis(pipeline, files, only_raw, str(tmp_path / "g"))
    with pytest.raises(ValueError, match=r"lacks the outputs \['image', 'image_channel_mean'\]"):
        ImageTransformGraph(str(tmp_path / "g"))
