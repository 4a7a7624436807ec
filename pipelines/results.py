"""Finds what a finished run produced (through MLMD) and summarizes it for people."""

from __future__ import annotations

import json
import os
from typing import Dict

from pipelines import lineage as lineage_lib


def evaluation_summary(run_dir: str, component: str = "Evaluation") -> Dict[str, object]:
    """Held-out metrics and artifact locations of the latest evaluation in a run."""
    lineage = lineage_lib.read_lineage(run_dir)
    evaluation = lineage_lib.find_output(lineage, component, "evaluation")
    blessing = lineage_lib.find_output(lineage, component, "blessing")
    if evaluation is None:
        raise RuntimeError(f"Run {run_dir} has no evaluation output from {component}.")
    with open(os.path.join(evaluation.uri, "metrics.json")) as handle:
        report = json.load(handle)
    return {
        "metrics": dict(report["metrics"], split=report.get("split"), num_examples=report.get("num_examples")),
        "evaluation_uri": evaluation.uri,
        "blessed": bool(blessing and blessing.properties.get("blessed") == 1),
        "blessing_uri": blessing.uri if blessing else None,
    }
