"""Finds what a finished run produced (through MLMD) and summarizes it for people."""

from __future__ import annotations

import json
import os
from typing import Dict

from pipelines import lineage as lineage_lib


def evaluation_summary(run_dir: str, component: str = "Evaluation") -> Dict[str, object]:
    """Held-out metrics and artifact locations of the evaluation in the run directory's latest pipeline run.

    Raises:
      RuntimeError: the latest run has no evaluation output (it failed or is
        still running); an older run's result is never returned instead.
    """
    lineage = lineage_lib.read_lineage(run_dir)
    try:
        evaluation = lineage_lib.find_output(lineage, component, "evaluation")
        blessing = lineage_lib.find_output(lineage, component, "blessing")
    except KeyError as error:
        raise RuntimeError(f"Pipeline run {lineage.run or '?'} in {run_dir}: {error.args[0]}") from None
    if evaluation is None:
        raise RuntimeError(
            f"Pipeline run {lineage.run or '?'} in {run_dir} has no evaluation output from {component}."
        )
    import tensorflow as tf  # Local import: tf.io.gfile reads gs:// artifact URIs; lineage alone needs no TF.

    with tf.io.gfile.GFile(os.path.join(evaluation.uri, "metrics.json")) as handle:
        report = json.loads(handle.read())
    return {
        "metrics": dict(report["metrics"], split=report.get("split"), num_examples=report.get("num_examples")),
        "evaluation_uri": evaluation.uri,
        "blessed": bool(blessing and blessing.properties.get("blessed") == 1),
        "blessing_uri": blessing.uri if blessing else None,
        "run": lineage.run,
    }
