"""Tiny canonical Examples, DataSpec and Keras models with known outputs.

The "brightness" model averages the image and applies a fixed softmax: class
1 when the mean pixel is above 0.5, class 0 below, with probabilities we can
compute by hand (`expected_probabilities`).
"""

import os

import numpy as np
import tensorflow as tf

from components.types import data_spec as data_spec_lib
from components.types import examples_io, features

IMAGE_SIZE = 8
CHANNELS = 3
CLASS_NAMES = ["dark", "bright"]
DARK, BRIGHT = 25, 230
# (gray level, label): the last eval record is a bright image labeled dark, so
# the brightness model scores 5/6 and its mirror image 1/6.
EVAL_RECORDS = [(DARK, 0), (DARK, 0), (DARK, 0), (BRIGHT, 1), (BRIGHT, 1), (BRIGHT, 0)]
TEST_RECORDS = [(DARK, 0), (BRIGHT, 1), (DARK, 0), (BRIGHT, 1)]
SLOPE = 20.0  # logit(bright) - logit(dark) = sign * SLOPE * (mean - 0.5)


def expected_probabilities(gray_levels, sign=1.0):
    """`[N, 2]` softmax of the brightness model for constant gray images."""
    margin = sign * SLOPE * (np.asarray(gray_levels, dtype=np.float64) / 255.0 - 0.5)
    bright = 1.0 / (1.0 + np.exp(-margin))
    return np.stack([1.0 - bright, bright], axis=1)


def brightness_model(input_shape=(IMAGE_SIZE, IMAGE_SIZE, CHANNELS), sign=1.0, activation="softmax"):
    import keras

    inputs = keras.Input(input_shape)
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(2, activation=activation)
    model = keras.Model(inputs, dense(pooled))
    half = sign * SLOPE / 2 / CHANNELS
    kernel = np.tile(np.array([[-half, half]], dtype=np.float32), (CHANNELS, 1))
    bias = np.array([sign * SLOPE / 4, -sign * SLOPE / 4], dtype=np.float32)
    dense.set_weights([kernel, bias])
    return model


def save_model(model, uri):
    os.makedirs(uri, exist_ok=True)
    model.save(os.path.join(uri, "model.keras"))
    return uri


def gray_png(level):
    image = tf.fill([IMAGE_SIZE, IMAGE_SIZE, CHANNELS], tf.constant(level, tf.uint8))
    return tf.io.encode_png(image).numpy()


def write_split(examples_uri, split, records):
    """Records are (gray level, label id) or, for multilabel, (gray level, [label ids])."""
    directory = examples_io.split_directory(examples_uri, split)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "data-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for index, (level, label) in enumerate(records):
            label_field = {"labels": label} if isinstance(label, list) else {"label": label}
            example = examples_io.make_example(
                gray_png(level), IMAGE_SIZE, IMAGE_SIZE, CHANNELS, f"{split}/{index}.png", **label_field
            )
            writer.write(example.SerializeToString())


def make_data_spec(task=features.TASK_CLASSIFICATION, splits=None):
    def split_stats(records):
        counts = {
            name: sum(1 for _, label in records if index in (label if isinstance(label, list) else [label]))
            for index, name in enumerate(CLASS_NAMES)
        }
        return data_spec_lib.SplitStats(count=len(records), per_class=counts)

    size = data_spec_lib.SizeStats(minimum=IMAGE_SIZE, maximum=IMAGE_SIZE, mean=IMAGE_SIZE)
    return data_spec_lib.DataSpecContent(
        task=task,
        class_names=list(CLASS_NAMES),
        channels=CHANNELS,
        source_format="test",
        height=size,
        width=size,
        splits={
            name: split_stats(records)
            for name, records in (splits or {"eval": EVAL_RECORDS, "test": TEST_RECORDS}).items()
        },
    )
