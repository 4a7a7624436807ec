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


def metric_columns(models: List[ModelResult], prefix: str = "eval_") -> List[str]:
    """Metric names for the candidate table: `eval_*` ones when any model has them, else all, sorted."""
    names = sorted({name for model in models for name in model.metrics})
    preferred = [name for name in names if name.startswith(prefix)]
    return preferred or names


def best_per_column(models: List[ModelResult], columns: List[str]) -> Dict[str, float]:
    """The best value of each column over the models (direction from the metric name)."""
    best = {}
    for column in columns:
        values = [model.metrics[column] for model in models if column in model.metrics and model.metrics[column] == model.metrics[column]]
        if values:
            best[column] = min(values) if lower_is_better(column) else max(values)
    return best


def _scalars(properties: Dict[str, Any]) -> List[Tuple[str, Any]]:
    hidden = ("tfx_version", "is_external", "name", "producer_component", "state")
    shown = []
    for key, value in sorted(properties.items()):
        if key in hidden or key.startswith("__"):
            continue
        if isinstance(value, (int, float, str)) and len(str(value)) <= 300:
            shown.append((key, value))
        elif isinstance(value, dict):
            shown.append((key, ", ".join(f"{k}: {v}" for k, v in sorted(value.items()))))
    return shown


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
    for name in _root_files(artifact.uri):
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
    student; iteration 0 is the teacher) and the per-epoch form
    `pseudo_labels: {rate: [...], accuracy: [...]}` (consistency training).
    """
    iterations = summary.get("iterations")
    if isinstance(iterations, list) and iterations and all(isinstance(item, dict) for item in iterations):
        series: Dict[str, List[float]] = {"iteration": [float(item.get("iteration", index)) for index, item in enumerate(iterations)]}
        if any("pseudo_labels" in item for item in iterations):
            series["pseudo_labels"] = [float(item.get("pseudo_labels", 0) or 0) for item in iterations]
        metric_names = sorted({name for item in iterations for name in (item.get("metrics") or {})})
        for name in metric_names:
            series[name] = [float((item.get("metrics") or {}).get(name, float("nan"))) for item in iterations]
        return series
    per_epoch = summary.get("pseudo_labels")
    if isinstance(per_epoch, dict):
        numeric = _numeric_series(per_epoch)
        if numeric:
            length = max(len(values) for values in numeric.values())
            return dict({"epoch": [float(index + 1) for index in range(length)]}, **numeric)
    return None
