"""`autofit run`: profile the data, plan, run the planned DAG, say what happened.

Two TFX runs of one pipeline: first DataTranslation alone (its DataSpec is the
profile the plan is made from), then the whole planned DAG, in which the same
DataTranslation is a cache hit. The plan is written to RUN_DIR/autofit/ and,
through the AutofitPlan component, into MLMD lineage.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from typing import Any, Dict, List, Optional

from pipelines.autofit.plan import Plan, make_plan
from pipelines.autofit.profile import profile_from_data_spec
from pipelines.config import RunConfig

logger = logging.getLogger(__name__)
PLAN_DIR_NAME = "autofit"
SUMMARY_FILE_NAME = "summary.json"
# Exit codes of `autofit run`.
EXIT_BLESSED, EXIT_CONFIG_ERROR, EXIT_NOT_BLESSED = 0, 2, 3


def translate_only(config: RunConfig, runner: str = "local", enable_cache: Optional[bool] = None):
    """Runs DataTranslation (and the domain-adaptation target's) alone; returns the DataSpecContent."""
    from components.data_translation.component import DataTranslation
    from components.types.data_spec import check_trainable, read_data_spec
    from pipelines import lineage as lineage_lib
    from pipelines.autofit.dag import target_translation, translation_config
    from pipelines.metadata import metadata_connection_from_env
    from pipelines.pipeline import create_pipeline
    from pipelines.runners import run_pipeline

    nodes = [DataTranslation(config=translation_config(config.data))]
    target = target_translation(config)
    if target is not None:
        nodes.append(target)
    pipeline = create_pipeline(config, metadata_connection=metadata_connection_from_env(config.run_dir, os.environ),
                               enable_cache=True if enable_cache is None else enable_cache, components=nodes)
    run_pipeline(config, runner=runner, pipeline=pipeline)
    artifact = lineage_lib.find_output(lineage_lib.read_lineage(config.run_dir), "DataTranslation", "data_spec")
    if artifact is None:
        raise RuntimeError(f"DataTranslation wrote no DataSpec under {config.run_dir}.")
    data_spec = read_data_spec(artifact.uri)
    check_trainable(data_spec)
    return data_spec


def plan_for(config: RunConfig, data_spec) -> Plan:
    from pipelines.autofit.dag import installed_techniques

    profile = profile_from_data_spec(data_spec, has_target=bool((config.forced("domain_adaptation") or {}).get("target")))
    return make_plan(profile, config.techniques, config.budget, config.training, available=installed_techniques())


def existing_data_spec(config: RunConfig):
    """The DataSpec of this run directory's latest translation, or None (no run yet, or MLMD elsewhere)."""
    from components.types.data_spec import read_data_spec
    from pipelines import lineage as lineage_lib

    if not os.path.exists(config.metadata_path):
        return None
    try:
        artifact = lineage_lib.find_output(lineage_lib.read_lineage(config.run_dir), "DataTranslation", "data_spec")
        return read_data_spec(artifact.uri) if artifact is not None else None
    except (FileNotFoundError, KeyError, RuntimeError):
        return None


def plan_for_compile(config: RunConfig, echo=print) -> Optional[Plan]:
    """The plan `compile` and `submit` build: from this run_dir's translated data, else a local translation.

    Data on a remote filesystem cannot be profiled from here: the fixed chain of the sections given is
    compiled then, and said so.
    """
    if not config.autofit:
        return None
    if "://" in str(config.data.get("path", "")):
        echo(f"autofit: data at {config.data['path']} cannot be profiled from here; compiling the fixed chain of "
             "the config's sections (run `autofit run` on a local copy to plan, or set autofit: false).")
        return None
    local = config
    if "://" in config.run_dir:  # a cluster pipeline root (gs://): profile in a local folder instead
        local = dataclasses.replace(config, run_dir=os.path.join(tempfile.gettempdir(), "autofit-profile",
                                                                 config.pipeline_name))
        echo(f"autofit: profiling the data locally under {local.run_dir} (the run directory is remote).")
    data_spec = existing_data_spec(local)
    if data_spec is None:
        echo("autofit: profiling the data (DataTranslation) to plan the pipeline ...")
        data_spec = translate_only(local)
    plan = plan_for(config, data_spec)
    write_plan(plan, local.run_dir)
    for line in plan.lines():
        echo(line)
    return plan


def write_plan(plan: Plan, run_dir: str) -> str:
    directory = os.path.join(run_dir, PLAN_DIR_NAME)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "plan.json")
    with open(path, "w") as handle:
        json.dump(plan.to_dict(), handle, indent=2, sort_keys=True)
    with open(os.path.join(directory, "plan.txt"), "w") as handle:
        handle.write("\n".join(plan.lines()) + "\n")
    return path


