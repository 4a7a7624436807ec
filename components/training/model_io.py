"""The Model artifact layout every component reads and writes.

    <uri>/model.keras        bare Keras 3 model (probabilities out)
    <uri>/Format-Serving/    SavedModel: `serving_default` on float images,
                             `serve_examples` on serialized tf.Examples
    <uri>/history.json       per-epoch training curves
    <uri>/metrics.json       held-out metrics (also MLMD custom properties)
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any, Dict, Optional

import keras
import tensorflow as tf

from components.types import features
from components.types.examples_io import decode_image

KERAS_FILE_NAME = "model.keras"
SERVING_DIR_NAME = "Format-Serving"
HISTORY_FILE_NAME = "history.json"
METRICS_FILE_NAME = "metrics.json"


def keras_path(model_uri: str) -> str:
    return os.path.join(model_uri, KERAS_FILE_NAME)


def serving_path(model_uri: str) -> str:
    return os.path.join(model_uri, SERVING_DIR_NAME)


# Modules whose custom Keras layers can appear in a saved model. Keras finds a layer
# only after its module registered it, and a component on a cluster runs in a fresh process.
CUSTOM_LAYER_MODULES = (
    "augment_ops.layers",
    "components.calibration.layers",
    "components.noisy_student.noise",
)


def register_custom_layers() -> None:
    for module in CUSTOM_LAYER_MODULES:
        importlib.import_module(module)


def load_model(model_uri: str) -> keras.Model:
    register_custom_layers()
    path = keras_path(model_uri)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Model artifact at {model_uri} has no {KERAS_FILE_NAME}.")
    return keras.saving.load_model(path, compile=False)


def export_serving(model: keras.Model, export_dir: str) -> None:
    """Writes a SavedModel with an image signature and a tf.Example signature."""
    height, width, channels = model.input_shape[1:4]

    def serve_images(images):
        return {"probabilities": model(images, training=False)}

    def serve_examples(serialized):
        parsed = tf.io.parse_example(serialized, {features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string)})
        images = tf.map_fn(
            lambda encoded: decode_image(encoded, channels, (height, width)),
            parsed[features.IMAGE_ENCODED],
            fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
        )
        return {"probabilities": model(images, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serving_default", serve_images, input_signature=[tf.TensorSpec([None, height, width, channels], tf.float32)]
    )
    archive.add_endpoint("serve_examples", serve_examples, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(export_dir, verbose=False)


def write_json(path: str, payload: Any) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=True))


def read_json(path: str) -> Any:
    with tf.io.gfile.GFile(path) as handle:
        return json.loads(handle.read())


def save_model_artifact(
    model: keras.Model,
    model_uri: str,
    history: Optional[Dict[str, Any]] = None,
    metrics: Optional[Dict[str, float]] = None,
    export: bool = True,
) -> None:
    tf.io.gfile.makedirs(model_uri)
    model.save(keras_path(model_uri))
    if export:
        export_serving(model, serving_path(model_uri))
    if history is not None:
        write_json(os.path.join(model_uri, HISTORY_FILE_NAME), history)
    if metrics is not None:
        write_json(os.path.join(model_uri, METRICS_FILE_NAME), metrics)


def record_metrics(artifact, metrics: Dict[str, float], prefix: str = "") -> None:
    """Metrics as MLMD custom properties, so tfx.dsl.Cond and autofit read them from lineage."""
    for name, value in metrics.items():
        if isinstance(value, (int, float)):
            artifact.set_float_custom_property(f"{prefix}{name}", float(value))
