"""AutofitPlan executor: writes plan.json and plan.md into the plan artifact."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from tfx import types

from components.autofit_plan import spec as keys
from components.common import artifact_io
from components.common.executor_base import ComponentExecutor


class Executor(ComponentExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict, exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        plan = json.loads(exec_properties[keys.PLAN_JSON_KEY])
        output = self.single(output_dict, keys.PLAN_KEY)
        artifact_io.write_json(os.path.join(output.uri, keys.PLAN_FILE_NAME), plan)
        lines = [f"- **{t['name']}**: {t['decision']} — {t['reason']}" for t in plan.get("techniques", [])]
        artifact_io.write_text(os.path.join(output.uri, keys.PLAN_TEXT_FILE_NAME),
                               "# Autofit plan\n\n" + "\n".join(lines) + "\n")
        included = [t["name"] for t in plan.get("techniques", []) if t["decision"] in ("try", "forced")]
        output.set_string_custom_property("techniques_tried", ",".join(included))
        output.set_string_custom_property("budget", str(plan.get("budget", "")))
