"""Running the Training and Evaluation executors on real artifact objects (shared by detection and segmentation tests)."""

import json
import os

from tfx.types import artifact_utils, standard_artifacts

from augment_ops.policy import Policy
from components.evaluation import executor as evaluation_executor
from components.evaluation import spec as evaluation_spec
from components.training.executor import Executor as TrainingExecutor
from components.training.spec import CONFIG_KEY
from components.types import artifacts, config_json


def artifact(artifact_type, uri, split_names=None):
    instance = artifact_type()
    instance.uri = str(uri)
    if split_names is not None:
        instance.split_names = artifact_utils.encode_split_names(list(split_names))
    return instance


def write_policy(directory, policy: Policy, options=None):
    """An AugmentationPolicy artifact directory: policy.json (+ augment_options.json like the detection search)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, artifacts.POLICY_FILE_NAME), "w") as handle:
        handle.write(policy.to_json())
    if options is not None:
        with open(os.path.join(directory, "augment_options.json"), "w") as handle:
            json.dump(options.to_dict(), handle)
    return artifact(artifacts.AugmentationPolicy, directory)


def train(examples_uri, data_spec_uri, model_uri, config, policy_artifact=None, splits=("train", "eval")):
    inputs = {
        "examples": [artifact(standard_artifacts.Examples, examples_uri, splits)],
        "data_spec": [artifact(artifacts.DataSpec, data_spec_uri)],
    }
    if policy_artifact is not None:
        inputs["augmentation_policy"] = [policy_artifact]
    model = artifact(standard_artifacts.Model, model_uri)
    TrainingExecutor().Do(inputs, {"model": [model]}, {CONFIG_KEY: config_json.config_to_json(config)})
    return model


def evaluate(examples_uri, data_spec_uri, model_uri, out_dir, config, baseline_uri=None, splits=("train", "eval")):
    inputs = {
        evaluation_spec.EXAMPLES_KEY: [artifact(standard_artifacts.Examples, examples_uri, splits)],
        evaluation_spec.DATA_SPEC_KEY: [artifact(artifacts.DataSpec, data_spec_uri)],
        evaluation_spec.MODEL_KEY: [artifact(standard_artifacts.Model, model_uri)],
    }
    if baseline_uri:
        inputs[evaluation_spec.BASELINE_MODEL_KEY] = [artifact(standard_artifacts.Model, baseline_uri)]
    evaluation = artifact(standard_artifacts.ModelEvaluation, os.path.join(out_dir, "evaluation"))
    blessing = artifact(standard_artifacts.ModelBlessing, os.path.join(out_dir, "blessing"))
    evaluation_executor.Executor().Do(
        inputs,
        {evaluation_spec.EVALUATION_KEY: [evaluation], evaluation_spec.BLESSING_KEY: [blessing]},
        {evaluation_spec.CONFIG_KEY: config.to_json()},
    )
    return evaluation, blessing


def read_json(directory, name):
    with open(os.path.join(directory, name)) as handle:
        return json.load(handle)
