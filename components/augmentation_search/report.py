"""The search report: distance table, cluster plot, pass-2 curves, chosen policy, wall times.

Plots use matplotlib's Agg canvas on a bare `Figure` (no pyplot state) and
return PNG bytes; `write_report` puts everything in the Report artifact.
"""

from __future__ import annotations

import json
import math
import os
from typing import Dict, List

import tensorflow as tf
from matplotlib import colormaps
from matplotlib.figure import Figure

from augment_ops import geometric
from components.augmentation_search.augmentation_search import SearchResult
from components.augmentation_search.trials import BASELINE, CLUSTER, COMBINED
from components.augmentation_search.clustering import cluster_of
from components.augmentation_search.search_policy import describe
from components.common.artifact_io import json_ready
from components.evaluation.plots import figure_png

SUMMARY_FILE_NAME = "summary.json"
REPORT_FILE_NAME = "report.md"
DISTANCE_TABLE_FILE_NAME = "distance_table.csv"
CLUSTER_PLOT_FILE_NAME = "clusters.png"
PASS_TWO_PLOT_FILE_NAME = "pass2_curves.png"
# Ops that change orientation; on data like digits they change the class.
ORIENTATION_OPS = ("flip_left_right", "flip_up_down", "rot90")
LARGE_ROTATION_DEGREES = 30.0  # Beyond rotate's range: quarter and half turns (6 <-> 9).


def _colors(count: int):
    cmap = colormaps["tab10"]
    return [cmap(index % 10) for index in range(count)]


def cluster_plot_png(result: SearchResult) -> bytes:
    """Every candidate at (relative Frechet distance, label change), coloured by its op's cluster."""
    assignment = cluster_of(result.clusters)
    colors = _colors(max(assignment.values(), default=0) + 1)
    figure = Figure(figsize=(9, 6))
    axes = figure.add_subplot()
    for cluster in result.clusters:
        points = [e for e in result.effects if assignment.get(e.candidate.op) == cluster.index]
        label = f"cluster {cluster.index}" + (" (inert)" if cluster.inert else f" ({len(cluster.ops)} ops)")
        axes.scatter(
            [math.log1p(e.relative_frechet) for e in points], [e.label_change for e in points],
            s=[15 + 40 * e.candidate.magnitude for e in points], color=colors[cluster.index], alpha=0.75, label=label,
        )
    strongest: Dict[str, object] = {}
    for effect in result.effects:
        if effect.candidate.op in assignment:
            strongest[effect.candidate.op] = effect  # Effects are in magnitude order per op.
    for op, effect in strongest.items():
        axes.annotate(op, (math.log1p(effect.relative_frechet), effect.label_change), fontsize=6, alpha=0.8)
    axes.set_xlabel("log(1 + Frechet distance / clean embedding variance)")
    axes.set_ylabel("share of predicted labels changed")
    axes.set_title(f"Pass 1: {len(result.effects)} candidates (marker size = magnitude), op clusters")
    axes.legend(loc="lower right", fontsize=8)
    return figure_png(figure)


def pass_two_plot_png(result: SearchResult) -> bytes:
    """Held-out accuracy per cluster vs magnitude, with the baselines and combined trials."""
    figure = Figure(figsize=(9, 5.5))
    axes = figure.add_subplot()
    colors = _colors(max((c.index for c in result.clusters), default=0) + 1)
    for cluster in result.clusters:
        points = sorted((t.magnitude, t.accuracy) for t in result.trials if t.kind == CLUSTER and t.cluster == cluster.index)
        if points:
            axes.plot(*zip(*points), marker="o", color=colors[cluster.index], label=f"cluster {cluster.index}")
    styles = iter(["--", ":", "-."])
    for trial in result.trials:
        if trial.kind == BASELINE:
            axes.axhline(trial.accuracy, linestyle=next(styles, "--"), color="gray", label=trial.name)
    for trial in result.trials:
        if trial.kind == COMBINED:
            axes.scatter([1.02], [trial.accuracy], marker="*", s=120, label=trial.name)
    axes.scatter(
        [result.chosen.magnitude if result.chosen.magnitude is not None else 1.02], [result.chosen.accuracy],
        s=300, facecolors="none", edgecolors="red", linewidths=2, label="chosen",
    )
    axes.set_xlabel("magnitude (combined trials at the right edge)")
    axes.set_ylabel("held-out accuracy after a short warm-started training")
    axes.set_title(f"Pass 2: {len(result.trials)} short trainings")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure_png(figure)