def run(config: RunConfig, runner: str = "local", enable_cache: Optional[bool] = None, echo=print) -> Dict[str, Any]:
    """The whole autofit run; returns the summary (also written to RUN_DIR/autofit/summary.json)."""
    from pipelines.config_values import check_section_values
    from pipelines.runners import run_pipeline

    check_section_values(config)  # a bad value in any section stops the run before the data is read
    started = time.time()
    plan = None
    if config.autofit:
        data_spec = translate_only(config, runner, enable_cache)
        plan = plan_for(config, data_spec)
        write_plan(plan, config.run_dir)
        for line in plan.lines():
            echo(line)
    if config.data.get("task") in ("detection", "segmentation") and not config.evaluation.get("thresholds"):
        echo(f"autofit: note: {config.data['task']} has no trivial baseline to beat, so without "
             "evaluation.thresholds (e.g. {map_50: 0.5} or {mean_iou: 0.5}) the model will not be blessed.")
    run_pipeline(config, runner=runner, enable_cache=enable_cache, plan=plan)
    summary = summarize(config, time.time() - started)
    for line in summary_lines(summary):
        echo(line)
    return summary


def summarize(config: RunConfig, seconds: float) -> Dict[str, Any]:
    """Champion, its held-out metrics, decisions and where things are, from MLMD."""
    from pipelines import lineage as lineage_lib
    from pipelines.results import evaluation_summary

    evaluation = evaluation_summary(config.run_dir)
    metrics = evaluation["metrics"]
    if "accuracy" in metrics and metrics.get("num_examples") and "accuracy_interval" not in metrics:
        metrics["accuracy_interval"] = list(wilson_interval(metrics["accuracy"], int(metrics["num_examples"])))
    graph = lineage_lib.read_lineage(config.run_dir)
    ran = {node.component for node in graph.executions}
    selection = lineage_lib.find_output(graph, "ChampionSelection", "selection") if "ChampionSelection" in ran else None
    decisions = None
    if selection is not None:
        import tensorflow as tf

        from components.champion_selection.spec import SELECTION_FILE_NAME
        from components.common.artifact_io import read_json

        path = os.path.join(selection.uri, SELECTION_FILE_NAME)
        if tf.io.gfile.exists(path):  # an artifact: through gfile, like every other artifact read
            decisions = read_json(path)
    refit = None
    if "Refit" in ran:
        refitted = lineage_lib.find_output(graph, "Refit", "model")
        if refitted is not None:
            refit = {key: refitted.properties.get(key) for key in ("refit", "refit_reason", "refit_images",
                                                                   "refit_epochs", "refit_trainer")}
            if "EvaluationBeforeRefit" in ran:
                refit["before"] = evaluation_summary(config.run_dir, "EvaluationBeforeRefit")["metrics"]
    data_decisions = [f"{component}: {text}" for component, text in lineage_lib.run_decisions(graph)]
    summary = {
        "seconds": round(seconds, 1),
        "data": data_summary(graph),
        "refit": refit,
        "data_decisions": data_decisions,
        "champion": decisions["champion"] if decisions else "Training",
        "selection": decisions,
        "evaluation": evaluation,
        "run_dir": config.run_dir,
        "metadata": config.metadata_path,
    }
    try:
        from pipelines.report import write_report

        summary["report"] = write_report(config.run_dir)
    except Exception as error:  # The report must never fail a finished run.
        logger.warning("Could not write the run report: %s", error)
        summary["report"] = None
    directory = os.path.join(config.run_dir, PLAN_DIR_NAME)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, SUMMARY_FILE_NAME), "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True, default=str)
    return summary


