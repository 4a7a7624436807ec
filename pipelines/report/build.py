"""write_report(run_dir): one self-contained HTML page for a run, at RUN_DIR/report/index.html.

Every picture is embedded as a data URI, so the page is one file that
opens offline, in a browser on a laptop or from an artifact store, and can
be mailed or attached to a ticket. Sections are built independently: one
that cannot be read (an artifact still being written, a file from an
older format) shows its error in place and the rest of the report stands.
"""

from __future__ import annotations

import base64
import datetime
import io
import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional

from pipelines import lineage as lineage_lib
from pipelines.report import autofit, collect, data, plots, techniques, validation
from pipelines.report.render import render_html

REPORT_DIR_NAME = "report"
REPORT_FILE_NAME = "index.html"
# Overlaid across models: Keras' validation curves, or the eval-split curves some trainers log instead.
OVERLAY_METRICS = {"val_accuracy": ("val_accuracy", "eval_accuracy"), "val_loss": ("val_loss", "eval_loss")}
MAX_CURVE_MODELS = 12
# The lineage drawing is shown at this fraction of its pixel width (scrolls when wider than the page).
LINEAGE_SCALE = 0.62

logger = logging.getLogger(__name__)


def data_uri(payload: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _when(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:
        return "NaN"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def _data_context(section: data.DataSection) -> Dict[str, Any]:
    spec = section.spec
    rows = section.split_rows()
    size = f"{spec.width.minimum}-{spec.width.maximum} x {spec.height.minimum}-{spec.height.maximum}"
    if spec.width.minimum == spec.width.maximum and spec.height.minimum == spec.height.maximum:
        size = f"{spec.width.minimum} x {spec.height.minimum}"
    samples = []
    for class_name, found in section.samples.items():
        images = []
        for sample in found:
            boxes = [{"top": 100 * ymin, "left": 100 * xmin, "height": 100 * (ymax - ymin),
                      "width": 100 * (xmax - xmin), "label": label}
                     for ymin, xmin, ymax, xmax, label in sample.boxes]
            images.append({"src": data_uri(sample.png_or_jpeg, sample.mime), "source_id": sample.source_id,
                           "boxes": boxes})
        samples.append({"class_name": class_name, "images": images})
    return {
        "task": spec.task, "source_format": spec.source_format, "class_names": spec.class_names,
        "num_classes": spec.num_classes, "channels": spec.channels, "size": size,
        "records_read": spec.records_read, "records_written": spec.records_written,
        "records_rejected": spec.records_rejected, "warnings": list(getattr(spec, "warnings", []) or []),
        "rejected_by_stage": sorted((getattr(spec, "rejected_by_stage", {}) or {}).items()),
        "split_rows": rows, "counts_png": data_uri(plots.class_counts_png(spec.class_names, rows)) if rows else None,
        "samples": samples, "sample_split": section.sample_split, "rejected_rows": section.rejected,
        "rejected_reasons": section.rejected_reasons, "data_spec_uri": section.data_spec_uri,
        "examples_uri": section.examples_uri,
    }


def _models_context(models: List[techniques.ModelResult]) -> Optional[Dict[str, Any]]:
    if not models:
        return None
    columns = techniques.metric_columns(models)
    best = techniques.best_per_column(models, columns) if len(models) > 1 else {}
    rows = []
    for model in models:
        values = [{"text": _number(model.metrics[c]) if c in model.metrics else "",
                   "best": c in best and model.metrics.get(c) == best[c]} for c in columns]
        other = {k: v for k, v in model.metrics.items() if k not in columns}
        rows.append({"label": model.label, "component": model.component, "key": model.key, "uri": model.uri,
                     "cells": values, "other": [(k, _number(v)) for k, v in sorted(other.items())]})
    with_history = [model for model in models if model.history][:MAX_CURVE_MODELS]
    overlays = []
    for metric, aliases in OVERLAY_METRICS.items():
        series = {}
        for model in with_history:
            found = next((model.history[alias] for alias in aliases if alias in model.history), None)
            if found:
                series[model.label] = found
        if len(series) > 1:
            overlays.append({"metric": metric, "src": data_uri(plots.overlay_png(metric, series))})
    curves = [{"label": model.label, "src": data_uri(plots.learning_curves_png(model.history))}
              for model in with_history]
    return {"columns": columns, "rows": rows, "overlays": overlays, "curves": curves}


def _components_context(results: List[techniques.ComponentResults]) -> List[Dict[str, Any]]:
    cards = []
    for result in results:
        artifacts = []
        for details in result.artifacts:
            pseudo = []
            for name, summary in details.summaries:
                series = techniques.pseudo_label_series(summary)
                if series:
                    pseudo.append({"name": name, "src": data_uri(plots.pseudo_label_png(name, series))})
            artifacts.append({
                "key": details.key, "type": details.type_name.split(".")[-1], "id": details.artifact_id,
                "uri": details.uri, "scalars": [(k, _number(v)) for k, v in details.scalars],
                "figures": [{"name": name, "src": data_uri(payload)} for name, payload in details.figures],
                "texts": details.texts, "policy": details.policy,
                "policy_preview": data_uri(details.policy_preview) if details.policy_preview else None,
                "pseudo": pseudo,
            })
        cards.append({"component": result.component, "state": result.state, "artifacts": artifacts})
    return cards


def _timings_context(run: collect.RunRecord) -> Dict[str, Any]:
    start = run.started
    rows = [{"component": c.component, "state": c.state, "type": c.type_name.split(".")[-1],
             "started": _when(c.started), "offset": "" if c.started is None or start is None else
             plots.duration_text(c.started - start), "duration": plots.duration_text(c.seconds)}
            for c in run.components]
    chart = data_uri(plots.timings_png(run.components)) if any(c.seconds is not None for c in run.components) else None
    return {"rows": rows, "src": chart}


def _exports_context(run: collect.RunRecord, models: List[techniques.ModelResult]) -> List[Dict[str, Any]]:
    blessed = {}
    for output in run.outputs_of_type("ModelBlessing"):
        model_uri = output.artifact.properties.get("current_model")
        if model_uri:
            blessed[str(model_uri)] = output.artifact.properties.get("blessed") == 1
    rows = [{"label": m.label, "uri": m.uri, "keras": m.has_keras, "serving": m.has_serving,
             "serving_uri": os.path.join(m.uri, techniques.SERVING_DIR_NAME), "blessed": blessed.get(m.uri)}
            for m in models]
    for output in run.outputs_of_type("PushedModel"):  # Stock Pusher: where it copied the blessed SavedModel.
        properties = output.artifact.properties
        if properties.get("pushed") == 1:
            destination = str(properties.get("pushed_destination") or output.artifact.uri)
            rows.append({"label": f"{output.component}.{output.key} #{output.artifact.id}", "uri": destination,
                         "keras": False, "serving": True, "serving_uri": destination, "blessed": True})
    return rows


def _lineage_context(run: collect.RunRecord, scratch: str) -> Dict[str, Any]:
    path = os.path.join(scratch, "lineage.png")
    lineage_lib.plot_lineage(run.lineage, path)
    with open(path, "rb") as handle:  # A local scratch file.
        payload = handle.read()
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as image:
        width = int(image.width * LINEAGE_SCALE)
    return {"dag": data_uri(plots.dag_png(run.components, run.lineage)), "src": data_uri(payload), "width": width,
            "text": lineage_lib.format_lineage(run.lineage)}


def _kpis(run, context) -> List[Dict[str, str]]:
    kpis = []
    selection = context.get("selection")
    if selection and selection.get("champion"):
        champion = next((c for c in selection["candidates"] if c["name"] == selection["champion"]), None)
        value = _number(champion["metric"]) if champion and champion.get("metric") is not None else ""
        kpis.append({"label": f"champion ({selection['metric']})", "value": value, "note": selection["champion"]})
    for output in run.outputs_of_type("ModelEvaluation")[-1:]:
        props = output.artifact.properties
        for metric in ("accuracy", "macro_f1", "map", "mean_iou"):
            if isinstance(props.get(metric), float):
                kpis.append({"label": f"held-out {metric}", "value": _number(props[metric]),
                             "note": f"{props.get('split', '')} split, {props.get('num_examples', '?')} images"})
                break
    for output in run.outputs_of_type("ModelBlessing")[-1:]:
        blessed = output.artifact.properties.get("blessed") == 1
        kpis.append({"label": "blessed", "value": "yes" if blessed else "no", "tone": "good" if blessed else "bad",
                     "note": str(output.artifact.properties.get("reasons", ""))[:80]})
    if context.get("data"):
        data_context = context["data"]
        kpis.append({"label": "images", "value": _number(data_context["records_written"]),
                     "note": f"{data_context['num_classes']} classes, {data_context['records_rejected']} rejected"})
    states = [c.state for c in run.components]
    done = sum(state in ("COMPLETE", "CACHED") for state in states)
    kpis.append({"label": "components", "value": f"{done}/{len(states)}",
                 "note": "finished" if done == len(states) else ", ".join(sorted(set(states))),
                 "tone": "good" if done == len(states) else "warn"})
    if run.started is not None and run.finished is not None:
        kpis.append({"label": "wall time", "value": plots.duration_text(run.finished - run.started), "note": ""})
    return kpis


def build_context(run_dir: str, with_preview: bool = True) -> Dict[str, Any]:
    """Everything the template shows, as plain values (images as data URIs)."""
    import tempfile

    run = collect.read_run(run_dir)
    context: Dict[str, Any] = {"errors": {}}

    def section(name: str, builder: Callable[[], Any]) -> Any:
        try:
            return builder()
        except Exception as error:  # One unreadable section must not cost the whole report.
            logger.warning("report section %s failed: %s", name, error, exc_info=True)
            context["errors"][name] = f"{type(error).__name__}: {error}"
            return None

    data_section = section("data", lambda: data.read_data_section(run))
    context["data"] = section("data", lambda: _data_context(data_section)) if data_section else None
    context["validation"] = section("validation", lambda: validation.read_validation_section(run))
    context["plan"] = section("plan", lambda: autofit.read_plan(run))
    selection = section("selection", lambda: autofit.read_selection(run))
    if selection:
        selection["src"] = section("selection", lambda: data_uri(plots.candidates_png(
            selection["metric"], selection["candidates"], selection.get("champion"))))
    context["selection"] = selection
    context["run_decisions"] = section("selection", lambda: [
        {"component": component, "text": text} for component, text in lineage_lib.run_decisions(run.lineage)])
    models = section("models", lambda: techniques.read_models(run)) or []
    context["models"] = section("models", lambda: _models_context(models))
    results = section("components", lambda: techniques.read_component_results(run, with_preview=with_preview)) or []
    context["components"] = section("components", lambda: _components_context(results)) or []
    with tempfile.TemporaryDirectory() as scratch:
        context["lineage"] = section("lineage", lambda: _lineage_context(run, scratch))
    context["timings"] = section("timings", lambda: _timings_context(run))
    context["exports"] = section("exports", lambda: _exports_context(run, models)) or []
    context.update(
        title=run.pipeline_name or os.path.basename(os.path.abspath(run_dir)),
        run_dir=os.path.abspath(run_dir) if "://" not in run_dir else run_dir,
        run_name=run.run_name or "", earlier_runs=run.earlier_runs,
        generated=_when(time.time()), started=_when(run.started), finished=_when(run.finished),
        kpis=_kpis(run, context),
    )
    return context


def write_report(run_dir: str, output_dir: Optional[str] = None, with_preview: bool = True) -> str:
    """Writes the run's report and returns the path of its index.html.

    Args:
      run_dir: a run directory holding metadata.sqlite (finished or still running).
      output_dir: where index.html goes (default RUN_DIR/report).
      with_preview: draw the augmentation policy preview grid (runs the
        policy on the sample photos; a few seconds).

    Raises:
      FileNotFoundError: `run_dir` has no ML Metadata database.
    """
    import tensorflow as tf

    context = build_context(run_dir, with_preview=with_preview)
    output_dir = output_dir or os.path.join(run_dir, REPORT_DIR_NAME)
    tf.io.gfile.makedirs(output_dir)
    path = os.path.join(output_dir, REPORT_FILE_NAME)
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(render_html(context))
    logger.info("Run report: %s", path)
    return path
