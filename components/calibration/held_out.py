"""Held-out scoring and summaries shared by calibration, distillation and ensemble.

An adapter over components.evaluation's math (evaluate_model,
collect_predictions) and the shared layer (components.common): it adds what these three
components need on top, namely loading models that may contain the
calibration layer, one-call scoring of a split, and the summary.json /
summary.md files every one of them writes into its output model artifact.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.calibration import layers  # noqa: F401  (registers CalibrationLayer for load_model)
from components.common import model_io
from components.common.artifact_io import write_json, write_text
from components.common.splits import model_image_size
from components.evaluation import metrics as metric_names
from components.evaluation.evaluation import collect_predictions, evaluate_model
from components.types import examples_io
from components.types.data_spec import DataSpecContent

SUMMARY_JSON_FILE_NAME = "summary.json"
SUMMARY_MARKDOWN_FILE_NAME = "summary.md"
# The metrics shown in summaries (all scalars go to MLMD).
HEADLINE_METRICS = (
    metric_names.ACCURACY,
    metric_names.NLL,
    metric_names.EXPECTED_CALIBRATION_ERROR,
    metric_names.BRIER_SCORE,
)


def load_model(model_uri: str):
    """`<uri>/model.keras`, with this suite's custom layers registered."""
    return model_io.load_model(model_uri)


def split_dataset(
    model, examples_uri: str, split: str, data_spec: DataSpecContent, batch_size: int, name: str = "model"
):
    """Batched `(images, int labels)` of a split at the model's input size."""
    image_size = model_image_size(model, data_spec, name)
    return examples_io.load_split(examples_uri, split, data_spec, batch_size, image_size=image_size)


def predictions(
    model, examples_uri: str, split: str, data_spec: DataSpecContent, batch_size: int = 64, name: str = "model"
) -> Tuple[np.ndarray, np.ndarray]:
    """(labels `[N]`, probabilities `[N, K]`) of the labeled records of a split."""
    dataset = split_dataset(model, examples_uri, split, data_spec, batch_size, name)
    labels, probabilities, _ = collect_predictions(
        model, dataset, data_spec.task, data_spec.num_classes, total_examples=data_spec.split_count(split), name=name
    )
    return labels, probabilities


def score(
    model,
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    batch_size: int = 64,
    ece_bins: int = 15,
    name: str = "model",
) -> Dict[str, Any]:
    """`evaluate_model` on one split (metrics, reliability bins, per class)."""
    dataset = split_dataset(model, examples_uri, split, data_spec, batch_size, name)
    return evaluate_model(
        model,
        dataset,
        data_spec.class_names,
        data_spec.task,
        ece_bins=ece_bins,
        total_examples=data_spec.split_count(split) or None,
        name=name,
    )


def headline(metrics: Mapping[str, float]) -> Dict[str, float]:
    return {name: float(metrics[name]) for name in HEADLINE_METRICS if name in metrics}


def metrics_table(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str] = HEADLINE_METRICS) -> List[str]:
    """Markdown table lines: one row per model, one column per metric."""
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, metrics in rows.items():
        cells = [f"{metrics[column]:.4f}" if column in metrics else "n/a" for column in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def write_summary(uri: str, title: str, summary: Mapping[str, Any], body: Iterable[str]) -> None:
    """Writes `summary.json` (machine-readable) and `summary.md` (title + body lines) into `uri`."""
    tf.io.gfile.makedirs(uri)
    write_json(os.path.join(uri, SUMMARY_JSON_FILE_NAME), dict(summary))
    write_text(os.path.join(uri, SUMMARY_MARKDOWN_FILE_NAME), "\n".join([f"# {title}", "", *body]) + "\n")


def single_input_models(models: Sequence[Any], uris: Optional[Sequence[str]] = None) -> None:
    """Checks each model takes one `[B,H,W,C]` image input (names the artifact that does not)."""
    for index, model in enumerate(models):
        shape = model.input_shape
        where = uris[index] if uris else f"model {index}"
        if not isinstance(shape, tuple) or len(shape) != 4:
            raise ValueError(f"{where}: a model must take one image input [B,H,W,C]; input_shape is {shape}.")
