"""Converting a Keras classifier to serving formats and checking each file by running it.

Formats (file names inside the exported Model artifact):

    saved_model  Format-Serving/      TF SavedModel (image + tf.Example signatures;
                                      what the TFX Pusher pushes)
    tflite       model.tflite         TFLite, float32
    tflite_int8  model_int8.tflite    TFLite full-integer post-training
                                      quantization: int8 weights, activations,
                                      input and output, calibrated on a
                                      representative set of training images
    onnx         model.onnx           ONNX (tf2onnx from the model's tf.function)

Parity: every written file is loaded back and run (TFLite interpreter,
onnxruntime, the SavedModel's serving signature) on held-out images next to
the Keras model: max and mean |p_format - p_keras| over all probabilities,
and accuracy of both, so a broken conversion is caught when it is written,
not on the phone.

Images are `[B,H,W,C]` float32 in [0,1] (the suite's model input); the int8
model takes int8 with the input scale/zero point stored in the file
(`TFLiteRunner` quantizes for you).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Callable, Dict, Iterable, Optional

import keras
import numpy as np
import tensorflow as tf

from components.types import features

logger = logging.getLogger(__name__)

SAVED_MODEL = "saved_model"
TFLITE = "tflite"
TFLITE_INT8 = "tflite_int8"
ONNX = "onnx"
FORMATS = (SAVED_MODEL, TFLITE, TFLITE_INT8, ONNX)
FILE_NAMES = {
    SAVED_MODEL: "Format-Serving",
    TFLITE: "model.tflite",
    TFLITE_INT8: "model_int8.tflite",
    ONNX: "model.onnx",
}
INPUT_NAME = "image"

Predict = Callable[[np.ndarray], np.ndarray]


def _image_spec(model: keras.Model) -> tf.TensorSpec:
    height, width, channels = model.input_shape[1:4]
    return tf.TensorSpec([None, height, width, channels], tf.float32, name=INPUT_NAME)


def _write_image_saved_model(model: keras.Model, directory: str) -> None:
    """A SavedModel with only the float-image signature (what the converters take)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serving_default",
        lambda images: {"probabilities": model(images, training=False)},
        input_signature=[_image_spec(model)],
    )
    archive.write_out(directory, verbose=False)


def convert_tflite(model: keras.Model, representative_images: Optional[np.ndarray] = None) -> bytes:
    """TFLite flatbuffer: float32, or full-integer int8 when `representative_images` are given.

    Args:
      model: `[B,H,W,C]` in [0,1] -> probabilities.
      representative_images: `[N,H,W,C]` float32 calibration images (a few
        hundred training images); their activation ranges set the int8 scales.
    """
    with tempfile.TemporaryDirectory() as directory:  # Local scratch, not an artifact path.
        _write_image_saved_model(model, directory)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        if representative_images is not None:
            if len(representative_images) == 0:
                raise ValueError("tflite_int8 needs representative images; the representative split is empty.")

            def representative_dataset():
                for image in representative_images:
                    yield [image[None].astype(np.float32)]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative_dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()


def convert_onnx(model: keras.Model, opset: int) -> bytes:
    """ONNX model bytes, converted by tf2onnx from the image-signature SavedModel.

    Through a SavedModel rather than the live tf.function: tf2onnx freezes
    variables but turns captured constant tensors (e.g. the mean/variance of
    keras Normalization layers in the EfficientNetV2 and ConvNeXt stems) into
    extra graph inputs; a SavedModel stores them as constants.
    """
    from tf2onnx import convert, tf_loader  # Only when ONNX is asked for.

    with tempfile.TemporaryDirectory() as directory:  # Local scratch, not an artifact path.
        _write_image_saved_model(model, directory)
        graph_def, inputs, outputs, renames = tf_loader.from_saved_model(
            directory, None, None, signatures=["serving_default"], return_tensors_to_rename=True
        )
    proto, _ = convert.from_graph_def(
        graph_def, input_names=inputs, output_names=outputs, opset=opset, tensors_to_rename=renames
    )
    return proto.SerializeToString()


class TFLiteRunner:
    """Runs a TFLite flatbuffer on float images in [0,1]; quantizes/dequantizes int8 I/O."""

    def __init__(self, flatbuffer: bytes):
        self._interpreter = tf.lite.Interpreter(model_content=flatbuffer)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None

    @property
    def input_dtype(self):
        return self._input["dtype"]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if self._batch != len(images):
            self._interpreter.resize_tensor_input(self._input["index"], images.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(images)
        if self._input["dtype"] != np.float32:
            scale, zero_point = self._input["quantization"]
            info = np.iinfo(self._input["dtype"])
            images = np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(self._input["dtype"])
        self._interpreter.set_tensor(self._input["index"], images)
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output["index"])
        if self._output["dtype"] != np.float32:
            scale, zero_point = self._output["quantization"]
            output = (output.astype(np.float32) - zero_point) * scale
        return output


class OnnxRunner:
    """Runs ONNX model bytes with onnxruntime on the CPU."""

    def __init__(self, model_bytes: bytes):
        import onnxruntime  # Only when ONNX is asked for.

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        self._input_name = self._session.get_inputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: np.asarray(images, np.float32)})[0]


class SavedModelRunner:
    """Runs the `serving_default` signature of a SavedModel directory."""

    def __init__(self, directory: str):
        self._signature = tf.saved_model.load(directory).signatures["serving_default"]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        outputs = self._signature(tf.constant(images, tf.float32))
        return outputs["probabilities"].numpy() if "probabilities" in outputs else next(iter(outputs.values())).numpy()


