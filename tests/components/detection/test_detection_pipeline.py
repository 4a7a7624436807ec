"""Detection through the Training and Evaluation executors: keras-hub RetinaNet, box prior, COCO mAP, serving."""

import os

import numpy as np
import pytest
import tensorflow as tf

from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy
from components.common import model_io
from components.evaluation.spec import EvaluationConfig
from components.training import task_export
from components.training.spec import TrainingConfig
from components.types import examples_io
from tests.components.detection import pipeline_steps as steps
from tests.support.shapes import write_shape_detection_examples

# Each module trains a real detector (~1-2 min on a shared CPU): end-to-end, so behind the slow marker.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("detection")
    spec = write_shape_detection_examples(str(root / "ex"), str(root / "ds"), {"train": 24, "eval": 8}, shape="disc", size=64)
    policy = steps.write_policy(
        str(root / "policy"), Policy.from_ops([("rotate", 0.3, 0.5), ("flip_left_right", 1.0, 0.5)]),
        AugmentOptions(box_prior="ellipse"),
    )
    config = TrainingConfig(epochs=2, batch_size=8, verbose=0)
    model = steps.train(str(root / "ex"), str(root / "ds"), str(root / "model"), config, policy)
    return {"root": root, "spec": spec, "model": model}


def test_training_writes_model_artifact_with_box_prior_and_metrics(trained):
    model = trained["model"]
    for name in ("model.keras", "history.json", "metrics.json", "task_model.json", "Format-Serving"):
        assert os.path.exists(os.path.join(model.uri, name)), name
    assert model.get_string_custom_property("architecture") == "keras_hub_retinanet"
    assert model.get_string_custom_property("box_prior") == "ellipse"  # read from augment_options.json
    details = steps.read_json(model.uri, "task_model.json")
    assert details["anchor_plan"]["min_level"] >= 2 and details["image_size"] == [64, 64]
    for name in ("eval_map", "eval_map_50", "eval_map_75"):
        assert 0.0 <= model.get_float_custom_property(name) <= 1.0
    history = steps.read_json(model.uri, "history.json")
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()


def test_serving_signature_reads_raw_encoded_images(trained):
    uri = trained["model"].uri
    serving = tf.saved_model.load(model_io.serving_path(uri))
    records = [r.numpy() for r in tf.data.TFRecordDataset(examples_io.split_files(str(trained["root"] / "ex"), "eval"), "GZIP")]
    served = serving.serve_examples(tf.constant(records[:3]))
    assert served["boxes"].shape == (3, task_export.MAX_DETECTIONS, 4)
    assert served["classes"].dtype == tf.int32 and served["num_detections"].shape == (3,)
    count = served["num_detections"].numpy()
    boxes = served["boxes"].numpy()
    for row, n in enumerate(count):
        assert np.all((boxes[row, :n] >= 0) & (boxes[row, :n] <= 1)) and np.all(boxes[row, n:] == -1)
    images, _, _ = examples_io.load_detection_split(str(trained["root"] / "ex"), "eval", trained["spec"], (64, 64))
    expected = task_export.detect(task_export.load_task_model(uri), images[:3])
    np.testing.assert_array_equal(count, expected["num_detections"].numpy())
    np.testing.assert_allclose(served["scores"].numpy(), expected["scores"].numpy(), atol=1e-4)


def test_evaluation_scores_coco_map_and_blesses_on_map_50(trained, tmp_path):
    root = trained["root"]
    config = EvaluationConfig(split="eval", thresholds={"map_50": 0.0}, batch_size=8)
    evaluation, blessing = steps.evaluate(str(root / "ex"), str(root / "ds"), trained["model"].uri, str(tmp_path), config)
    metrics = steps.read_json(evaluation.uri, "metrics.json")
    assert set(metrics["metrics"]) == {"map", "map_50", "map_75", "mar_100"}
    assert metrics["metrics"]["map_50"] == pytest.approx(trained["model"].get_float_custom_property("eval_map_50"))
    assert evaluation.get_float_custom_property("map_50") == pytest.approx(metrics["metrics"]["map_50"])
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    for name in ("pr_curves.png", "summary.md", os.path.join("overlays", "0.png")):
        assert os.path.exists(os.path.join(evaluation.uri, name)), name
    strict = EvaluationConfig(split="eval", thresholds={"map_50": 0.999})
    _, refused = steps.evaluate(str(root / "ex"), str(root / "ds"), trained["model"].uri, str(tmp_path / "s"), strict)
    assert os.path.exists(os.path.join(refused.uri, "NOT_BLESSED"))


def test_detector_fits_a_small_training_set():
    """Training and serving decode agree: 16 scenes of squares fitted for 80 steps score high on themselves.

    Guards the box coder: with keras-hub's default variance of 1, the same run scores mAP@.5 ~0.09.
    """
    from components.evaluation import detection_metrics
    from components.training import detection, trainer
    from tests.support.shapes import shape_detection_set

    images, boxes, labels = shape_detection_set(16, "square", size=64, seed=0)
    model = detection.build_detector(1, (64, 64, 3), detection.plan_anchors(boxes, labels, (64, 64)), seed=0)
    config = TrainingConfig(epochs=40, batch_size=8, learning_rate=2e-3, schedule="constant", verbose=0)
    model.compile(optimizer=trainer.make_optimizer(config, 80))
    model.fit(detection.training_dataset(images, boxes, labels, 8, seed=0), epochs=40, verbose=0)
    found = task_export.detect(model, images)
    result = detection_metrics.coco_detection_metrics(
        boxes, labels, found["boxes"].numpy(), found["scores"].numpy(), found["classes"].numpy(), (64, 64), ["square"]
    )
    assert result["metrics"]["map_50"] > 0.8
