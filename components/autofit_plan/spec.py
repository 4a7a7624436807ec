"""AutofitPlan component: keys and ComponentSpec."""

from tfx.types import component_spec, standard_artifacts

from components.types import artifacts

DATA_SPEC_KEY = "data_spec"
PLAN_KEY = "plan"
PLAN_JSON_KEY = "plan_json"
PLAN_FILE_NAME = "plan.json"
PLAN_TEXT_FILE_NAME = "plan.md"


class AutofitPlanSpec(component_spec.ComponentSpec):
    PARAMETERS = {PLAN_JSON_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec)}
    OUTPUTS = {PLAN_KEY: component_spec.ChannelParameter(type=artifacts.Report)}
