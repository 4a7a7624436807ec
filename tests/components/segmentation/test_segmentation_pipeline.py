"""Segmentation through the Training and Evaluation executors: U-Net, mask-aware augmentation, mIoU, serving."""

import os

import numpy as np
import pytest
import tensorflow as tf

from augment_ops.policy import Policy
from components.common import model_io
from components.evaluation.spec import EvaluationConfig
from components.training import segmentation, task_export
from components.training.spec import TrainingConfig
from components.types import examples_io
from components.types.segmentation_io import load_segmentation_split
from tests.components.detection import pipeline_steps as steps
from tests.components.segmentation.scenes import write_segmentation_examples

# Trains a real U-Net (~1-2 min on a shared CPU): end-to-end, so behind the slow marker.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("segmentation")
    spec = write_segmentation_examples(str(root / "ex"), str(root / "ds"), {"train": 48, "eval": 12}, size=32)
    policy = steps.write_policy(str(root / "policy"), Policy.from_ops([("flip_left_right", 1.0, 0.5), ("rotate", 0.2, 0.5)]))
    config = TrainingConfig(epochs=6, batch_size=8, learning_rate=3e-3, verbose=0, seed=1)
    model = steps.train(str(root / "ex"), str(root / "ds"), str(root / "model"), config, policy)
    return {"root": root, "spec": spec, "model": model}


def test_training_writes_model_artifact_with_metrics(trained):
    model = trained["model"]
    for name in ("model.keras", "history.json", "metrics.json", "task_model.json", "Format-Serving"):
        assert os.path.exists(os.path.join(model.uri, name)), name
    assert model.get_string_custom_property("task") == "segmentation"
    assert model.get_string_custom_property("architecture") == "unet"
    history = steps.read_json(model.uri, "history.json")
    assert len(history["loss"]) == 6 and history["loss"][-1] < history["loss"][0]
    # Simple coloured shapes: six short epochs already separate them from the background.
    assert model.get_float_custom_property("eval_foreground_iou") > 0.5
    assert steps.read_json(model.uri, "task_model.json")["augmentation"]["policy"]["ops"][0]["name"] == "flip_left_right"


def test_serving_signature_reads_raw_encoded_images(trained):
    uri, spec = trained["model"].uri, trained["spec"]
    serving = tf.saved_model.load(model_io.serving_path(uri))
    records = [r.numpy() for r in tf.data.TFRecordDataset(examples_io.split_files(str(trained["root"] / "ex"), "eval"), "GZIP")]
    served = serving.serve_examples(tf.constant(records[:5]))
    images, _, _ = load_segmentation_split(str(trained["root"] / "ex"), "eval", spec)
    expected = segmentation.predict_class_ids(task_export.load_task_model(uri), images[:5])
    assert served["class_ids"].dtype == tf.int32 and served["class_ids"].shape == (5, 32, 32)
    assert np.mean(served["class_ids"].numpy() == expected) > 0.999
    assert served["probabilities"].shape == (5, 32, 32, 3)


def test_evaluation_scores_miou_blesses_and_draws_overlays(trained, tmp_path):
    root = trained["root"]
    config = EvaluationConfig(split="eval", thresholds={"mean_iou": 0.3}, batch_size=8)
    evaluation, blessing = steps.evaluate(str(root / "ex"), str(root / "ds"), trained["model"].uri, str(tmp_path), config)
    metrics = steps.read_json(evaluation.uri, "metrics.json")
    assert set(metrics["metrics"]) == {"mean_iou", "pixel_accuracy", "foreground_iou"}
    assert metrics["metrics"]["mean_iou"] == pytest.approx(evaluation.get_float_custom_property("mean_iou"))
    assert metrics["metrics"]["foreground_iou"] == pytest.approx(
        trained["model"].get_float_custom_property("eval_foreground_iou"), abs=1e-6
    )
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 1
    overlays = os.listdir(os.path.join(evaluation.uri, "overlays"))
    assert len(overlays) == 4
    with open(os.path.join(evaluation.uri, "overlays", "0.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    strict = EvaluationConfig(split="eval", thresholds={"mean_iou": 0.999})
    _, refused = steps.evaluate(str(root / "ex"), str(root / "ds"), trained["model"].uri, str(tmp_path / "s"), strict)
    assert os.path.exists(os.path.join(refused.uri, "NOT_BLESSED"))
