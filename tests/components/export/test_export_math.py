"""Conversions and parity checks of components/export/export.py on a tiny model (no TFX)."""

import numpy as np
import pytest
import keras

from components.export import export
from components.export.spec import ExportConfig
from components.types import features


def _tiny_model(channels: int = 1, num_classes: int = 3) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, channels), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(0, 3))(x)
    return keras.Model(inputs, outputs)


def _images(count: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(count, 12, 12, 1)).astype("float32")


def test_parity_numbers():
    reference = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    candidate = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    result = export.parity(reference, candidate, np.array([0, 1]), features.TASK_CLASSIFICATION)
    assert result["max_prob_diff"] == pytest.approx(0.4)
    assert result["mean_prob_diff"] == pytest.approx((0.1 + 0.1 + 0 + 0.4 + 0.2 + 0.2) / 6)
    assert result["top1_agreement"] == 0.5
    assert result["keras_accuracy"] == 1.0 and result["accuracy"] == 0.5 and result["accuracy_delta"] == -0.5
    with pytest.raises(ValueError, match="output shape"):
        export.parity(reference, candidate[:, :2], None, features.TASK_CLASSIFICATION)
    multilabel = export.parity(reference, candidate, np.array([[1, 0, 0], [0, 1, 1]]), features.TASK_MULTILABEL)
    assert multilabel["keras_accuracy"] == pytest.approx(5 / 6)


def test_tolerance_rules():
    assert export.within_tolerance("tflite", {"max_prob_diff": 5e-5}, 1e-4, 0.01)
    assert not export.within_tolerance("onnx", {"max_prob_diff": 2e-4}, 1e-4, 0.01)
    assert export.within_tolerance("tflite_int8", {"accuracy_delta": -0.01, "top1_agreement": 0.9}, 1e-4, 0.01)
    assert not export.within_tolerance("tflite_int8", {"accuracy_delta": -0.02, "top1_agreement": 1.0}, 1e-4, 0.01)
    assert export.within_tolerance("tflite_int8", {"top1_agreement": 0.995}, 1e-4, 0.01)


def test_float_tflite_and_onnx_match_keras(tmp_path):
    model = _tiny_model()
    images = _images()
    reference = keras.ops.convert_to_numpy(model(images))
    assert reference.max() > 0.6  # Far from uniform: a wrong conversion would show.
    tflite = export.TFLiteRunner(export.convert_tflite(model))
    onnx = export.OnnxRunner(export.convert_onnx(model, opset=17))
    for runner in (tflite, onnx):
        np.testing.assert_allclose(runner(images), reference, atol=1e-5)
        np.testing.assert_allclose(runner(images[:3]), reference[:3], atol=1e-5)  # Other batch sizes too.


def test_onnx_keeps_normalization_constants_and_channel_flips():
    """keras Normalization (EfficientNetV2/ConvNeXt stems) and keras.ops.flip (caffe BGR) survive conversion."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((12, 12, 3), name="image")
    x = keras.ops.flip(keras.layers.Rescaling(255.0)(inputs), axis=-1)
    x = keras.layers.Normalization(mean=[100.0, 110.0, 120.0], variance=[900.0, 1600.0, 2500.0])(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    images = np.random.default_rng(5).uniform(size=(6, 12, 12, 3)).astype("float32")
    reference = keras.ops.convert_to_numpy(model(images))
    for runner in (export.OnnxRunner(export.convert_onnx(model, 17)), export.TFLiteRunner(export.convert_tflite(model))):
        np.testing.assert_allclose(runner(images), reference, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_v2_b0", "resnet50", "convnext_tiny", "vit_tiny"])
def test_library_backbones_export_with_float_parity(name, tmp_path):
    from components.training import models
    from components.types.data_spec import DataSpecContent

    data_spec = DataSpecContent(task="classification", class_names=["a", "b", "c"], channels=1, source_format="x")
    keras.utils.set_random_seed(0)
    model = models.build_architecture(name, data_spec, (28, 28))
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype("float32")
    results = export.export_formats(
        model, (export.TFLITE, export.ONNX), str(tmp_path), images, None, features.TASK_CLASSIFICATION, batch_size=4
    )
    for name_, result in results.items():
        assert result["max_prob_diff"] <= 1e-4, (name, name_, result)


def test_int8_model_is_integer_and_close(tmp_path):
    model = _tiny_model()
    flatbuffer = export.convert_tflite(model, representative_images=_images(64, seed=1))
    runner = export.TFLiteRunner(flatbuffer)
    assert runner.input_dtype == np.int8
    images = _images(32, seed=2)
    reference = keras.ops.convert_to_numpy(model(images))
    quantized = runner(images)
    assert np.abs(quantized - reference).max() < 0.1
    assert np.mean(quantized.argmax(-1) == reference.argmax(-1)) >= 0.9
    # Full-integer: every tensor is int8 (int32 biases), no float left in the graph.
    import tensorflow as tf

    dtypes = {detail["dtype"] for detail in tf.lite.Interpreter(model_content=flatbuffer).get_tensor_details()}
    assert np.float32 not in dtypes and np.int8 in dtypes, dtypes
    with pytest.raises(ValueError, match="representative"):
        export.convert_tflite(model, representative_images=np.zeros((0, 12, 12, 1), np.float32))


def test_export_formats_writes_and_checks_every_format(tmp_path):
    model = _tiny_model()
    images, labels = _images(20, seed=3), np.arange(20) % 3
    results = export.export_formats(
        model, export.FORMATS, str(tmp_path), images, labels, features.TASK_CLASSIFICATION,
        representative_images=_images(40, seed=4), batch_size=8,
    )
    assert set(results) == set(export.FORMATS)
    for name in export.FORMATS:
        assert (tmp_path / export.FILE_NAMES[name]).exists()
        assert results[name]["size_bytes"] > 0
    for name in (export.SAVED_MODEL, export.TFLITE, export.ONNX):
        assert results[name]["max_prob_diff"] <= 1e-4, (name, results[name])
        assert results[name]["accuracy_delta"] == 0.0
    assert results[export.TFLITE_INT8]["max_prob_diff"] > 0  # Quantized: close, not equal.
    with pytest.raises(ValueError, match="Unknown export format"):
        export.export_formats(model, ["coreml"], str(tmp_path), images, labels, features.TASK_CLASSIFICATION)


def test_config_validation():
    assert ExportConfig(formats=["onnx", "tflite"]).formats == ("onnx", "tflite")
    assert ExportConfig(formats="onnx").formats == ("onnx",)
    with pytest.raises(ValueError, match="unknown format"):
        ExportConfig(formats=("saved_model", "torchscript"))
    with pytest.raises(ValueError, match="twice"):
        ExportConfig(formats=("onnx", "onnx"))
    with pytest.raises(ValueError, match="at least one"):
        ExportConfig(formats=())
    with pytest.raises(ValueError, match="check_split"):
        ExportConfig(check_split="unlabeled")
    with pytest.raises(ValueError, match="onnx_opset"):
        ExportConfig(onnx_opset=99)
