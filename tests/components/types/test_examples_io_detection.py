"""load_detection_split: boxes and labels come back padded and aligned with their images."""

import os

import numpy as np
import pytest
import tensorflow as tf

from components.types import examples_io, features
from components.types.data_spec import read_data_spec
from tests.support.shapes import shape_detection_set, write_shape_detection_examples


def test_detection_split_round_trips_boxes_and_labels(tmp_path):
    examples_uri, spec_uri = str(tmp_path / "examples"), str(tmp_path / "spec")
    write_shape_detection_examples(examples_uri, spec_uri, {"train": 6, "eval": 3}, shape="square", size=32, seed=4)
    spec = read_data_spec(spec_uri)
    images, boxes, labels = examples_io.load_detection_split(examples_uri, "train", spec)
    expected_images, expected_boxes, expected_labels = shape_detection_set(6, "square", size=32, seed=4)
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected_images, atol=1 / 255)
    most = int((expected_labels >= 0).sum(axis=1).max())
    assert boxes.shape == (6, most, 4) and labels.shape == (6, most)
    for row in range(6):
        kept = expected_labels[row] >= 0
        np.testing.assert_allclose(boxes[row][: kept.sum()], expected_boxes[row][kept], atol=1e-6)
        assert np.all(boxes[row][kept.sum():] == -1) and np.all(labels[row][kept.sum():] == -1)
    # Resizing the images leaves normalized boxes as they are.
    small, small_boxes, _ = examples_io.load_detection_split(examples_uri, "train", spec, image_size=(16, 16))
    assert small.shape == (6, 16, 16, 3)
    np.testing.assert_array_equal(small_boxes, boxes)


def test_detection_split_names_a_record_with_misaligned_box_lists(tmp_path):
    examples_uri, spec_uri = str(tmp_path / "examples"), str(tmp_path / "spec")
    write_shape_detection_examples(examples_uri, spec_uri, {"train": 2}, size=16)
    spec = read_data_spec(spec_uri)
    image = tf.io.encode_png(tf.zeros([16, 16, 3], tf.uint8)).numpy()
    example = examples_io.make_example(image, 16, 16, 3, "broken.png", boxes=[[0.1, 0.1, 0.5, 0.5]], box_labels=[0, 0])
    path = os.path.join(examples_io.split_directory(examples_uri, "train"), "data-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        writer.write(example.SerializeToString())
    with pytest.raises(ValueError, match="'broken.png'.*differ in length"):
        examples_io.load_detection_split(examples_uri, "train", spec)
    classification = spec.__class__(**{**spec.__dict__, "task": features.TASK_CLASSIFICATION})
    with pytest.raises(ValueError, match="reads detection data"):
        examples_io.load_detection_split(examples_uri, "train", classification)


def test_detection_batches_stream_what_the_whole_split_loads(tmp_path):
    examples_uri, spec_uri = str(tmp_path / "examples"), str(tmp_path / "spec")
    write_shape_detection_examples(examples_uri, spec_uri, {"train": 7}, shape="square", size=16, seed=2)
    spec = read_data_spec(spec_uri)
    images, boxes, labels = examples_io.load_detection_split(examples_uri, "train", spec)
    batches = list(examples_io.detection_batches(examples_uri, "train", spec, batch_size=3))
    assert [len(batch[0]) for batch in batches] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([batch[0] for batch in batches]), images)
    for start, (_, batch_boxes, batch_labels) in zip((0, 3, 6), batches):
        width = batch_labels.shape[1]
        np.testing.assert_array_equal(batch_labels, labels[start : start + len(batch_labels), :width])
        np.testing.assert_array_equal(batch_boxes, boxes[start : start + len(batch_boxes), :width])
        assert np.all(labels[start : start + len(batch_labels), width:] == -1)
    with pytest.raises(ValueError, match="batch_size"):
        next(examples_io.detection_batches(examples_uri, "train", spec, batch_size=0))
