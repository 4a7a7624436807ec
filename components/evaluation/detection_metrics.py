"""COCO detection metrics through pycocotools, on NumPy arrays (no TFX, no Keras).

Ground truth and predictions come in the suite's pivot form, normalized
(ymin, xmin, ymax, xmax), and are converted to COCO's pixel (x, y, w, h)
through `augment_ops.box_formats`, so the numbers are pycocotools' own
(the reference every detection paper reports), not a re-implementation.

Scalar names are module constants so blessing thresholds, MLMD properties
and reports spell them once:
  map     mAP@[.5:.95] (COCO's primary metric)
  map_50  mAP at IoU 0.5 (Pascal VOC's metric)
  map_75  mAP at IoU 0.75 (strict localization)
  mar_100 mean recall with up to 100 detections per image
"""

from __future__ import annotations

import contextlib
import io
from typing import Dict, List, Sequence, Tuple

import numpy as np

from augment_ops import box_formats

MAP = "map"
MAP_50 = "map_50"
MAP_75 = "map_75"
MAR_100 = "mar_100"
DETECTION_METRICS = (MAP, MAP_50, MAP_75, MAR_100)
# Index of each scalar in COCOeval.stats (see COCOeval.summarize).
_STATS_INDEX = {MAP: 0, MAP_50: 1, MAP_75: 2, MAR_100: 8}
IOU_50_INDEX = 0  # COCOeval.params.iouThrs[0] == 0.5


