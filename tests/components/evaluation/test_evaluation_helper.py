"""`evaluate_model` / `collect_predictions` on in-memory datasets."""

import logging
import math

import numpy as np
import pytest
import tensorflow as tf

from components.evaluation import metrics
from components.evaluation.evaluation import collect_predictions, evaluate_model

from tests.components.evaluation.brightness_data import (
    BRIGHT,
    CHANNELS,
    CLASS_NAMES,
    DARK,
    IMAGE_SIZE,
    brightness_model,
    expected_probabilities,
)


def _dataset(levels, labels, batch_size=2):
    images = np.stack([np.full((IMAGE_SIZE, IMAGE_SIZE, CHANNELS), level / 255.0, np.float32) for level in levels])
    return tf.data.Dataset.from_tensor_slices((images, np.asarray(labels))).batch(batch_size)


def test_evaluate_model_matches_hand_computed_metrics(caplog):
    levels = [DARK, BRIGHT, BRIGHT, DARK, BRIGHT]
    labels = [0, 1, 0, -1, 1]  # One mistake; one unlabeled record.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="absl")  # Beam executors reset absl's level to WARNING when they parse flags.
    result = evaluate_model(
        brightness_model(), _dataset(levels, labels), CLASS_NAMES, "classification", log_every_n_batches=1,
        total_examples=5,
    )
    assert result["num_examples"] == 4 and result["num_unlabeled_skipped"] == 1
    assert result["top_k"] == 2
    scalars = result["metrics"]
    assert scalars[metrics.ACCURACY] == pytest.approx(3 / 4)
    probabilities = expected_probabilities([DARK, BRIGHT, BRIGHT, BRIGHT])
    true_class = probabilities[np.arange(4), [0, 1, 0, 1]]
    assert scalars[metrics.NLL] == pytest.approx(-np.mean(np.log(true_class)), rel=1e-4)
    assert result["confusion_matrix"] == [[1, 1], [0, 2]]
    assert "predicted batch 2/3" in caplog.text
    assert "skipped 1 unlabeled" in caplog.text


def test_collect_predictions_returns_probabilities_in_order():
    labels, probabilities, skipped = collect_predictions(
        brightness_model(), _dataset([BRIGHT, DARK, DARK], [1, 0, 0]), "classification", 2
    )
    np.testing.assert_array_equal(labels, [1, 0, 0])
    np.testing.assert_allclose(probabilities, expected_probabilities([BRIGHT, DARK, DARK]), atol=1e-5)
    assert skipped == 0


def test_multilabel_evaluation():
    model = brightness_model(activation="sigmoid")
    # Sigmoid units: 'bright' fires for bright images, 'dark' for dark ones.
    targets = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    result = evaluate_model(model, _dataset([DARK, BRIGHT, BRIGHT], targets), CLASS_NAMES, "multilabel")
    assert result["metrics"][metrics.SUBSET_ACCURACY] == pytest.approx(2 / 3)
    assert result["metrics"][metrics.HAMMING_LOSS] == pytest.approx(1 / 6)
    assert "top_k" not in result


def test_logits_are_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="requires probabilities"):
        evaluate_model(brightness_model(activation=None), _dataset([DARK], [0]), CLASS_NAMES, "classification")


def test_sigmoid_outputs_for_classification_are_rejected():
    # Sigmoid rows in [0, 1] that do not sum to 1 are not softmax probabilities.
    model = brightness_model(activation="sigmoid")
    model.layers[-1].set_weights([np.zeros((CHANNELS, 2), np.float32), np.array([2.0, 2.0], np.float32)])
    with pytest.raises(ValueError, match="sum to 1.7616..1.7616, not 1"):
        evaluate_model(model, _dataset([DARK], [0]), CLASS_NAMES, "classification")


def test_class_count_mismatch_is_rejected():
    with pytest.raises(ValueError, match=r"expected \[batch, 3\]"):
        evaluate_model(brightness_model(), _dataset([DARK], [0]), ["a", "b", "c"], "classification")


def test_only_unlabeled_records_is_an_error():
    with pytest.raises(ValueError, match="no labeled examples"):
        evaluate_model(brightness_model(), _dataset([DARK, BRIGHT], [-1, -1]), CLASS_NAMES, "classification")


def test_unsupported_task_is_rejected():
    with pytest.raises(ValueError, match="supports tasks"):
        evaluate_model(brightness_model(), _dataset([DARK], [0]), CLASS_NAMES, "detection")


def test_results_are_deterministic():
    first = evaluate_model(brightness_model(), _dataset([DARK, BRIGHT], [0, 0]), CLASS_NAMES, "classification")
    second = evaluate_model(brightness_model(), _dataset([DARK, BRIGHT], [0, 0]), CLASS_NAMES, "classification")
    assert first["metrics"] == second["metrics"]
    assert not math.isnan(first["metrics"][metrics.EXPECTED_CALIBRATION_ERROR])
