"""Per-technique results: every Model artifact's metrics and curves, and each component's own outputs.

Nothing here knows a component by name. A Model artifact's held-out
metrics are its MLMD float custom properties (every trainer records them,
DESIGN.md section 6); its curves are `history.json`; a component's plots
are the PNGs at its output artifacts' roots (Evaluation's confusion matrix
and reliability diagram, Calibration's before/after diagrams, the search's
plots); its notes are the markdown files there; semi-supervised loops
leave a `*_summary.json` with per-iteration pseudo-label counts and
metrics. A new component shows up in the report by writing those files.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Dict, List, Optional, Tuple

from pipelines.report.collect import OutputArtifact

MODEL_TYPE = "Model"
POLICY_TYPE = "tfx_autofit.AugmentationPolicy"
HISTORY_FILE_NAME = "history.json"
KERAS_FILE_NAME = "model.keras"
SERVING_DIR_NAME = "Format-Serving"
SUMMARY_SUFFIX = "_summary.json"
TEXT_FILES = ("summary.md", "report.md")
# Metrics where lower is better; everything else is ranked higher-is-better.
LOWER_IS_BETTER = ("loss", "nll", "expected_calibration_error", "ece", "brier", "hamming", "error")
MAX_FIGURES_PER_ARTIFACT = 8
# Sub-directories whose PNGs are shown after an artifact's own: detection / segmentation predictions drawn over
# held-out images (components/evaluation/task_evaluation.OVERLAY_DIR_NAME).
FIGURE_SUBDIRS = ("overlays",)
MAX_TEXT_CHARS = 20000


@dataclasses.dataclass
class ModelResult:
    """One Model artifact of the run."""

    component: str
    key: str
    artifact_id: int
    uri: str
    metrics: Dict[str, float]
    history: Dict[str, List[float]]
    has_keras: bool
    has_serving: bool

    @property
    def label(self) -> str:
        return f"{self.component}.{self.key} #{self.artifact_id}"


@dataclasses.dataclass
class ArtifactDetails:
    """What the report shows of one output artifact of a component."""

    key: str
    type_name: str
    artifact_id: int
    uri: str
    scalars: List[Tuple[str, Any]]
    figures: List[Tuple[str, bytes]]
    texts: List[Tuple[str, str]]
    policy: Optional[Dict[str, Any]] = None
    policy_preview: Optional[bytes] = None
    summaries: List[Tuple[str, Dict[str, Any]]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ComponentResults:
    component: str
    state: str
    artifacts: List[ArtifactDetails]


def lower_is_better(metric: str) -> bool:
    return any(token in metric for token in LOWER_IS_BETTER)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def _read_json(path: str) -> Any:
    from components.common.artifact_io import read_json

    return read_json(path)


def _numeric_series(history: Any) -> Dict[str, List[float]]:
    if not isinstance(history, dict):
        return {}
    series = {}
    for name, values in history.items():
        if isinstance(values, list) and values and all(isinstance(v, (int, float)) or v is None for v in values):
            series[str(name)] = [float("nan") if v is None else float(v) for v in values]
    return series


def read_models(run) -> List[ModelResult]:
    """Every Model output of the run, with float MLMD properties and history.json curves."""
    gfile = _gfile()
    results = []
    for output in run.outputs_of_type(MODEL_TYPE):
        artifact = output.artifact
        metrics = {key: float(value) for key, value in artifact.properties.items()
                   if isinstance(value, float) and not key.startswith("__")}
        history_path = os.path.join(artifact.uri, HISTORY_FILE_NAME)
        history = _numeric_series(_read_json(history_path)) if gfile.exists(history_path) else {}
        results.append(ModelResult(
            output.component, output.key, artifact.id, artifact.uri, metrics, history,
            has_keras=gfile.exists(os.path.join(artifact.uri, KERAS_FILE_NAME)),
            has_serving=gfile.isdir(os.path.join(artifact.uri, SERVING_DIR_NAME)),
        ))
    return results


# Candidate-table columns, in this order when present; other metrics go under "more".
PRIMARY_METRICS = ("accuracy", "top_k_accuracy", "macro_f1", "map", "mean_iou", "nll", "loss",
                   "expected_calibration_error", "brier_score")
MAX_METRIC_COLUMNS = 7


def metric_columns(models: List[ModelResult], prefix: str = "eval_") -> List[str]:
    """The candidate table's columns: the primary `eval_*` metrics any model has, else the first `eval_*` ones."""
    names = {name for model in models for name in model.metrics}
    primary = [prefix + name for name in PRIMARY_METRICS if prefix + name in names]
    if primary:
        return primary[:MAX_METRIC_COLUMNS]
    fallback = sorted(name for name in names if name.startswith(prefix)) or sorted(names)
    return fallback[:MAX_METRIC_COLUMNS]


