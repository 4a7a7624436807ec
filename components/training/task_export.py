"""Detection and segmentation models: inference in the pivot box format, and their serving export.

The Model artifact keeps the suite's layout (components/common/model_io.py):
`model.keras`, `Format-Serving/` (SavedModel), `history.json`, `metrics.json`.
What differs is what the SavedModel returns:

detection (`serving_default` on float images `[B,H,W,C]` in [0,1], and
`serve_examples` on serialized tf.Examples carrying raw `image/encoded`):
    boxes           float32 [B,D,4] normalized (ymin, xmin, ymax, xmax),
                    the TF-OD convention; rows past num_detections are -1
    scores          float32 [B,D], 0 past num_detections
    classes         int32 [B,D] DataSpec class ids, -1 past num_detections
    num_detections  int32 [B]
  after per-class non-max suppression (IoU 0.5, score >= 0.05, at most 100). Users who want VOC/COCO/YOLO
  boxes convert them with `augment_ops.box_formats.from_pivot`.

segmentation (same two signatures):
    class_ids       int32 [B,H,W] per-pixel argmax
    probabilities   float32 [B,H,W,K]

Keras-hub detectors predict boxes in their own `bounding_box_format`; the
conversion to the pivot goes through `augment_ops.box_formats` (one table
below), so there is a single definition of every box format in the suite.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional

import keras
import tensorflow as tf

from augment_ops import box_formats
from components.common import model_io
from components.common.artifact_io import write_json
from components.types import features

logger = logging.getLogger(__name__)

MAX_DETECTIONS = 100
NMS_IOU_THRESHOLD = 0.5
SCORE_THRESHOLD = 0.05  # low, so COCO's precision-recall curve sees low-confidence detections

# keras bounding_box_format -> augment_ops.box_formats format (same coordinates, same order).
KERAS_BOX_FORMATS = {
    "xyxy": box_formats.VOC,
    "xywh": box_formats.COCO,
    "rel_yxyx": box_formats.TF,
    "rel_xyxy": box_formats.ALBUMENTATIONS,
}


def register_library_layers() -> None:
    """Imports keras-hub and our detector layers so `model.keras` deserializes in a fresh process."""
    import keras_hub  # noqa: F401

    from components.training import detection_layers  # noqa: F401


def load_task_model(model_uri: str) -> keras.Model:
    """The artifact's Keras model (keras-hub classes registered first)."""
    register_library_layers()
    return model_io.load_model(model_uri)


def pivot_format(model: keras.Model) -> str:
    """The box_formats name of a keras-hub detector's `bounding_box_format`."""
    keras_format = getattr(model, "bounding_box_format", None)
    if keras_format not in KERAS_BOX_FORMATS:
        raise ValueError(
            f"Detector {model.name!r} predicts boxes in {keras_format!r}; supported formats are "
            f"{sorted(KERAS_BOX_FORMATS)} (pass bounding_box_format= to the keras-hub detector)."
        )
    return KERAS_BOX_FORMATS[keras_format]


