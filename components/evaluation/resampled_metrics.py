"""COCO mAP and mean IoU of a held-out split under image resampling, for paired model comparisons.

mAP and mean IoU are corpus metrics, not means of per-image scores, so
champion selection cannot bootstrap them the way it bootstraps accuracy.
What is per image is the evidence they are computed from: pycocotools'
matching of each image's detections to its ground truth (at every IoU
threshold), and each image's pixel confusion matrix. A bootstrap resample is
a vector of per-image counts; its metric is the metric of the corpus in which
image i appears counts[i] times, computed from that evidence with the counts
as weights:
  * mAP: pycocotools' `accumulate()` (score-sorted cumulative true and false
    positives, the precision envelope, 101 recall points, the mean over IoU
    thresholds and over the classes with ground truth) with each detection
    weighted by its image's count. A detection's match depends on its own
    image only, so reweighting is exact; with every count 1 it is COCOeval's
    own mAP (tests/components/evaluation/test_resampled_metrics.py);
  * mean IoU: the weighted sum of per-image confusion matrices, then the IoU
    of each class as in `segmentation_metrics`.
Every model of a comparison is scored on the same count vectors, so
differences are paired (the images' own difficulty cancels).
No TensorFlow here: numpy and pycocotools.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Dict, List, Tuple

import numpy as np

from components.evaluation import detection_metrics, segmentation_metrics

RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCOeval.params.recThrs
RESAMPLE_CHUNK = 64  # resamples scored at once: bounds memory at chunk x IoU thresholds x detections of a class


@dataclasses.dataclass
class ClassMatches:
    """One class's detections in pycocotools' accumulate order (score descending, stable over image order)."""

    image: np.ndarray  # [D] image index of each detection
    true_positive: np.ndarray  # [T, D] bool: matched to a ground-truth box at IoU threshold t
    false_positive: np.ndarray  # [T, D] bool: unmatched (and not matched to an ignored box)
    ground_truth: np.ndarray  # [N] ground-truth boxes of this class per image (not ignored)


@dataclasses.dataclass
class DetectionEvidence:
    num_images: int
    classes: List[ClassMatches]  # the classes with at least one ground-truth box


def bootstrap_counts(num_images: int, num_resamples: int, seed: int) -> np.ndarray:
    """`[R, N]` float counts: how often each image appears in each of R resamples of N images with replacement."""
    if num_images <= 0:
        raise ValueError("Resampling needs at least one image.")
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, num_images, size=(num_resamples, num_images))
    flat = (drawn + num_images * np.arange(num_resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=num_resamples * num_images).reshape(num_resamples, num_images).astype(np.float64)


def detection_evidence(
    true_boxes: np.ndarray,
    true_labels: np.ndarray,
    pred_boxes: np.ndarray,
    pred_scores: np.ndarray,
    pred_classes: np.ndarray,
    image_size: Tuple[int, int],
    num_classes: int,
) -> DetectionEvidence:
    """pycocotools' per-image matches (area "all", up to 100 detections per image), arranged per class.

    Arguments as for `detection_metrics.coco_detection_metrics`.
    """
    dataset, detections = detection_metrics.coco_documents(
        *(np.asarray(a) for a in (true_boxes, true_labels, pred_boxes, pred_scores, pred_classes)),
        image_size, num_classes,
    )
    num_images = len(dataset["images"])
    truth = np.zeros((num_classes, num_images), np.float64)
    for annotation in dataset["annotations"]:
        truth[annotation["category_id"], annotation["image_id"]] += 1
    if not dataset["annotations"]:
        raise ValueError("Detection metrics need at least one ground-truth box; the split has none.")
    if not detections:
        empty = lambda: np.zeros((1, 0), bool)  # noqa: E731
        classes = [ClassMatches(np.zeros(0, np.int64), empty(), empty(), truth[k]) for k in range(num_classes)
                   if truth[k].sum() > 0]
        return DetectionEvidence(num_images, classes)
    evaluation = detection_metrics.matched_cocoeval(dataset, detections)
    params = evaluation.params
    max_detections, num_areas, image_ids = params.maxDets[-1], len(params.areaRng), list(params.imgIds)
    classes = []
    for k_index, class_id in enumerate(params.catIds):
        entries = [evaluation.evalImgs[(k_index * num_areas) * len(image_ids) + i] for i in range(len(image_ids))]
        ground_truth = np.zeros(num_images, np.float64)
        images, scores, matched, ignored = [], [], [], []
        for image_id, entry in zip(image_ids, entries):
            if entry is None:
                continue
            ground_truth[image_id] = np.count_nonzero(np.asarray(entry["gtIgnore"]) == 0)
            count = len(entry["dtScores"][:max_detections])
            images.append(np.full(count, image_id, np.int64))
            scores.append(np.asarray(entry["dtScores"][:max_detections], np.float64))
            matched.append(np.asarray(entry["dtMatches"])[:, :max_detections] != 0)
            ignored.append(np.asarray(entry["dtIgnore"])[:, :max_detections].astype(bool))
        if ground_truth.sum() == 0:
            continue  # COCOeval leaves such a class out of the mean
        order = np.argsort(-np.concatenate(scores), kind="mergesort")  # COCOeval.accumulate's order
        hit, skip = np.concatenate(matched, axis=1)[:, order], np.concatenate(ignored, axis=1)[:, order]
        classes.append(ClassMatches(np.concatenate(images)[order], hit & ~skip, ~hit & ~skip, ground_truth))
    return DetectionEvidence(num_images, classes)


def _interpolated_precision(recall: np.ndarray, envelope: np.ndarray) -> np.ndarray:
    """`[M, 101]` precision at COCO's recall points (0 past the highest recall), one row per curve."""
    rows, length = recall.shape
    out = np.zeros((rows, len(RECALL_POINTS)))
    for row in range(rows):
        index = np.searchsorted(recall[row], RECALL_POINTS, side="left")
        reached = index < length
        out[row, reached] = envelope[row, index[reached]]
    return out


