"""A TransformGraph artifact as Training and serving use it: raw examples in, model inputs out.

`ImageTransformGraph(uri)` wraps `tft.TFTransformOutput(uri)`:

- `dataset(...)`: the training input pipeline. Serialized examples are
  parsed (encoded image and label) and the image goes through
  `transform_features_layer()`, batch by batch, inside tf.data.
- `transform_serialized(serialized)`: the same parse and layer, which the
  serving SavedModel's `serve_examples` runs (components/transform/serving.py).
- `statistics()`: the per-channel mean and std the Beam analyzers baked in.
- `model_on_unit_images(model)`: the model that every other component
  loads: `[B,H,W,C]` float in [0, 1] -> Normalization (those same
  constants) -> the trained model, so the suite's [0, 1] contract holds.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components.transform import preprocessing
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

NORMALIZATION_LAYER_NAME = "transform_normalization"
UNIT_MODEL_PREFIX = "unit_input_"


@dataclasses.dataclass(frozen=True)
class ChannelStatistics:
    """Per-channel mean and std `[C]` of the analyzed split's pixels in [0, 1] (0 and 1 with `normalize: none`)."""

    mean: np.ndarray
    std: np.ndarray


class ImageTransformGraph:
    """The ImageTransform output at `uri`, loaded once.

    Raises:
      ValueError: when the graph has no `image` output (not written by ImageTransform).
    """

    def __init__(self, uri: str):
        self.uri = uri
        self.output = tft.TFTransformOutput(uri)
        transformed = self.output.transformed_feature_spec()
        missing = sorted({preprocessing.IMAGE_KEY, preprocessing.CHANNEL_MEAN_KEY} - set(transformed))
        if missing:
            raise ValueError(
                f"TransformGraph at {uri} lacks the outputs {missing} (it has {sorted(transformed)}); "
                "wire ImageTransform's transform_graph output."
            )
        height, width, channels = (int(v) for v in transformed[preprocessing.IMAGE_KEY].shape)
        self.image_size: Tuple[int, int] = (height, width)
        self.channels = channels
        self._layer = None
        self._statistics: Optional[ChannelStatistics] = None

    def layer(self):
        """tf.Transform's `TransformFeaturesLayer` (a tf_keras layer), built once."""
        if self._layer is None:
            self._layer = self.output.transform_features_layer()
        return self._layer

    def transform_serialized(self, serialized: tf.Tensor) -> Dict[str, tf.Tensor]:
        """`[B]` serialized tf.Examples -> transformed features (`image` `[B,H,W,C]`, statistics `[B,C]`)."""
        raw = tf.io.parse_example(serialized, preprocessing.raw_feature_spec())
        return self.layer()(raw)

    def transform_encoded(self, encoded: tf.Tensor) -> Dict[str, tf.Tensor]:
        """`[B]` encoded PNG/JPEG bytes -> transformed features."""
        return self.layer()({features.IMAGE_ENCODED: encoded})

    def statistics(self) -> ChannelStatistics:
        """The constants the analyzers baked in, read back by transforming one blank image."""
        if self._statistics is None:
            blank = tf.io.encode_png(tf.zeros([*self.image_size, self.channels], tf.uint8))
            transformed = self.transform_encoded(tf.reshape(blank, [1]))
            self._statistics = ChannelStatistics(
                mean=transformed[preprocessing.CHANNEL_MEAN_KEY].numpy()[0],
                std=transformed[preprocessing.CHANNEL_STD_KEY].numpy()[0],
            )
        return self._statistics

    def check_data_spec(self, data_spec: DataSpecContent, image_size: Optional[Tuple[int, int]] = None) -> None:
        """ValueError (one line) when the graph was built for other channels or another configured size."""
        if data_spec.channels != self.channels:
            raise ValueError(
                f"TransformGraph at {self.uri} decodes {self.channels} channels but the DataSpec has "
                f"{data_spec.channels}; rebuild the transform from the same examples."
            )
        if image_size is not None and tuple(int(v) for v in image_size) != self.image_size:
            raise ValueError(
                f"training.image_size {list(image_size)} differs from the transform graph's {list(self.image_size)}; "
                "set the size once, in the transform section (or drop training.image_size)."
            )

    def dataset(
        self,
        examples_uri: str,
        split: str,
        data_spec: DataSpecContent,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        repeat: bool = False,
    ) -> tf.data.Dataset:
        """Batched `(transformed images [B,H,W,C], labels)` of one split, like `examples_io.load_split`.

        Labels are int class ids `[B]` (classification, -1 when absent) or
        multi-hot `[B, K]` (multilabel).
        """
        task, num_classes = data_spec.task, data_spec.num_classes
        if task not in (features.TASK_CLASSIFICATION, features.TASK_MULTILABEL):
            raise ValueError(f"The transform input pipeline reads classification data; task is {task!r}.")
        label_spec = (
            {features.LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=-1)}
            if task == features.TASK_CLASSIFICATION
            else {features.LABELS: tf.io.VarLenFeature(tf.int64)}
        )
        spec = {**preprocessing.raw_feature_spec(), **label_spec}

        def parse_batch(serialized):
            parsed = tf.io.parse_example(serialized, spec)
            images = self.layer()({features.IMAGE_ENCODED: parsed[features.IMAGE_ENCODED]})[preprocessing.IMAGE_KEY]
            if task == features.TASK_CLASSIFICATION:
                return images, tf.cast(parsed[features.LABEL], tf.int32)
            ids = tf.sparse.to_dense(parsed[features.LABELS], default_value=-1)
            labels = tf.reduce_max(tf.one_hot(ids, num_classes), axis=1)  # -1 one-hots to zeros.
            return images, tf.ensure_shape(labels, [None, num_classes])

        files = examples_io.split_files(examples_uri, split)
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
        if shuffle:
            dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.batch(batch_size).map(parse_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def model_on_unit_images(self, model: keras.Model) -> keras.Model:
        """`model` (trained on transformed images) behind the graph's normalization: takes [0, 1] images."""
        statistics = self.statistics()
        inputs = keras.Input(shape=(*self.image_size, self.channels), name="image")
        normalization = keras.layers.Normalization(
            mean=statistics.mean.tolist(), variance=np.square(statistics.std).tolist(), name=NORMALIZATION_LAYER_NAME
        )
        return keras.Model(inputs, model(normalization(inputs)), name=f"{UNIT_MODEL_PREFIX}{model.name}")


def trained_model(model: keras.Model) -> keras.Model:
    """The model trained on transformed images inside a `model_on_unit_images` wrapper (else `model` itself)."""
    names = [layer.name for layer in model.layers]
    if model.name.startswith(UNIT_MODEL_PREFIX) and NORMALIZATION_LAYER_NAME in names:
        return model.layers[names.index(NORMALIZATION_LAYER_NAME) + 1]
    return model