def detect(model: keras.Model, images: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Runs a keras-hub RetinaNet-style detector; boxes come back in the pivot format after NMS.

    The raw head outputs are decoded against the model's own anchors with
    keras' box coder, converted to the pivot through box_formats, then
    reduced by `tf.image.combined_non_max_suppression` (per-class NMS, the
    TF Object Detection API's post-processing). Unlike keras-hub's
    NonMaxSuppression layer it takes a dynamic batch, which serving needs.

    Args:
      model: a keras-hub ObjectDetector with `anchor_generator`,
        `bounding_box_format` and outputs {bbox_regression, cls_logits},
        e.g. the one `detection.build_detector` makes.
      images: `[B,H,W,C]` float32 in [0,1] with static H and W.

    Returns:
      The serving dict described in the module docstring.
    """
    if not hasattr(model, "anchor_generator"):
        raise ValueError(
            f"Model {model.name!r} is not a keras-hub anchor-based ObjectDetector (no anchor_generator); "
            "detection models must be RetinaNet-style (outputs bbox_regression and cls_logits)."
        )
    images = tf.convert_to_tensor(images, tf.float32)
    return decode_detections(model, images, model(images, training=False))


def decode_detections(model: keras.Model, images: tf.Tensor, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Raw RetinaNet outputs {bbox_regression [B,A,4], cls_logits [B,A,K]} -> the serving dict (see `detect`)."""
    height, width, channels = images.shape[1:]
    anchors = tf.concat(list(model.anchor_generator(images).values()), axis=0)
    library_boxes = keras.utils.bounding_boxes.decode_deltas_to_boxes(
        anchors=anchors,
        boxes_delta=raw["bbox_regression"],
        encoded_format="center_xywh",  # what keras-hub's RetinaNet label encoder and decoder use
        variance=getattr(getattr(model, "label_encoder", None), "box_variance", None),  # the encoder's scaling
        anchor_format=model.anchor_generator.bounding_box_format,
        box_format=model.bounding_box_format,
        image_shape=(height, width, channels),
    )
    boxes = box_formats.to_pivot(tf.cast(library_boxes, tf.float32), pivot_format(model), image_size=(height, width))
    logits = tf.cast(raw["cls_logits"], tf.float32)
    scores = logits if getattr(model, "activation", None) is keras.activations.sigmoid else tf.sigmoid(logits)
    nms = tf.image.combined_non_max_suppression(
        tf.cast(boxes, tf.float32)[:, :, None, :], scores, max_output_size_per_class=MAX_DETECTIONS,
        max_total_size=MAX_DETECTIONS, iou_threshold=NMS_IOU_THRESHOLD, score_threshold=SCORE_THRESHOLD,
        clip_boxes=True,
    )
    count = tf.cast(nms.valid_detections, tf.int32)
    present = tf.range(MAX_DETECTIONS)[None, :] < count[:, None]
    return {
        "boxes": tf.where(present[..., None], nms.nmsed_boxes, -1.0),
        "scores": tf.where(present, nms.nmsed_scores, 0.0),
        "classes": tf.where(present, tf.cast(nms.nmsed_classes, tf.int32), -1),
        "num_detections": count,
    }


def segment(model: keras.Model, images: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Per-pixel class ids and probabilities of a segmentation model `[B,H,W,C] -> [B,H,W,K]`."""
    probabilities = tf.cast(model(images, training=False), tf.float32)
    return {"class_ids": tf.argmax(probabilities, axis=-1, output_type=tf.int32), "probabilities": probabilities}


INFERENCE = {features.TASK_DETECTION: detect, features.TASK_SEGMENTATION: segment}


def export_task_serving(model: keras.Model, export_dir: str, task: str, image_size, channels: int) -> None:
    """SavedModel with `serving_default` (float images) and `serve_examples` (serialized tf.Examples)."""
    if task not in INFERENCE:
        raise ValueError(f"export_task_serving exports {sorted(INFERENCE)} models; got task {task!r}.")
    model_io.export_serving(model, export_dir, infer=INFERENCE[task], image_size=image_size, channels=channels)


def save_task_model_artifact(
    model: keras.Model,
    model_uri: str,
    task: str,
    image_size,
    channels: int,
    history: Optional[Dict[str, Any]] = None,
    metrics: Optional[Dict[str, Any]] = None,
    extra_files: Optional[Dict[str, Any]] = None,
) -> None:
    """Writes the Model artifact: model.keras, Format-Serving/, history.json, metrics.json and `extra_files` JSON."""
    tf.io.gfile.makedirs(model_uri)
    model.save(model_io.keras_path(model_uri))
    export_task_serving(model, model_io.serving_path(model_uri), task, image_size, channels)
    if history is not None:
        write_json(os.path.join(model_uri, model_io.HISTORY_FILE_NAME), history)
    if metrics is not None:
        write_json(os.path.join(model_uri, model_io.METRICS_FILE_NAME), metrics)
    for name, payload in (extra_files or {}).items():
        write_json(os.path.join(model_uri, name), payload)
    logger.info("%s model written to %s", task, model_uri)