def distance_rows(result: SearchResult) -> List[dict]:
    assignment = cluster_of(result.clusters)
    return [dict(effect.to_dict(), cluster=assignment.get(effect.candidate.op)) for effect in result.effects]


def distance_table_csv(result: SearchResult) -> str:
    columns = ["op", "magnitude", "family", "cluster", "frechet", "relative_frechet", "loss_change", "label_change",
               "accuracy"]

    def cell(value) -> str:
        if value is None:
            return ""
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    lines = [",".join(columns)]
    for row in distance_rows(result):
        lines.append(",".join(cell(row[column]) for column in columns))
    return "\n".join(lines) + "\n"


def orientation_findings(result: SearchResult) -> Dict[str, object]:
    """Did the search choose orientation-changing ops or large rotations? With the pass-1/2 evidence."""
    assignment = cluster_of(result.clusters)
    chosen_ops = {op.name for op in result.policy.ops if op.probability > 0}
    none_accuracy = result.baseline_accuracy("none")
    findings = {}
    for op in ORIENTATION_OPS:
        effects = [e for e in result.effects if e.candidate.op == op]
        if not effects:
            continue
        cluster = assignment.get(op)
        cluster_trials = [t.accuracy for t in result.trials if t.kind == CLUSTER and t.cluster == cluster]
        findings[op] = {
            "chosen": op in chosen_ops,
            "cluster": cluster,
            "max_label_change": max(e.label_change for e in effects),
            "best_cluster_trial_accuracy": max(cluster_trials) if cluster_trials else None,
            "no_augmentation_accuracy": none_accuracy,
        }
    rotation_degrees = max(
        [
            op.magnitude * geometric.MAX_ROTATION_DEGREES
            for op in result.policy.ops
            if op.name == "rotate" and op.probability > 0
        ],
        default=0.0,
    )
    findings["max_rotation_degrees"] = rotation_degrees
    findings["large_rotation_chosen"] = rotation_degrees > LARGE_ROTATION_DEGREES or bool(
        findings.get("rot90", {}).get("chosen")
    )
    findings["mirror_chosen"] = any(findings.get(op, {}).get("chosen") for op in ("flip_left_right", "flip_up_down"))
    return findings


def decision_summary(result: SearchResult) -> dict:
    """The final choice: output policy, its role, the rule and every paired comparison (decision.json)."""
    final = result.final
    values = final.to_dict() if final is not None else {"chosen": result.chosen.name, "decisions": []}
    values["chosen_policy"] = result.policy.name
    values["n"] = int(result.chosen.correct.size)
    return values


def summary(result: SearchResult) -> dict:
    """JSON-ready summary (no NaN)."""
    return {
        "decision": decision_summary(result),
        "chosen_policy": result.policy.to_dict(),
        "chosen_trial": result.chosen.name,
        "chosen_policy_text": describe(result.policy),
        "chosen_source": result.source,
        "chosen_accuracy": result.chosen.accuracy,
        "no_augmentation_accuracy": result.baseline_accuracy("none"),
        "randaugment_accuracy": result.baseline_accuracy("rand_augment"),
        "proxy_accuracy": result.proxy_accuracy,
        "seconds": result.seconds,
        "num_candidates": len(result.effects),
        "clusters": [cluster.to_dict() for cluster in result.clusters],
        "trial_magnitudes": {str(k): v for k, v in result.trial_magnitudes.items()},
        "trials": [trial.to_dict() for trial in result.trials],
        "orientation": orientation_findings(result),
    }


def decision_lines(result: SearchResult) -> List[str]:
    """The final choice as people read it: each comparison, its interval and the decision."""
    final = result.final
    if final is None:
        return []
    searched = final.searched.name if final.searched is not None else "none trained"
    lines = ["## Final choice", "", f"Rule: {final.rule}.", f"Search's candidate: {searched}.", ""]
    if not final.decisions:
        lines.append("- no comparison (a single option)")
    for decision in final.decisions:
        lines.append(f"- {decision.candidate} vs {decision.against}: **{decision.decision}**: {decision.reason()}")
    lines += ["", f"Output: **{final.role}** ({final.chosen.name}).", ""]
    return lines


