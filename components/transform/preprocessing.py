"""The transform graph: decode, resize and normalize raw encoded images, with Beam-computed statistics.

`make_preprocessing_fn` builds a tf.Transform `preprocessing_fn` from the
image size and channel count (read from the DataSpec at run time). Its
analyzers (`tft.mean`, `tft.var`) run once over the train split in Beam;
their results become constants of the transform graph, which Training maps
raw examples through and the serving SavedModel applies to raw bytes, so
both see the same tensor from the same bytes.

Nothing is materialized: Beam only analyzes (`AnalyzeDataset`); the pixels
are computed inside the training input pipeline and the serving graph.

`preprocessing_fn(inputs, custom_config)` at module level is the same graph
for the stock TFX `Transform` component (`module_file=` this module,
`custom_config={"image_size": [h, w], "channels": c, "normalize": ...}`).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tfx_bsl.public import tfxio
from tensorflow_transform.tf_metadata import schema_utils

from components.types import features
from components.types.examples_io import decode_image

# Transformed features (outputs of the graph).
IMAGE_KEY = "image"  # [B, H, W, C] float32: decoded, resized, normalized.
CHANNEL_MEAN_KEY = "image_channel_mean"  # [B, C] float32: the Beam-computed mean, repeated per example.
CHANNEL_STD_KEY = "image_channel_std"  # [B, C] float32: the Beam-computed std (1 where a channel is constant).

NORMALIZE_PER_CHANNEL = "per_channel"  # (x - mean_c) / std_c over the train split's pixels, x in [0, 1].
NORMALIZE_NONE = "none"  # x in [0, 1] (decode and resize only): for backbones with their own preprocessing.
NORMALIZATIONS = (NORMALIZE_PER_CHANNEL, NORMALIZE_NONE)
# Below this a channel counts as constant; it is then centred but not scaled.
MIN_STD = 1e-6
TELEMETRY = ["tfx_autofit", "ImageTransform"]


def raw_feature_spec() -> Dict[str, tf.io.FixedLenFeature]:
    """The raw features the graph reads: the encoded image only (labels stay outside the graph)."""
    return {features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string)}


def raw_schema():
    return schema_utils.schema_from_feature_spec(raw_feature_spec())


def _check(image_size: Sequence[int], channels: int, normalize: str) -> Tuple[int, int]:
    if len(image_size) != 2 or min(int(v) for v in image_size) < 1:
        raise ValueError(f"Transform image_size must be (height, width) >= 1, got {list(image_size)}.")
    if int(channels) not in (1, 3, 4):
        raise ValueError(f"Transform channels must be 1, 3 or 4, got {channels}.")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"Transform normalize must be one of {NORMALIZATIONS}, got {normalize!r}.")
    return int(image_size[0]), int(image_size[1])


def make_preprocessing_fn(
    image_size: Sequence[int], channels: int, normalize: str = NORMALIZE_PER_CHANNEL
) -> Callable[[Mapping[str, tf.Tensor]], Dict[str, tf.Tensor]]:
    """A `preprocessing_fn`: raw `{image/encoded: [B] string}` -> the transformed features above.

    Decoding and resizing are `examples_io.decode_image` (the suite's one
    decode), so the statistics describe exactly the pixels the model sees.

    Args:
      image_size: (height, width) every image is resized to.
      channels: channels decoded (1 grey, 3 RGB, 4 RGBA).
      normalize: `per_channel` or `none` (see NORMALIZATIONS).
    """
    height, width = _check(image_size, channels, normalize)
    channels = int(channels)

    def preprocessing_fn(inputs: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        encoded = inputs[features.IMAGE_ENCODED]
        images = tf.map_fn(
            lambda one: decode_image(one, channels, (height, width)),
            encoded,
            fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
        )
        if normalize == NORMALIZE_PER_CHANNEL:
            pixels = tf.reshape(images, [-1, channels])  # Every pixel of the batch is one instance.
            mean = tft.mean(pixels, reduce_instance_dims=False, output_dtype=tf.float32)
            std = tf.sqrt(tft.var(pixels, reduce_instance_dims=False, output_dtype=tf.float32))
            std = tf.where(std > MIN_STD, std, tf.ones_like(std))
        else:
            mean, std = tf.zeros([channels]), tf.ones([channels])
        batch = tf.shape(encoded)[:1]
        return {
            IMAGE_KEY: (images - mean) / std,
            CHANNEL_MEAN_KEY: tf.tile(mean[tf.newaxis], tf.concat([batch, [1]], 0)),
            CHANNEL_STD_KEY: tf.tile(std[tf.newaxis], tf.concat([batch, [1]], 0)),
        }

    return preprocessing_fn


def preprocessing_fn(inputs: Mapping[str, tf.Tensor], custom_config: Optional[Dict[str, Any]] = None):
    """The stock TFX `Transform` entry point: the graph of `make_preprocessing_fn(**custom_config)`.

    `custom_config`: {"image_size": [height, width], "channels": int, "normalize": str (default per_channel)}.
    """
    config = dict(custom_config or {})
    missing = sorted({"image_size", "channels"} - set(config))
    if missing:
        raise ValueError(f"Transform custom_config needs {missing} (image size and channels of the DataSpec).")
    normalize = config.get("normalize", NORMALIZE_PER_CHANNEL)
    return make_preprocessing_fn(config["image_size"], config["channels"], normalize)(inputs)


def add_analysis(pipeline, file_pattern: Sequence[str], preprocessing: Callable, output_dir: str, label: str = "train"):
    """Adds read -> AnalyzeDataset -> WriteTransformFn to `pipeline` (call inside `tft_beam.Context`).

    Args:
      file_pattern: the split's GZIP TFRecord files of tf.Examples.
      output_dir: where `transform_fn/` and `transformed_metadata/` go (a TransformGraph artifact's URI).
      label: the split name, for the Beam stage labels (`Name[split]`).
    """
    source = tfxio.TFExampleRecord(
        file_pattern=list(file_pattern), schema=raw_schema(), telemetry_descriptors=TELEMETRY
    )
    raw = pipeline | f"ReadExamples[{label}]" >> source.BeamSource()
    transform_fn = (raw, source.TensorAdapterConfig()) | f"AnalyzeDataset[{label}]" >> tft_beam.AnalyzeDataset(
        preprocessing
    )
    return transform_fn | f"WriteTransformFn[{label}]" >> tft_beam.WriteTransformFn(output_dir)
