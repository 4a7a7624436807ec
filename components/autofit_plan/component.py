"""AutofitPlan component."""

from __future__ import annotations

import json
from typing import Any, Dict

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from components.autofit_plan import executor, spec
from components.types import artifacts


class AutofitPlan(base_component.BaseComponent):
    """Puts the build-time plan (every technique tried or skipped, and why) into MLMD lineage.

    Its input is the DataSpec the plan was made from, so lineage links the plan to the data.

    Example:
        plan_node = AutofitPlan(data_spec=translation.outputs["data_spec"], plan={"techniques": []})
    """

    SPEC_CLASS = spec.AutofitPlanSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, data_spec: types.BaseChannel, plan: Dict[str, Any]):
        super().__init__(
            spec=spec.AutofitPlanSpec(
                data_spec=data_spec,
                plan_json=json.dumps(plan, sort_keys=True),
                plan=types.Channel(type=artifacts.Report),
            )
        )