def best_per_column(models: List[ModelResult], columns: List[str]) -> Dict[str, float]:
    """The best value of each column that at least two models report (direction from the metric name)."""
    best = {}
    for column in columns:
        values = [model.metrics[column] for model in models
                  if column in model.metrics and model.metrics[column] == model.metrics[column]]
        if len(values) >= 2:
            best[column] = min(values) if lower_is_better(column) else max(values)
    return best


def _plain(value: Any) -> Any:
    """TFX stores JSON-valued properties as {"__value__": ...}; dicts become "key: value" text."""
    if isinstance(value, dict) and set(value) == {"__value__"}:
        value = value["__value__"]
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}" for k, v in sorted(value.items()))
    return value


def _scalars(properties: Dict[str, Any]) -> List[Tuple[str, Any]]:
    hidden = ("tfx_version", "is_external", "name", "producer_component", "state")
    shown = []
    for key, value in sorted(properties.items()):
        value = _plain(value)
        if key in hidden or key.startswith("__") or value in ("", None):
            continue
        if isinstance(value, (int, float, str)) and len(str(value)) <= 300:
            shown.append((key, value))
    return shown


def _figure_order(name: str) -> str:
    """File order on the page: alphabetical, but a `*before*` plot ahead of its `*after*` twin."""
    return name.replace("before", "0").replace("after", "1")


def _root_files(uri: str) -> List[str]:
    gfile = _gfile()
    if not gfile.isdir(uri):
        return []
    return sorted(name for name in gfile.listdir(uri) if not name.endswith("/"))


def _policy(uri: str, with_preview: bool) -> Tuple[Optional[Dict[str, Any]], Optional[bytes]]:
    from components.types.artifacts import POLICY_FILE_NAME

    path = os.path.join(uri, POLICY_FILE_NAME)
    if not _gfile().exists(path):
        return None, None
    from augment_ops.policy import Policy

    raw = _read_json(path)
    policy = Policy.from_dict(raw)
    preview = policy_preview_png(policy.to_json()) if with_preview else None
    return policy.to_dict(), preview


@functools.lru_cache(maxsize=16)
def policy_preview_png(policy_json: str) -> bytes:
    """augment_ops' preview grid of a policy (random draws on the sample photos) as PNG bytes.

    Cached by the policy's JSON: the report is rewritten as a run
    progresses, and drawing a policy compiles its ops (seconds).
    """
    import tempfile

    from augment_ops import preview
    from augment_ops.policy import Policy

    policy = Policy.from_json(policy_json)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "policy_preview.png")
        preview.write_policy_preview(policy, path, num_draws=4, seed=0, size=96)
        with open(path, "rb") as handle:  # A local temp file, not an artifact.
            return handle.read()


