"""The Model artifact layout every component reads and writes.

    <uri>/model.keras          bare Keras 3 model (probabilities out)
    <uri>/Format-Serving/      SavedModel: `serving_default` on float images,
                               `serve_examples` on serialized tf.Examples (with a
                               transform graph: through it, plus `serve_image_bytes`
                               and `transform_features`; components/transform)
    <uri>/history.json         per-epoch training curves
    <uri>/metrics.json         held-out metrics (also MLMD custom properties)
    <uri>/TRUSTED_MODULE_CODE  present only when the user opted in to arbitrary
                               code in the model (Lambda layers); such a model
                               loads with Keras safe mode off

All paths go through tf.io.gfile / Keras' remote-path handling, so a model
artifact on gs:// (or ram:// in tests) reads and writes like a local one.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any, Dict, List, Optional

import keras
import tensorflow as tf

from components.common.artifact_io import read_json, write_json, write_text  # noqa: F401 (re-exported)
from components.types import features
from components.types.examples_io import decode_image

logger = logging.getLogger(__name__)

KERAS_FILE_NAME = "model.keras"
SERVING_DIR_NAME = "Format-Serving"
HISTORY_FILE_NAME = "history.json"
METRICS_FILE_NAME = "metrics.json"
# Marker file and MLMD custom property of a model whose code the user declared trusted
# (TrainingConfig.trust_module_code): it may hold Lambda layers, which Keras safe mode refuses.
TRUSTED_CODE_FILE_NAME = "TRUSTED_MODULE_CODE"
TRUSTED_CODE_PROPERTY = "trust_module_code"


def keras_path(model_uri: str) -> str:
    return os.path.join(model_uri, KERAS_FILE_NAME)


def serving_path(model_uri: str) -> str:
    return os.path.join(model_uri, SERVING_DIR_NAME)


def trusted_code_path(model_uri: str) -> str:
    return os.path.join(model_uri, TRUSTED_CODE_FILE_NAME)


# Modules whose custom Keras layers can appear in a saved model. Keras finds a layer
# only after its module registered it, and a component on a cluster runs in a fresh process.
# Detection/segmentation artifacts carry this file; their models use keras-hub layers (a slow import).
TASK_MODEL_FILE_NAME = "task_model.json"
DETECTION_LAYER_MODULE = "components.training.detection_layers"
CUSTOM_LAYER_MODULES = (
    "augment_ops.layers",
    "components.calibration.layers",
    "components.noisy_student.noise",
)


def register_custom_layers() -> None:
    for module in CUSTOM_LAYER_MODULES:
        importlib.import_module(module)


def lambda_layer_names(model: keras.Model) -> List[str]:
    """Paths of every keras.layers.Lambda in `model`, nested models included ("outer/inner/lambda")."""
    found: List[str] = []

    def visit(layer, prefix: str) -> None:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.layers.Lambda):
            found.append(path)
        for child in getattr(layer, "layers", None) or []:
            visit(child, f"{path}/")

    for layer in model.layers:
        visit(layer, "")
    return found


def is_trusted_code(model_uri: str) -> bool:
    """Whether the artifact was written with TrainingConfig.trust_module_code on."""
    return tf.io.gfile.exists(trusted_code_path(model_uri))


def mark_trusted_code(model_uri: str) -> None:
    """Writes the marker file that lets load_model turn Keras safe mode off for this artifact."""
    tf.io.gfile.makedirs(model_uri)
    write_text(
        trusted_code_path(model_uri),
        "The user set trust_module_code: this model may run arbitrary Python (Lambda layers) when loaded.\n",
    )


def load_model(model_uri: str) -> keras.Model:
    """The artifact's Keras model, uncompiled.

    Keras safe mode (no deserialized Python lambdas) stays on unless the artifact
    carries the trusted-code marker written by Training with trust_module_code on.
    """
    register_custom_layers()
    if tf.io.gfile.exists(os.path.join(model_uri, TASK_MODEL_FILE_NAME)):
        importlib.import_module(DETECTION_LAYER_MODULE)  # keras-hub layers: imported only for such models
    path = keras_path(model_uri)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Model artifact at {model_uri} has no {KERAS_FILE_NAME}.")
    trusted = is_trusted_code(model_uri)
    if trusted:
        logger.warning("Loading %s with Keras safe mode off: the user marked its module code trusted.", model_uri)
    return keras.saving.load_model(path, compile=False, safe_mode=not trusted)


def classify(model: keras.Model, images: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The classifier signature's outputs: the model's probabilities."""
    return {"probabilities": model(images, training=False)}


def export_serving(
    model: keras.Model, export_dir: str, infer=classify, image_size=None, channels=None, examples_signature=None
) -> None:
    """Writes a SavedModel with an image signature and a tf.Example signature.

    Args:
      infer: `(model, images [B,H,W,C] float in [0,1]) -> dict of outputs`, the same for both signatures
        (detection and segmentation pass their post-processing here).
      image_size, channels: the serving input; default the model's own input shape.
      examples_signature: serves raw examples through a tf.Transform graph instead of the built-in decode
        (`components.transform.serving.TransformedExamples`): it gives `serve_examples(serialized, infer)`,
        the `resources` to track and extra `endpoints(infer)` (name, function, input signature).
    """
    height, width, model_channels = model.input_shape[1:4]
    if image_size is not None:
        height, width = int(image_size[0]), int(image_size[1])
    channels = int(channels if channels is not None else model_channels)

    def serve_images(images):
        return infer(model, images)

    def serve_examples(serialized):
        parsed = tf.io.parse_example(serialized, {features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string)})
        images = tf.map_fn(
            lambda encoded: decode_image(encoded, channels, (height, width)),
            parsed[features.IMAGE_ENCODED],
            fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
        )
        return infer(model, images)

    archive = keras.export.ExportArchive()
    archive.track(model)
    if examples_signature is not None:
        for resource in examples_signature.resources:
            archive.track(resource)

        def serve_examples(serialized):  # noqa: F811 (the transform graph's decode replaces the built-in one)
            return examples_signature.serve_examples(serialized, infer)

        for name, function, signature in examples_signature.endpoints(infer):
            archive.add_endpoint(name, function, input_signature=signature)
    archive.add_endpoint(
        "serving_default", serve_images, input_signature=[tf.TensorSpec([None, height, width, channels], tf.float32)]
    )
    archive.add_endpoint("serve_examples", serve_examples, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(export_dir, verbose=False)


def save_model_artifact(
    model: keras.Model,
    model_uri: str,
    history: Optional[Dict[str, Any]] = None,
    metrics: Optional[Dict[str, float]] = None,
    export: bool = True,
    examples_signature=None,
) -> None:
    """Writes the artifact layout above (`examples_signature`: see `export_serving`).

    A model holding Lambda layers exists only because the user opted in to trusted code (Training
    refuses it otherwise and safe-mode loading refuses it), so a model derived from one (calibrated,
    ensembled, ...) carries the trusted-code marker on, and downstream components can load it.
    """
    tf.io.gfile.makedirs(model_uri)
    model.save(keras_path(model_uri))
    if lambda_layer_names(model):
        mark_trusted_code(model_uri)
    if export:
        export_serving(model, serving_path(model_uri), examples_signature=examples_signature)
    if history is not None:
        write_json(os.path.join(model_uri, HISTORY_FILE_NAME), history)
    if metrics is not None:
        write_json(os.path.join(model_uri, METRICS_FILE_NAME), metrics)