def _valid(boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (labels >= 0) & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


def _check_shapes(true_boxes, true_labels, pred_boxes, pred_scores, pred_classes) -> None:
    if true_boxes.ndim != 3 or true_boxes.shape[-1] != 4 or true_labels.shape != true_boxes.shape[:2]:
        raise ValueError(
            f"Ground truth must be boxes [N,M,4] and labels [N,M]; got {true_boxes.shape} and {true_labels.shape}."
        )
    if pred_boxes.ndim != 3 or pred_boxes.shape[-1] != 4 or pred_scores.shape != pred_boxes.shape[:2]:
        raise ValueError(
            f"Predictions must be boxes [N,D,4] and scores [N,D]; got {pred_boxes.shape} and {pred_scores.shape}."
        )
    if pred_classes.shape != pred_scores.shape or len(pred_boxes) != len(true_boxes):
        raise ValueError(
            f"Predicted classes {pred_classes.shape} must match scores {pred_scores.shape}, and predictions must "
            f"cover the {len(true_boxes)} ground-truth images (got {len(pred_boxes)})."
        )


def coco_documents(
    true_boxes: np.ndarray,
    true_labels: np.ndarray,
    pred_boxes: np.ndarray,
    pred_scores: np.ndarray,
    pred_classes: np.ndarray,
    image_size: Tuple[int, int],
    num_classes: int,
) -> Tuple[dict, List[dict]]:
    """(ground-truth COCO dataset dict, detection result list) in pixels of `image_size`.

    Padded ground-truth rows (label -1 or empty box) and predictions with
    score <= 0 or class -1 (padding after NMS) are left out.
    """
    height, width = image_size
    images, annotations, detections = [], [], []
    for index in range(len(true_boxes)):
        images.append({"id": index, "height": int(height), "width": int(width)})
        keep = _valid(true_boxes[index], true_labels[index])
        boxes = np.asarray(box_formats.from_pivot(true_boxes[index][keep].astype(np.float64), "coco", image_size))
        for box, label in zip(boxes, true_labels[index][keep]):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index,
                    "category_id": int(label),
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
        kept = (pred_scores[index] > 0) & (pred_classes[index] >= 0)
        boxes = np.asarray(box_formats.from_pivot(pred_boxes[index][kept].astype(np.float64), "coco", image_size))
        for box, score, label in zip(boxes, pred_scores[index][kept], pred_classes[index][kept]):
            detections.append(
                {"image_id": index, "category_id": int(label), "bbox": [float(v) for v in box], "score": float(score)}
            )
    categories = [{"id": class_id} for class_id in range(num_classes)]
    return {"images": images, "annotations": annotations, "categories": categories}, detections


def coco_detection_metrics(
    true_boxes: np.ndarray,
    true_labels: np.ndarray,
    pred_boxes: np.ndarray,
    pred_scores: np.ndarray,
    pred_classes: np.ndarray,
    image_size: Tuple[int, int],
    class_names: Sequence[str],
) -> Dict[str, object]:
    """COCO box metrics of predictions against ground truth.

    Args:
      true_boxes: `[N,M,4]` normalized (ymin, xmin, ymax, xmax), padded rows -1.
      true_labels: `[N,M]` int class ids, padded -1.
      pred_boxes: `[N,D,4]` normalized yxyx after NMS.
      pred_scores: `[N,D]` confidence; rows <= 0 are padding.
      pred_classes: `[N,D]` int class ids; -1 is padding.
      image_size: (height, width) the boxes are measured in (COCO's area
        ranges are in pixels).
      class_names: K names; class id k is `class_names[k]`.

    Returns:
      `metrics` {map, map_50, map_75, mar_100} in [0,1] (0 when there are no
      detections at all), `per_class` {name: {ap, ap_50, num_ground_truth}}
      (ap NaN for a class without ground truth), `pr_curves` {name:
      {recall, precision}} at IoU 0.5 (COCO's 101 recall points),
      `num_ground_truth`, `num_detections`.

    Raises:
      ValueError: on inconsistent shapes or no ground-truth box at all.
    """
    true_boxes, true_labels = np.asarray(true_boxes, np.float64), np.asarray(true_labels)
    pred_boxes, pred_scores, pred_classes = (np.asarray(a) for a in (pred_boxes, pred_scores, pred_classes))
    _check_shapes(true_boxes, true_labels, pred_boxes, pred_scores, pred_classes)
    num_classes = len(class_names)
    dataset, detections = coco_documents(
        true_boxes, true_labels, pred_boxes, pred_scores, pred_classes, image_size, num_classes
    )
    if not dataset["annotations"]:
        raise ValueError("Detection metrics need at least one ground-truth box; the split has none.")
    out_of_range = [a["category_id"] for a in dataset["annotations"] + detections if a["category_id"] >= num_classes]
    if out_of_range:
        raise ValueError(f"Class id {out_of_range[0]} is outside the {num_classes} classes of the DataSpec.")
    counts = np.bincount([a["category_id"] for a in dataset["annotations"]], minlength=num_classes)
    result: Dict[str, object] = {
        "num_ground_truth": int(counts.sum()),
        "num_detections": len(detections),
    }
    recall_points = np.linspace(0.0, 1.0, 101)
    if not detections:
        result["metrics"] = {name: 0.0 for name in DETECTION_METRICS}
        result["per_class"] = {
            name: {"ap": 0.0 if counts[k] else float("nan"), "ap_50": 0.0 if counts[k] else float("nan"),
                   "num_ground_truth": int(counts[k])}
            for k, name in enumerate(class_names)
        }
        result["pr_curves"] = {}
        return result
    evaluation = _run_cocoeval(dataset, detections)
    result["metrics"] = {name: max(float(evaluation.stats[i]), 0.0) for name, i in _STATS_INDEX.items()}
    # precision: [T IoU thresholds, R recall points, K classes, A area ranges, M max-dets]; -1 = no ground truth.
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    per_class, curves = {}, {}
    for k, name in enumerate(class_names):
        if counts[k] == 0:
            per_class[name] = {"ap": float("nan"), "ap_50": float("nan"), "num_ground_truth": 0}
            continue
        values = precision[:, :, k]
        per_class[name] = {
            "ap": float(np.mean(np.clip(values, 0.0, None))),
            "ap_50": float(np.mean(np.clip(values[IOU_50_INDEX], 0.0, None))),
            "num_ground_truth": int(counts[k]),
        }
        curves[name] = {
            "recall": recall_points.tolist(),
            "precision": np.clip(values[IOU_50_INDEX], 0.0, None).tolist(),
        }
    result["per_class"] = per_class
    result["pr_curves"] = curves
    return result


def _run_cocoeval(dataset: dict, detections: List[dict]):
    evaluation = matched_cocoeval(dataset, detections)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def matched_cocoeval(dataset: dict, detections: List[dict]):
    """A pycocotools COCOeval (bbox) after `evaluate()`: per-image matches in `evalImgs`, nothing accumulated yet."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = dataset
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
        evaluation.evaluate()
    return evaluation