def artifact_details(output, with_preview: bool = True) -> ArtifactDetails:
    """Scalars, PNGs, markdown, policy and summaries found at one output artifact's root."""
    gfile = _gfile()
    artifact = output.artifact
    figures, texts, summaries = [], [], []
    for name in sorted(_root_files(artifact.uri), key=_figure_order):
        path = os.path.join(artifact.uri, name)
        if name.lower().endswith(".png") and len(figures) < MAX_FIGURES_PER_ARTIFACT:
            with gfile.GFile(path, "rb") as handle:
                figures.append((name, handle.read()))
        elif name in TEXT_FILES:
            with gfile.GFile(path) as handle:
                texts.append((name, handle.read()[:MAX_TEXT_CHARS]))
        elif name.endswith(SUMMARY_SUFFIX):
            summary = _read_json(path)
            if isinstance(summary, dict):
                summaries.append((name, summary))
    for subdir in FIGURE_SUBDIRS:
        directory = os.path.join(artifact.uri, subdir)
        for name in sorted(_root_files(directory), key=_figure_order):
            if name.lower().endswith(".png") and len(figures) < MAX_FIGURES_PER_ARTIFACT:
                with gfile.GFile(os.path.join(directory, name), "rb") as handle:
                    figures.append((f"{subdir}/{name}", handle.read()))
    policy, preview = (None, None)
    if artifact.type_name == POLICY_TYPE:
        policy, preview = _policy(artifact.uri, with_preview)
    return ArtifactDetails(output.key, artifact.type_name, artifact.id, artifact.uri, _scalars(artifact.properties),
                           figures, texts, policy, preview, summaries)


def read_component_results(run, skip=("DataTranslation",), with_preview: bool = True) -> List[ComponentResults]:
    """Each component's outputs (except the data translation, shown in the data section), in run order."""
    results = []
    for component_run in run.components:
        if component_run.component in skip:
            continue
        edges = run.lineage.outputs_of(component_run.execution_id)
        outputs = [OutputArtifact(component_run.component, edge.key, run.lineage.artifacts[edge.artifact_id])
                   for edge in edges if edge.artifact_id in run.lineage.artifacts]
        artifacts = [artifact_details(output, with_preview) for output in outputs]
        results.append(ComponentResults(component_run.component, component_run.state, artifacts))
    return results


def pseudo_label_series(summary: Dict[str, Any]) -> Optional[Dict[str, List[float]]]:
    """Per-iteration pseudo-label counts and eval metrics from a semi-supervised summary, or None.

    Reads `iterations: [{iteration, pseudo_labels, metrics: {...}}]` (noisy
    student; iteration 0 is the teacher), per-epoch records
    `epochs: [{pseudo_label_rate, pseudo_label_accuracy, mask_rate, eval_accuracy, ...}]`
    (consistency training), and `pseudo_labels: {rate: [...], accuracy: [...]}`.
    """
    iterations = summary.get("iterations")
    if isinstance(iterations, list) and iterations and all(isinstance(item, dict) for item in iterations):
        steps = [float(item.get("iteration", index)) for index, item in enumerate(iterations)]
        series: Dict[str, List[float]] = {"iteration": steps}
        if any("pseudo_labels" in item for item in iterations):
            series["pseudo_labels"] = [float(item.get("pseudo_labels", 0) or 0) for item in iterations]
        metric_names = sorted({name for item in iterations for name in (item.get("metrics") or {})})
        for name in metric_names:
            series[name] = [float((item.get("metrics") or {}).get(name, float("nan"))) for item in iterations]
        return series
    epochs = summary.get("epochs")
    if isinstance(epochs, list) and epochs and all(isinstance(record, dict) for record in epochs):
        names = [name for name in epochs[-1] if "pseudo_label" in name or name in ("mask_rate", "eval_accuracy")]
        if any("pseudo_label" in name for name in names):
            series = {"epoch": [float(index + 1) for index in range(len(epochs))]}
            for name in names:
                values = [record.get(name) for record in epochs]
                series[name] = [float("nan") if not isinstance(v, (int, float)) else float(v) for v in values]
            return series
    per_epoch = summary.get("pseudo_labels")
    if isinstance(per_epoch, dict):
        numeric = _numeric_series(per_epoch)
        if numeric:
            length = max(len(values) for values in numeric.values())
            return dict({"epoch": [float(index + 1) for index in range(length)]}, **numeric)
    return None
