"""The component wires its channels and rejects bad configs when the pipeline is built."""

import inspect
import json
import textwrap
import types as python_types

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.evaluation import spec
from components.evaluation.component import Evaluation
from components.evaluation.spec import EvaluationConfig
from components.types import artifacts


def _channels():
    return {
        "examples": types.Channel(type=standard_artifacts.Examples),
        "data_spec": types.Channel(type=artifacts.DataSpec),
        "model": types.Channel(type=standard_artifacts.Model),
    }


def test_constructs_with_channels_and_serialized_config():
    component = Evaluation(**_channels(), config=EvaluationConfig(thresholds={"accuracy": 0.9}, top_k=3))
    assert component.outputs[spec.EVALUATION_KEY].type is standard_artifacts.ModelEvaluation
    assert component.outputs[spec.BLESSING_KEY].type is standard_artifacts.ModelBlessing
    assert set(component.inputs) == {"examples", "data_spec", "model"}
    config = EvaluationConfig.from_json(component.exec_properties[spec.CONFIG_KEY])
    assert config.thresholds == {"accuracy": {"min": 0.9}} and config.top_k == 3


def test_baseline_model_is_optional_input():
    baseline = types.Channel(type=standard_artifacts.Model)
    component = Evaluation(**_channels(), baseline_model=baseline)
    assert component.inputs[spec.BASELINE_MODEL_KEY] is baseline


def test_mapping_config_from_yaml_is_accepted():
    component = Evaluation(**_channels(), config={"thresholds": {"accuracy": 0.9}, "split": "eval"})
    assert json.loads(component.exec_properties[spec.CONFIG_KEY])["split"] == "eval"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"thresholds": {"accuracy": "high"}}, "must be a number"),
        ({"thresholds": {"f2": 0.5}}, "unknown metric 'f2'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"top_k": 2.5}, "top_k must be an integer"),
        ({"split": "unlabeled"}, "needs labels"),
        ({"tresholds": {}}, r"Unknown EvaluationConfig option\(s\) \['tresholds'\]"),
    ],
)
def test_bad_config_is_rejected_at_construction(config, message):
    with pytest.raises(ValueError, match=message):
        Evaluation(**_channels(), config=config)


def test_wrong_channel_type_is_rejected():
    channels = _channels()
    channels["model"] = types.Channel(type=standard_artifacts.Examples)
    with pytest.raises(TypeError):
        Evaluation(**channels)


def test_config_json_round_trip():
    config = EvaluationConfig(thresholds={"nll": 0.5}, min_improvement_over_baseline={"accuracy": -0.01})
    assert EvaluationConfig.from_json(config.to_json()) == config


def test_docstring_example_constructs():
    code = textwrap.dedent(inspect.cleandoc(Evaluation.__doc__).split("Example:", 1)[1])
    model_channel = types.Channel(type=standard_artifacts.Model)
    upstream = {
        "data_translation": python_types.SimpleNamespace(
            outputs={"examples": _channels()["examples"], "data_spec": _channels()["data_spec"]}
        ),
        "training": python_types.SimpleNamespace(outputs={"model": model_channel}),
        "latest_blessed_model": python_types.SimpleNamespace(
            outputs={"model": types.Channel(type=standard_artifacts.Model)}
        ),
    }
    namespace = dict(upstream, Evaluation=Evaluation, EvaluationConfig=EvaluationConfig)
    exec(code, namespace)  # noqa: S102 - runs our own docstring.
    component = namespace["evaluation"]
    assert component.inputs["model"] is model_channel
    assert spec.BASELINE_MODEL_KEY in component.inputs