def data_summary(graph) -> Optional[Dict[str, Any]]:
    """What translation read, wrote and rejected, and its warnings: a run must not hide lost images."""
    from pipelines import lineage as lineage_lib
    from components.types.data_spec import read_data_spec

    artifact = lineage_lib.find_output(graph, "DataTranslation", "data_spec")
    if artifact is None:
        return None
    spec = read_data_spec(artifact.uri)
    return {"read": spec.records_read, "written": spec.records_written, "rejected": spec.records_rejected,
            "rejected_report": spec.rejected_report, "rejected_by_stage": dict(spec.rejected_by_stage),
            "channels_converted": dict(spec.channels_converted), "warnings": list(spec.warnings)}


def data_lines(data: Optional[Dict[str, Any]]) -> List[str]:
    """`[data]` lines: rejected images (with where their reasons are) and translation's warnings."""
    if not data:
        return []
    lines = []
    if data.get("rejected"):
        lines.append(f"[data] {data['rejected']} of {data['read']} records rejected, {data['written']} used; each "
                     f"is named with its reason in {data.get('rejected_report')}")
    lines.extend(f"[data] {warning}" for warning in data.get("warnings") or [])
    return lines


def dense_metrics(metrics: Dict[str, Any]) -> str:
    """Detection's COCO mAPs or segmentation's IoUs, the headline where there is no accuracy; else n/a."""
    from components.evaluation.metrics import DETECTION_METRICS, SEGMENTATION_METRICS

    shown = [f"{name} {float(metrics[name]):.4f}" for name in DETECTION_METRICS + SEGMENTATION_METRICS
             if isinstance(metrics.get(name), (int, float))]
    return ", ".join(shown) or "n/a"


def wilson_interval(proportion: float, trials: int, z: float = 1.96):
    """Two-sided 95% Wilson score interval of an accuracy measured on `trials` images."""
    denominator = 1 + z * z / trials
    centre = (proportion + z * z / (2 * trials)) / denominator
    half = z * ((proportion * (1 - proportion) / trials + z * z / (4 * trials * trials)) ** 0.5) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def summary_lines(summary: Dict[str, Any]):
    evaluation = summary["evaluation"]
    metrics = evaluation["metrics"]
    lines = ["", "=" * 72]
    lines.extend(data_lines(summary.get("data")))
    for decision in summary.get("data_decisions") or []:
        lines.append(f"[decided] {decision}")
    selection = summary.get("selection")
    if selection:
        for decision in selection.get("decisions", []):
            mark = "kept   " if decision["kept"] else "dropped"
            lines.append(f"[{mark}] {decision['candidate']}: {decision['reason']}")
    lines.append(f"champion: {summary['champion']}")
    interval = metrics.get("accuracy_interval")
    shown, what = (f"{metrics['accuracy']:.4f}", "accuracy") if "accuracy" in metrics else (dense_metrics(metrics), "metrics")
    if interval:
        shown += f" (95% interval {interval[0]:.4f}-{interval[1]:.4f})"
    refit = summary.get("refit")
    scored = ""
    if refit and refit.get("refit"):
        lines.append(f"refit: {refit.get('refit_reason')}")
        scored = (", the refitted model" if refit.get("before") else
                  ", the recipe before refit (the refitted model trained on these images)")
    elif refit:
        lines.append(f"refit: {refit.get('refit_reason')}")
    lines.append(f"held-out {what} ({metrics.get('split')}, {metrics.get('num_examples')} images{scored}): {shown}   "
                 f"blessed: {evaluation['blessed']}")
    before = (refit or {}).get("before") if (refit or {}).get("refit") else None
    if before and "accuracy" in before:
        lines.append(f"  before refit, same images: {before['accuracy']:.4f}")
    lines.append(f"took {summary['seconds']:.0f} s; ML Metadata: {summary['metadata']}")
    if summary.get("report"):
        lines.append(f"report: {summary['report']}")
    lines.append("=" * 72)
    return lines