def resampled_map(evidence: DetectionEvidence, counts: np.ndarray) -> Dict[str, np.ndarray]:
    """{"map": [R], "map_50": [R]}: COCO mAP@[.5:.95] and mAP@.5 of each resample's weighted corpus.

    Args:
      evidence: `detection_evidence` of one model on the split.
      counts: `[R, N]` image weights (`bootstrap_counts`; a row of ones is the split itself).
    """
    counts = np.atleast_2d(np.asarray(counts, np.float64))
    if counts.shape[1] != evidence.num_images:
        raise ValueError(f"counts cover {counts.shape[1]} images; the evidence has {evidence.num_images}.")
    per_class = []
    for matches in evidence.classes:
        ground_truth = counts @ matches.ground_truth  # [R]
        average_precision = np.zeros((len(counts), matches.true_positive.shape[0]))  # no detection: AP 0
        for start in range(0, len(counts) if matches.image.size else 0, RESAMPLE_CHUNK):
            stop = min(start + RESAMPLE_CHUNK, len(counts))
            weights = counts[start:stop][:, matches.image][:, None, :]  # [r, 1, D]
            true_positive = np.cumsum(weights * matches.true_positive[None], axis=-1)  # [r, T, D]
            false_positive = np.cumsum(weights * matches.false_positive[None], axis=-1)
            total = np.maximum(ground_truth[start:stop], 1e-12)[:, None, None]
            recall = true_positive / total
            precision = true_positive / (true_positive + false_positive + np.spacing(1))
            envelope = np.maximum.accumulate(precision[..., ::-1], axis=-1)[..., ::-1]
            shape = recall.shape
            curves = _interpolated_precision(recall.reshape(-1, shape[-1]), envelope.reshape(-1, shape[-1]))
            average_precision[start:stop] = curves.mean(axis=1).reshape(shape[:2])
        average_precision[ground_truth <= 0] = np.nan  # the class is absent from this resample
        per_class.append(average_precision)
    stacked = np.stack(per_class)  # [C, R, T]
    with warnings.catch_warnings():  # a resample where no class has ground truth: nanmean of nothing
        warnings.simplefilter("ignore", RuntimeWarning)
        overall = np.nan_to_num(np.nanmean(stacked.mean(axis=2), axis=0))
        at_50 = np.nan_to_num(np.nanmean(stacked[:, :, detection_metrics.IOU_50_INDEX], axis=0))
    return {detection_metrics.MAP: overall, detection_metrics.MAP_50: at_50}


def split_map(evidence: DetectionEvidence) -> float:
    """COCO mAP@[.5:.95] of the split itself (every image once): pycocotools' number, from the evidence."""
    return float(resampled_map(evidence, np.ones((1, evidence.num_images)))[detection_metrics.MAP][0])


def segmentation_evidence(true_masks: np.ndarray, pred_masks: np.ndarray, num_classes: int) -> np.ndarray:
    """`[N, K, K]` pixel confusion matrix of each image (rows true class; ignore pixels skipped)."""
    return np.stack([
        segmentation_metrics.confusion_matrix(truth, predicted, num_classes)
        for truth, predicted in zip(true_masks, pred_masks)
    ]).astype(np.float64)


def resampled_mean_iou(confusions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`[R]` mean IoU of each resample's weighted corpus (classes absent from truth and prediction left out)."""
    counts = np.atleast_2d(np.asarray(counts, np.float64))
    total = np.tensordot(counts, confusions, axes=1)  # [R, K, K]
    hits = np.diagonal(total, axis1=1, axis2=2)
    union = total.sum(axis=1) + total.sum(axis=2) - hits
    iou = np.divide(hits, union, out=np.full(hits.shape, np.nan), where=union > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(np.nanmean(iou, axis=1))
