"""Autofit's plan and champion selection, read from their artifacts.

Formats (written by the autofit planner and selection component):

    plan.json       {"profile": {key: value}, "budget": str,
                     "techniques": [{"name", "decision": try|skip|forced|forbidden, "reason"}]}
    selection.json  {"metric", "split",
                     "candidates": [{"name", "model_uri", "metric", "interval": [lo, hi]}],
                     "decisions": [{"candidate", "against", "delta", "interval": [lo, hi], "kept", "reason"}],
                     "champion", "refit"}

The plan is found as the `plan` output of the `AutofitPlan` component, or
at RUN_DIR/autofit/plan.json (the planner writes it there when it builds
the pipeline, before any component runs). A run without autofit has
neither, and the report leaves the sections out.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

PLAN_COMPONENT = "AutofitPlan"
PLAN_KEY = "plan"
PLAN_FILE_NAME = "plan.json"
PLAN_RUN_DIR = "autofit"
SELECTION_COMPONENT = "ChampionSelection"
SELECTION_KEY = "selection"
SELECTION_FILE_NAME = "selection.json"
REFIT_COMPONENT, REFIT_KEY = "Refit", "model"
DECISIONS = ("try", "skip", "forced", "forbidden")


def _read_json(path: str) -> Any:
    import tensorflow as tf

    with tf.io.gfile.GFile(path) as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from error


def _require(condition: bool, path: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"{path}: {problem}")


def _interval(value: Any, path: str, where: str) -> Optional[list]:
    if value is None:
        return None
    _require(isinstance(value, (list, tuple)) and len(value) == 2, path, f"{where}.interval must be [lo, hi]")
    return [float(value[0]), float(value[1])]


def validate_plan(plan: Any, path: str) -> Dict[str, Any]:
    """The plan with its fields checked (profile a mapping, each technique a name/decision/reason)."""
    _require(isinstance(plan, dict), path, "the plan must be a JSON object")
    profile = plan.get("profile", {})
    _require(isinstance(profile, dict), path, "profile must be an object")
    techniques = plan.get("techniques", [])
    _require(isinstance(techniques, list), path, "techniques must be a list")
    for index, technique in enumerate(techniques):
        where = f"techniques[{index}]"
        _require(isinstance(technique, dict) and "name" in technique, path, f"{where} needs a name")
        decision = technique.get("decision")
        _require(decision in DECISIONS, path,
                 f"{where} ({technique.get('name')}) decision must be one of {DECISIONS}, got {decision!r}")
    return {"profile": profile, "budget": str(plan.get("budget", "")), "techniques": techniques}


def validate_selection(selection: Any, path: str) -> Dict[str, Any]:
    """The selection with candidates and decisions checked and intervals as [lo, hi] floats."""
    _require(isinstance(selection, dict), path, "the selection must be a JSON object")
    candidates = selection.get("candidates", [])
    decisions = selection.get("decisions", [])
    _require(isinstance(candidates, list) and isinstance(decisions, list), path,
             "candidates and decisions must be lists")
    checked_candidates = []
    for index, candidate in enumerate(candidates):
        where = f"candidates[{index}]"
        _require(isinstance(candidate, dict) and "name" in candidate, path, f"{where} needs a name")
        metric = candidate.get("metric")
        checked_candidates.append(dict(candidate, metric=None if metric is None else float(metric),
                                       interval=_interval(candidate.get("interval"), path, where)))
    checked_decisions = []
    for index, decision in enumerate(decisions):
        where = f"decisions[{index}]"
        _require(isinstance(decision, dict) and "candidate" in decision, path, f"{where} needs a candidate")
        delta = decision.get("delta")
        checked_decisions.append(dict(decision, delta=None if delta is None else float(delta),
                                      kept=bool(decision.get("kept")),
                                      interval=_interval(decision.get("interval"), path, where)))
    return dict(selection, candidates=checked_candidates, decisions=checked_decisions,
                metric=str(selection.get("metric", "")), split=str(selection.get("split", "")),
                champion=selection.get("champion"), refit=selection.get("refit"))


def read_plan(run) -> Optional[Dict[str, Any]]:
    """The run's plan (with `path` added), or None when the run has no autofit plan."""
    import tensorflow as tf

    output = run.latest_output(PLAN_COMPONENT, PLAN_KEY)
    candidates = [os.path.join(output.artifact.uri, PLAN_FILE_NAME)] if output else []
    candidates.append(os.path.join(run.run_dir, PLAN_RUN_DIR, PLAN_FILE_NAME))
    for path in candidates:
        if tf.io.gfile.exists(path):
            return dict(validate_plan(_read_json(path), path), path=path)
    return None


def read_selection(run) -> Optional[Dict[str, Any]]:
    """The champion selection (with `path` added), or None when the run selected no champion."""
    import tensorflow as tf

    output = run.latest_output(SELECTION_COMPONENT, SELECTION_KEY)
    if output is None:
        return None
    path = os.path.join(output.artifact.uri, SELECTION_FILE_NAME)
    if not tf.io.gfile.exists(path):
        return None
    selection = dict(validate_selection(_read_json(path), path), path=path)
    refit = run.latest_output(REFIT_COMPONENT, REFIT_KEY)
    if refit is not None and refit.artifact.properties.get("refit_reason"):  # what happened after the selection
        selection["refit"] = str(refit.artifact.properties["refit_reason"])
    return selection