def predict_batches(predict: Predict, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([predict(images[start : start + batch_size]) for start in range(0, len(images), batch_size)])


def accuracy(probabilities: np.ndarray, labels: np.ndarray, task: str) -> float:
    """Top-1 accuracy (classification) or per-label accuracy at 0.5 (multilabel)."""
    if task == features.TASK_MULTILABEL:
        return float(np.mean((probabilities >= 0.5) == (labels >= 0.5)))
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def parity(
    reference: np.ndarray, candidate: np.ndarray, labels: Optional[np.ndarray], task: str
) -> Dict[str, float]:
    """How far an exported model's probabilities `[N,K]` are from the Keras model's.

    Returns:
      max_prob_diff / mean_prob_diff: over all N*K probabilities; top1_agreement:
      share of images with the same arg-max class; with labels, accuracy of
      the exported model, keras_accuracy and accuracy_delta (exported - Keras).
    """
    if reference.shape != candidate.shape:
        raise ValueError(f"Exported model output shape {candidate.shape} != Keras output shape {reference.shape}.")
    difference = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
    result = {
        "max_prob_diff": float(difference.max()) if difference.size else 0.0,
        "mean_prob_diff": float(difference.mean()) if difference.size else 0.0,
        "top1_agreement": float(np.mean(np.argmax(candidate, -1) == np.argmax(reference, -1))) if len(reference) else 1.0,
    }
    if labels is not None and len(labels):
        result["keras_accuracy"] = accuracy(reference, labels, task)
        result["accuracy"] = accuracy(candidate, labels, task)
        result["accuracy_delta"] = result["accuracy"] - result["keras_accuracy"]
    return result


def write_file(path: str, data: bytes) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data)


def export_formats(
    model: keras.Model,
    formats: Iterable[str],
    output_dir: str,
    check_images: np.ndarray,
    check_labels: Optional[np.ndarray],
    task: str,
    representative_images: Optional[np.ndarray] = None,
    onnx_opset: int = 17,
    batch_size: int = 64,
) -> Dict[str, Dict[str, float]]:
    """Writes each format under `output_dir`, runs it on `check_images` and compares with the Keras model.

    Args:
      model: `[B,H,W,C]` float in [0,1] -> probabilities `[B,K]`.
      formats: names from `FORMATS`.
      output_dir: the exported Model artifact's URI (tf.io.gfile path).
      check_images: `[N,H,W,C]` held-out images; check_labels `[N]` ids or
        `[N,K]` multi-hot, or None.
      representative_images: `[M,H,W,C]` training images for int8 calibration.

    Returns:
      `{format: {file, size_bytes, max_prob_diff, mean_prob_diff,
      top1_agreement, accuracy, keras_accuracy, accuracy_delta}}`.
    """
    formats = list(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"Unknown export format(s) {unknown}; known: {list(FORMATS)}.")
    if TFLITE_INT8 in formats and representative_images is None:
        raise ValueError("tflite_int8 needs representative_images from the training split.")
    reference = predict_batches(lambda batch: keras.ops.convert_to_numpy(model(batch, training=False)), check_images, batch_size)
    # Same function, plain ops: grouped convs otherwise run as nested XLA functions that converters cannot read.
    from components.training.surgery import grouped_conv_to_depthwise

    model = grouped_conv_to_depthwise(model)
    results: Dict[str, Dict[str, float]] = {}
    tf.io.gfile.makedirs(output_dir)
    for name in formats:
        path = os.path.join(output_dir, FILE_NAMES[name])
        logger.info("export: writing %s to %s", name, path)
        if name == SAVED_MODEL:
            from components.common import model_io

            model_io.export_serving(model, path)
            runner: Predict = SavedModelRunner(path)
            size = _directory_size(path)
        else:
            if name == ONNX:
                data = convert_onnx(model, onnx_opset)
            else:
                data = convert_tflite(model, representative_images if name == TFLITE_INT8 else None)
            write_file(path, data)
            with tf.io.gfile.GFile(path, "rb") as handle:  # Check what was written, not what is in memory.
                written = handle.read()
            runner = OnnxRunner(written) if name == ONNX else TFLiteRunner(written)
            size = len(written)
        result = parity(reference, predict_batches(runner, check_images, batch_size), check_labels, task)
        result.update({"file": FILE_NAMES[name], "size_bytes": int(size)})
        logger.info("export: %s parity %s", name, {key: value for key, value in result.items() if key != "file"})
        results[name] = result
    return results


def _directory_size(directory: str) -> int:
    total = 0
    for root, _, files in tf.io.gfile.walk(directory):
        total += sum(tf.io.gfile.stat(os.path.join(root, name)).length for name in files)
    return total


def within_tolerance(
    name: str, result: Dict[str, float], float_tolerance: float, int8_max_accuracy_drop: float
) -> bool:
    """Float formats: max |p diff| <= float_tolerance; int8: accuracy drop <= int8_max_accuracy_drop (fraction)."""
    if name == TFLITE_INT8:
        if "accuracy_delta" not in result:  # No labels: fall back to arg-max agreement.
            return result["top1_agreement"] >= 1.0 - int8_max_accuracy_drop
        return -result["accuracy_delta"] <= int8_max_accuracy_drop + 1e-12
    return result["max_prob_diff"] <= float_tolerance
