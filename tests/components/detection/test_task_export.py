"""Serving exports of detection and segmentation models on raw encoded images; local backbone presets."""

import numpy as np
import pytest
import tensorflow as tf

from components.common import model_io
from components.training import detection, segmentation, task_export
from components.types import examples_io

PLAN = detection.AnchorPlan(min_level=3, max_level=4, anchor_size=3.0, aspect_ratios=(1.0,))


def _raw_examples(images):
    records = []
    for index, image in enumerate(images):
        encoded = tf.io.encode_png((image * 255).round().astype(np.uint8)).numpy()
        records.append(examples_io.make_example(encoded, *image.shape, f"{index}.png").SerializeToString())
    return tf.constant(records)


def _images(count, side, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (count, side, side, 3)) / 255.0).astype(np.float32)


def test_detection_serving_on_raw_png_bytes_matches_in_process_inference(tmp_path):
    model = detection.build_detector(3, (64, 64, 3), PLAN, seed=0)
    uri = str(tmp_path / "model")
    task_export.save_task_model_artifact(model, uri, "detection", (64, 64), 3, history={"loss": [1.0]}, metrics={"eval_map": 0.0})
    images = _images(3, 64)
    serving = tf.saved_model.load(model_io.serving_path(uri))
    served = serving.serve_examples(_raw_examples(images))
    expected = task_export.detect(task_export.load_task_model(uri), images)
    for key in ("boxes", "scores", "classes", "num_detections"):
        np.testing.assert_allclose(served[key].numpy(), expected[key].numpy(), atol=1e-4, err_msg=key)
    from_floats = serving.signatures["serving_default"](tf.constant(images))
    np.testing.assert_allclose(from_floats["scores"].numpy(), expected["scores"].numpy(), atol=1e-4)


def test_segmentation_serving_on_raw_png_bytes(tmp_path):
    model = segmentation.build_unet(3, (32, 32, 3), depth=2, base_filters=4)
    uri = str(tmp_path / "model")
    task_export.save_task_model_artifact(model, uri, "segmentation", (32, 32), 3)
    images = _images(2, 32, seed=1)
    serving = tf.saved_model.load(model_io.serving_path(uri))  # keep a reference: its variables live on it
    served = serving.serve_examples(_raw_examples(images))
    np.testing.assert_array_equal(served["class_ids"].numpy(), np.argmax(model.predict(images, verbose=0), axis=-1))


def test_backbone_preset_loads_from_a_local_directory(tmp_path):
    encoder = detection.tiny_resnet_encoder((None, None, 3))
    encoder.save_to_preset(str(tmp_path / "preset"))
    model = detection.build_detector(2, (64, 64, 3), PLAN, seed=5, backbone_preset=str(tmp_path / "preset"))
    loaded = model.backbone.image_encoder
    for saved, restored in zip(encoder.weights, loaded.weights):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    with pytest.raises(ValueError, match="downloads are not allowed"):
        detection.build_detector(2, (64, 64, 3), PLAN, backbone_preset="kaggle://keras/resnet")
    with pytest.raises(ValueError, match="is not a directory"):
        detection.build_detector(2, (64, 64, 3), PLAN, backbone_preset=str(tmp_path / "missing"))
