"""Human- and machine-readable evaluation reports (markdown, JSON-ready dicts)."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional

from components.common.artifact_io import json_ready  # noqa: F401 (one JSON policy; re-exported)
from components.evaluation import blessing as blessing_lib
from components.evaluation import metrics as metric_names


def compare(candidate: Mapping[str, float], baseline: Mapping[str, float]) -> Dict[str, Dict[str, Any]]:
    """Per shared scalar metric: candidate, baseline and improvement (positive = better)."""
    table = {}
    for metric in candidate:
        if metric not in baseline:
            continue
        table[metric] = {
            "candidate": candidate[metric],
            "baseline": baseline[metric],
            "improvement": blessing_lib.improvement(metric, candidate[metric], baseline[metric]),
            "higher_is_better": metric_names.higher_is_better(metric),
        }
    return table


def _format(value: Optional[float]) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def summary_markdown(
    result: Mapping[str, Any],
    decision: blessing_lib.BlessingDecision,
    split: str,
    model_uri: str,
    comparison: Optional[Mapping[str, Mapping[str, Any]]] = None,
    baseline_uri: Optional[str] = None,
) -> str:
    """A short markdown report: verdict, scalar metrics, per-class table, plots."""
    verdict = "BLESSED" if decision.blessed else "NOT BLESSED"
    lines = [
        f"# Evaluation: {verdict}",
        "",
        f"- model: `{model_uri}`",
        f"- split: `{split}` ({result['num_examples']} labeled examples, "
        f"{result['num_unlabeled_skipped']} unlabeled skipped)",
        f"- task: {result['task']}",
    ]
    if baseline_uri:
        lines.append(f"- baseline: `{baseline_uri}`")
    lines += ["", "## Blessing", ""]
    lines += [f"- {'PASS' if check.passed else 'FAIL'}: {check.message}" for check in decision.checks]
    lines += [f"- {line}" for line in decision.notes]
    if not decision.checks:
        lines.append("- No thresholds configured; blessed by default.")
    lines += ["", "## Metrics", ""]
    if comparison:
        lines += ["| metric | candidate | baseline | improvement (+ = better) |", "|---|---|---|---|"]
        for metric, value in result["metrics"].items():
            row = comparison.get(metric)
            if row:
                lines.append(
                    f"| {metric} | {_format(value)} | {_format(row['baseline'])} | {row['improvement']:+.4f} |"
                )
            else:
                lines.append(f"| {metric} | {_format(value)} | n/a | n/a |")
    else:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {metric} | {_format(value)} |" for metric, value in result["metrics"].items()]
    if "top_k" in result:
        lines.append(f"\n(top-k accuracy uses k = {result['top_k']})")
    lines += ["", "## Per class", "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, scores in result["per_class"].items():
        lines.append(
            f"| {name} | {_format(scores['precision'])} | {_format(scores['recall'])} | "
            f"{_format(scores['f1'])} | {scores['support']} |"
        )
    lines += ["", "![confusion matrix](confusion_matrix.png)", ""]
    lines += ["![reliability diagram](reliability_diagram.png)", ""]
    return "\n".join(lines)