def report_markdown(result: SearchResult) -> str:
    findings = orientation_findings(result)
    seconds = result.seconds
    lines = [
        "# Augmentation search",
        "",
        f"**Chosen policy** ({result.source}, held-out accuracy {result.chosen.accuracy:.4f}): {describe(result.policy)}",
        "",
        *decision_lines(result),
        "## Wall time",
        "",
        "| phase | seconds |",
        "|---|---|",
        *[f"| {phase} | {seconds[phase]:.1f} |" for phase in ("proxy", "pass1", "pass2", "total")],
        "",
        f"Proxy held-out accuracy: {result.proxy_accuracy:.4f}.",
        "",
        "## Clusters (pass 1)",
        "",
        "| cluster | ops | mean label change per grid magnitude | pass-2 magnitudes |",
        "|---|---|---|---|",
    ]
    for cluster in result.clusters:
        changes = ", ".join(f"{v:.2f}" for v in cluster.mean_label_change)
        if cluster.inert:
            tried = "inert: not trained"
        elif cluster.index not in result.trial_magnitudes:
            tried = "pruned in pass 1: relabels most images even at the smallest magnitude"
        else:
            tried = ", ".join(f"{m:.2f}" for m in result.trial_magnitudes[cluster.index])
        lines.append(f"| {cluster.index} | {', '.join(cluster.ops)} | {changes} | {tried} |")
    lines += ["", f"![clusters]({CLUSTER_PLOT_FILE_NAME})", "", "## Pass 2 trials", ""]
    lines += ["| trial | kind | held-out accuracy | loss | seconds |", "|---|---|---|---|---|"]
    for trial in result.trials:
        marker = " **(chosen)**" if trial is result.chosen else ""
        lines.append(
            f"| {trial.name}{marker} | {trial.kind} | {trial.accuracy:.4f} | {trial.loss:.4f} | {trial.seconds:.1f} |"
        )
    lines += ["", f"![pass 2]({PASS_TWO_PLOT_FILE_NAME})", "", "## Orientation-changing ops", ""]
    for op in ORIENTATION_OPS:
        if op in findings:
            f = findings[op]
            if f["best_cluster_trial_accuracy"] is None:
                verdict = f"its cluster {f['cluster']} was pruned in pass 1 (not trained)."
            else:
                verdict = (
                    f"its cluster {f['cluster']} reached {f['best_cluster_trial_accuracy']:.4f} in pass 2 vs "
                    f"{f['no_augmentation_accuracy']:.4f} without augmentation."
                )
            lines.append(
                f"- `{op}`: chosen={f['chosen']}; pass-1 label change up to {f['max_label_change']:.2f}; {verdict}"
            )
    lines += [
        f"- largest rotation in the chosen policy: {findings['max_rotation_degrees']:.1f} degrees "
        f"(large = over {LARGE_ROTATION_DEGREES:.0f} or rot90: {findings['large_rotation_chosen']}).",
        "",
        f"## Distance table ({len(result.effects)} candidates)",
        "",
        "| candidate | family | cluster | Frechet (relative) | loss change | label change | accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in distance_rows(result):
        lines.append(
            f"| {row['op']}@{row['magnitude']:.2f} | {row['family']} | {row['cluster']} | {row['relative_frechet']:.4f} | "
            f"{row['loss_change']:.4f} | {row['label_change']:.3f} | {row['accuracy']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def write_report(result: SearchResult, directory: str) -> Dict[str, str]:
    """Writes report.md, summary.json, distance_table.csv and both plots; returns their paths."""
    tf.io.gfile.makedirs(directory)
    files = {
        REPORT_FILE_NAME: report_markdown(result).encode("utf-8"),
        SUMMARY_FILE_NAME: json.dumps(json_ready(summary(result)), indent=2, sort_keys=True).encode("utf-8"),
        DISTANCE_TABLE_FILE_NAME: distance_table_csv(result).encode("utf-8"),
        CLUSTER_PLOT_FILE_NAME: cluster_plot_png(result),
        PASS_TWO_PLOT_FILE_NAME: pass_two_plot_png(result),
    }
    paths = {}
    for name, payload in files.items():
        paths[name] = os.path.join(directory, name)
        with tf.io.gfile.GFile(paths[name], "wb") as handle:
            handle.write(payload)
    return paths
