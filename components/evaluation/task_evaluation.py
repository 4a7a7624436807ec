"""The Evaluation executor's path for detection and segmentation models.

Scores the model on the chosen split with the same inference the SavedModel
serves (components/training/task_export.py): COCO mAP through pycocotools
for detection, a pixel confusion matrix for segmentation. Writes into the
ModelEvaluation artifact:
  metrics.json        scalars, per-class AP / IoU, PR curves (detection)
  blessing.json, summary.md
  pr_curves.png       detection only
  overlays/<i>.png    predictions over the first held-out images
  baseline_metrics.json, comparison.json   with a baseline model
Blessing, MLMD properties and the BLESSED file are the executor's, as for
classification, on these metric names: map, map_50, map_75, mar_100 /
mean_iou, pixel_accuracy, foreground_iou.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from absl import logging

from components.common.artifact_io import write_bytes, write_json, write_text
from components.evaluation import detection_metrics, overlays, report, resampled_metrics, segmentation_metrics
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

TASKS = (features.TASK_DETECTION, features.TASK_SEGMENTATION)
NUM_OVERLAYS = 4
OVERLAY_DIR_NAME = "overlays"
PR_CURVES_FILE_NAME = "pr_curves.png"
_PNGS = "_overlay_pngs"  # in-memory only; never written to JSON


def evaluate_task_model(
    model_uri: str, examples_uri: str, split: str, data_spec: DataSpecContent, batch_size: int, name: str = "model"
) -> Dict[str, Any]:
    """Loads the model artifact and scores it on `split` (see module docstring)."""
    images, image_size, truth, predicted = _predictions(model_uri, examples_uri, split, data_spec, batch_size)
    if data_spec.task == features.TASK_DETECTION:
        boxes, labels = truth
        result = detection_metrics.coco_detection_metrics(
            boxes, labels, predicted["boxes"], predicted["scores"], predicted["classes"], image_size,
            data_spec.class_names,
        )
        pngs = [
            overlays.detection_overlay_png(
                images[i], boxes[i], labels[i], predicted["boxes"][i], predicted["scores"][i],
                predicted["classes"][i], data_spec.class_names,
            )
            for i in range(min(NUM_OVERLAYS, len(images)))
        ]
    else:
        masks = truth
        confusion = segmentation_metrics.confusion_matrix(masks, predicted, data_spec.num_classes)
        result = segmentation_metrics.segmentation_metrics(confusion, data_spec.class_names)
        pngs = [
            overlays.segmentation_overlay_png(images[i], masks[i], predicted[i], data_spec.num_classes)
            for i in range(min(NUM_OVERLAYS, len(images)))
        ]
    result.update(
        task=data_spec.task, class_names=list(data_spec.class_names), num_examples=int(len(images)),
        num_unlabeled_skipped=0, image_size=list(image_size),
    )
    result[_PNGS] = pngs
    summary = ", ".join(f"{key}={value:.4f}" for key, value in result["metrics"].items())
    logging.info("%s on %d %s examples of split %r: %s", name, len(images), data_spec.task, split, summary)
    return result


def _predictions(model_uri: str, examples_uri: str, split: str, data_spec: DataSpecContent, batch_size: int):
    """(images, image size, ground truth, predictions) of the model artifact on `split`, at the model's input size.

    Ground truth: (boxes, labels) for detection, class masks for segmentation; predictions: the serving outputs
    (boxes, scores, classes) or per-pixel class ids.
    """
    from components.training import detection, segmentation, task_export
    from components.types.segmentation_io import load_segmentation_split

    if data_spec.task not in TASKS:
        raise ValueError(f"Task-model evaluation scores {TASKS}; the DataSpec's task is {data_spec.task!r}.")
    model = task_export.load_task_model(model_uri)
    image_size = tuple(int(v) for v in model.input_shape[1:3])
    if data_spec.task == features.TASK_DETECTION:
        images, boxes, labels = examples_io.load_detection_split(examples_uri, split, data_spec, image_size)
        return images, image_size, (boxes, labels), detection.predict_detections(model, images, batch_size)
    images, masks, _ = load_segmentation_split(examples_uri, split, data_spec, image_size)
    return images, image_size, masks, segmentation.predict_class_ids(model, images, batch_size)


def held_out_scorer(
    model_uri: str, examples_uri: str, split: str, data_spec: DataSpecContent, batch_size: int
) -> Tuple[str, int, Callable[[np.ndarray], np.ndarray]]:
    """(metric name, number of images, scorer): the scorer maps `[R, N]` image counts to `[R]` metric values.

    The metric is the task's primary one, COCO mAP@[.5:.95] (detection) or mean IoU (segmentation), computed
    from per-image evidence (resampled_metrics), so candidates scored on the same counts compare paired.
    """
    _, image_size, truth, predicted = _predictions(model_uri, examples_uri, split, data_spec, batch_size)
    if data_spec.task == features.TASK_DETECTION:
        evidence = resampled_metrics.detection_evidence(
            truth[0], truth[1], predicted["boxes"], predicted["scores"], predicted["classes"], image_size,
            data_spec.num_classes,
        )
        return (detection_metrics.MAP, evidence.num_images,
                lambda counts: resampled_metrics.resampled_map(evidence, counts)[detection_metrics.MAP])
    confusions = resampled_metrics.segmentation_evidence(truth, predicted, data_spec.num_classes)
    return (segmentation_metrics.MEAN_IOU, len(confusions),
            lambda counts: resampled_metrics.resampled_mean_iou(confusions, counts))


def _stored(result: Dict[str, Any], **extra) -> Dict[str, Any]:
    return dict({key: value for key, value in result.items() if key != _PNGS}, **extra)


def _format(value: Optional[float]) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def summary_markdown(result, decision, split: str, model_uri: str, comparison=None, baseline_uri=None) -> str:
    """Verdict, scalar metrics (with the baseline when given), per-class table, figures."""
    lines = [
        f"# Evaluation ({result['task']}): {'BLESSED' if decision.blessed else 'NOT BLESSED'}",
        "",
        f"- model: `{model_uri}`",
        f"- split: `{split}` ({result['num_examples']} images at {result['image_size'][0]}x{result['image_size'][1]})",
    ]
    if baseline_uri:
        lines.append(f"- baseline: `{baseline_uri}`")
    lines += ["", "## Blessing", "", *[f"- {'PASS' if c.passed else 'FAIL'}: {c.message}" for c in decision.checks]]
    lines += [f"- {note}" for note in decision.notes]
    lines += ["", "## Metrics", "", "| metric | value | baseline |", "|---|---|---|"]
    for metric, value in result["metrics"].items():
        baseline = (comparison or {}).get(metric, {}).get("baseline")
        lines.append(f"| {metric} | {_format(value)} | {_format(baseline)} |")
    if result["task"] == features.TASK_DETECTION:
        lines += ["", "## Per class", "", "| class | AP@[.5:.95] | AP@.5 | boxes |", "|---|---|---|---|"]
        for name, row in result["per_class"].items():
            lines.append(f"| {name} | {_format(row['ap'])} | {_format(row['ap_50'])} | {row['num_ground_truth']} |")
        lines += ["", f"![precision-recall]({PR_CURVES_FILE_NAME})"]
    else:
        lines += ["", "## Per class", "", "| class | IoU | pixels |", "|---|---|---|"]
        for name, row in result["per_class"].items():
            lines.append(f"| {name} | {_format(row['iou'])} | {row['pixels']} |")
    lines += ["", "## Predictions on held-out images", ""]
    lines += [f"![overlay {i}]({OVERLAY_DIR_NAME}/{i}.png)" for i in range(len(result.get(_PNGS, [])))]
    return "\n".join(lines) + "\n"


def write_task_evaluation(uri, result, decision, split, model_uri, baseline_uri=None, baseline_result=None) -> None:
    """Writes the ModelEvaluation artifact's files (see module docstring)."""
    import tensorflow as tf

    from components.evaluation import spec as keys

    tf.io.gfile.makedirs(os.path.join(uri, OVERLAY_DIR_NAME))
    write_json(os.path.join(uri, keys.METRICS_FILE_NAME), _stored(result, split=split, model_uri=model_uri))
    write_json(os.path.join(uri, keys.BLESSING_FILE_NAME), decision.to_dict())
    comparison = None
    if baseline_result is not None:
        comparison = report.compare(result["metrics"], baseline_result["metrics"])
        write_json(
            os.path.join(uri, keys.BASELINE_METRICS_FILE_NAME), _stored(baseline_result, split=split, model_uri=baseline_uri)
        )
        write_json(os.path.join(uri, keys.COMPARISON_FILE_NAME), comparison)
    if result["task"] == features.TASK_DETECTION:
        write_bytes(os.path.join(uri, PR_CURVES_FILE_NAME), overlays.pr_curves_png(result["pr_curves"], result["per_class"]))
    for index, png in enumerate(result.get(_PNGS, [])):
        write_bytes(os.path.join(uri, OVERLAY_DIR_NAME, f"{index}.png"), png)
    write_text(os.path.join(uri, keys.SUMMARY_FILE_NAME), summary_markdown(result, decision, split, model_uri, comparison, baseline_uri))
    logging.info("%s evaluation written to %s.", result["task"], uri)
