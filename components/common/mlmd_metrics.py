"""Metrics as MLMD custom properties, with the one NaN policy of the suite.

tfx.dsl.Cond, autofit and the report read held-out metrics from lineage, so
every component records them the same way: finite numbers are written as
float properties `<prefix><name>`; NaN/inf/None are skipped and logged
(MLMD has no NaN and a missing property reads as "unknown", not as 0).
Non-scalar entries (lists, dicts, strings) and booleans are not metrics and
are left out silently.
"""

from __future__ import annotations

import logging
import math
from typing import Mapping, Optional

logger = logging.getLogger(__name__)


def metric_value(value: object) -> Optional[float]:
    """`value` as a float when it is a numeric scalar (Python or numpy), else None."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        item = value.item()
        return None if isinstance(item, bool) else metric_value(item)
    return None


def record_metrics(artifact, metrics: Mapping[str, object], prefix: str = "") -> None:
    """Writes every finite scalar of `metrics` as float custom property `<prefix><name>` of `artifact`."""
    for name, value in metrics.items():
        if value is None:
            logger.warning("Metric %s%s is undefined (None); not recorded in MLMD.", prefix, name)
            continue
        number = metric_value(value)
        if number is None:
            continue
        if not math.isfinite(number):
            logger.warning("Metric %s%s is undefined (%s); not recorded in MLMD.", prefix, name, number)
            continue
        artifact.set_float_custom_property(f"{prefix}{name}", number)


# A decision a component made from the data at run time (not in the plan), in words people read: a string custom
# property of its output artifact. `autofit run` prints every one as `[decided] <component>: <text>` and the run
# summary lists them (pipelines/autofit/run.py), so a new run-time decision needs only this call.
RUN_DECISION = "run_decision"


def record_run_decision(artifact, text: str) -> None:
    """Records `text` as the artifact's run-time decision (one line; empty text records nothing)."""
    text = " ".join(str(text).split())
    if text:
        artifact.set_string_custom_property(RUN_DECISION, text)
