"""Resampled corpus metrics: with all counts 1 they are pycocotools' mAP and segmentation_metrics' mean IoU."""

import numpy as np
import pytest

from components.evaluation import detection_metrics, resampled_metrics, segmentation_metrics

SIZE = (96, 96)
NUM_CLASSES = 4
NAMES = [str(k) for k in range(NUM_CLASSES)]


def _boxes(rng, n, m):
    y, x = rng.uniform(0, 0.7, (n, m)), rng.uniform(0, 0.7, (n, m))
    h, w = rng.uniform(0.05, 0.3, (n, m)), rng.uniform(0.05, 0.3, (n, m))
    return np.stack([y, x, y + h, x + w], -1)


def _scene(seed, n=40, objects=3, detections=12):
    """Ground truth with padding, and predictions: jittered true boxes (mostly right class) plus random ones."""
    rng = np.random.default_rng(seed)
    true_boxes = _boxes(rng, n, objects + 1)
    true_labels = rng.integers(0, NUM_CLASSES, (n, objects + 1))
    true_labels[:, -1] = -1  # padding row
    true_labels[3] = -1  # an image without ground truth
    found = true_boxes[:, :objects] + rng.normal(0, 0.02, (n, objects, 4))
    pred_boxes = np.concatenate([found, _boxes(rng, n, detections - objects)], axis=1)
    right = np.where(rng.random((n, objects)) < 0.8, np.maximum(true_labels[:, :objects], 0),
                     rng.integers(0, NUM_CLASSES, (n, objects)))
    pred_classes = np.concatenate([right, rng.integers(0, NUM_CLASSES, (n, detections - objects))], axis=1)
    pred_scores = rng.random((n, detections))
    pred_scores[:, :objects] += 0.3
    pred_scores[5] = 0.0  # an image without detections (score 0 is padding)
    return true_boxes, true_labels, pred_boxes, pred_scores, pred_classes


@pytest.mark.parametrize("seed", [0, 1])
def test_unit_counts_give_pycocotools_map_exactly(seed):
    scene = _scene(seed)
    reference = detection_metrics.coco_detection_metrics(*scene, SIZE, NAMES)["metrics"]
    evidence = resampled_metrics.detection_evidence(*scene, SIZE, NUM_CLASSES)
    ours = resampled_metrics.resampled_map(evidence, np.ones((1, len(scene[0]))))
    assert 0.02 < reference["map"] < 0.98  # neither trivial end
    np.testing.assert_allclose(ours["map"][0], reference["map"], atol=1e-12)
    np.testing.assert_allclose(ours["map_50"][0], reference["map_50"], atol=1e-12)
    assert resampled_metrics.split_map(evidence) == pytest.approx(reference["map"], abs=1e-12)


def test_a_count_of_two_is_the_corpus_with_that_image_twice():
    scene = _scene(2)
    doubled = np.r_[0, 7, np.arange(len(scene[0]))]  # images 0 and 7 appear twice
    reference = detection_metrics.coco_detection_metrics(*(a[doubled] for a in scene), SIZE, NAMES)["metrics"]
    counts = np.ones((1, len(scene[0])))
    counts[0, [0, 7]] = 2
    ours = resampled_metrics.resampled_map(resampled_metrics.detection_evidence(*scene, SIZE, NUM_CLASSES), counts)
    np.testing.assert_allclose(ours["map"][0], reference["map"], atol=1e-12)
    # An image left out of the resample is the corpus without it.
    counts = np.ones((1, len(scene[0])))
    counts[0, 1] = 0
    kept = np.delete(np.arange(len(scene[0])), 1)
    reference = detection_metrics.coco_detection_metrics(*(a[kept] for a in scene), SIZE, NAMES)["metrics"]
    ours = resampled_metrics.resampled_map(resampled_metrics.detection_evidence(*scene, SIZE, NUM_CLASSES), counts)
    np.testing.assert_allclose(ours["map"][0], reference["map"], atol=1e-12)


def test_no_detections_score_zero_and_perfect_ones_score_one():
    true_boxes, true_labels, *_ = _scene(3)
    silent = resampled_metrics.detection_evidence(
        true_boxes, true_labels, true_boxes, np.zeros(true_labels.shape), true_labels, SIZE, NUM_CLASSES)
    counts = resampled_metrics.bootstrap_counts(len(true_boxes), 50, seed=0)
    assert np.all(resampled_metrics.resampled_map(silent, counts)["map"] == 0.0)
    perfect = resampled_metrics.detection_evidence(
        true_boxes, true_labels, true_boxes, np.where(true_labels >= 0, 0.9, 0.0), true_labels, SIZE, NUM_CLASSES)
    np.testing.assert_allclose(resampled_metrics.resampled_map(perfect, counts)["map"], 1.0)


def test_bootstrap_counts_are_resamples_of_all_images_and_follow_the_seed():
    counts = resampled_metrics.bootstrap_counts(30, 200, seed=4)
    assert counts.shape == (200, 30) and np.all(counts.sum(axis=1) == 30)
    assert (counts == 0).mean() > 0.2  # with replacement: about 37% of images are left out of a resample
    np.testing.assert_array_equal(counts, resampled_metrics.bootstrap_counts(30, 200, seed=4))
    assert not np.array_equal(counts, resampled_metrics.bootstrap_counts(30, 200, seed=5))


def test_resampled_mean_iou_matches_segmentation_metrics():
    rng = np.random.default_rng(6)
    truth = rng.integers(0, 3, (12, 16, 16))
    truth[0, :2] = segmentation_metrics.IGNORE_VALUE
    predicted = np.where(rng.random(truth.shape) < 0.7, np.minimum(truth, 2), rng.integers(0, 3, truth.shape))
    confusions = resampled_metrics.segmentation_evidence(truth, predicted, 3)
    reference = segmentation_metrics.segmentation_metrics(
        segmentation_metrics.confusion_matrix(truth, predicted, 3), ["background", "a", "b"])["metrics"]
    np.testing.assert_allclose(resampled_metrics.resampled_mean_iou(confusions, np.ones((1, 12)))[0],
                               reference["mean_iou"], atol=1e-12)
    counts = np.ones((1, 12))
    counts[0, 4] = 3
    stacked = np.concatenate([truth, truth[[4, 4]]]), np.concatenate([predicted, predicted[[4, 4]]])
    reference = segmentation_metrics.segmentation_metrics(
        segmentation_metrics.confusion_matrix(*stacked, 3), ["background", "a", "b"])["metrics"]
    np.testing.assert_allclose(resampled_metrics.resampled_mean_iou(confusions, counts)[0], reference["mean_iou"])


def test_counts_must_cover_the_evidence_images():
    evidence = resampled_metrics.detection_evidence(*_scene(0, n=10), SIZE, NUM_CLASSES)
    with pytest.raises(ValueError, match="counts cover 9 images; the evidence has 10"):
        resampled_metrics.resampled_map(evidence, np.ones((1, 9)))
