"""Refit: the champion's recipe rerun on train + eval (Training writes the recipe, Refit reruns it)."""

import json
import os

import pytest
from tfx.types import standard_artifacts

from components.common import recipe
from components.refit import merge
from components.refit.component import Refit
from components.refit.executor import Executor as RefitExecutor
from components.refit.spec import CONFIG_KEY, RefitConfig
from components.training.executor import Executor as TrainingExecutor
from components.types import artifacts, config_json, examples_io
from tests.support.canonical import artifact_pair

SPLITS = {"train": 36, "eval": 18, "test": 12}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(examples, data_spec artifact, DataSpecContent, Training's Model artifact) with early stopping on."""
    tmp_path = tmp_path_factory.mktemp("refit")
    examples, data_spec_artifact, content = artifact_pair(tmp_path, SPLITS)
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "champion")
    config = {"architecture": "tiny_cnn", "epochs": 4, "batch_size": 12, "learning_rate": 0.03, "verbose": 0,
              "early_stopping_patience": 2, "seed": 3}
    TrainingExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact]}, {"model": [model]}, {"config": json.dumps(config)}
    )
    model.set_float_custom_property("eval_accuracy", 0.5)  # as the champion carries it from selection
    model.set_string_custom_property("champion", "Training")
    return examples, data_spec_artifact, content, model


def run_refit(trained, tmp_path, config=None, champion=None):
    examples, data_spec_artifact, _, model = trained
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / "refit" / "model")
    RefitExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec_artifact], "champion": [champion or model]},
        {"model": [output]},
        {CONFIG_KEY: config_json.config_to_json(config or RefitConfig())},
    )
    return output


def test_training_writes_the_recipe_it_ran(trained):
    _, _, _, model = trained
    found = recipe.read_recipe(model.uri)
    assert found.trainer == recipe.TRAINING
    assert found.config["architecture"] == "tiny_cnn" and found.config["seed"] == 3
    history = json.load(open(os.path.join(model.uri, "history.json")))
    assert 1 <= found.epochs <= len(history["loss"])  # the best val_loss epoch, not the epochs run


def test_refit_reruns_the_recipe_on_train_plus_eval(trained, tmp_path):
    output = run_refit(trained, tmp_path)
    properties = output.mlmd_artifact.custom_properties
    champion_recipe = recipe.read_recipe(trained[3].uri)
    assert properties["refit"].int_value == 1
    assert properties["refit_images"].int_value == SPLITS["train"] + SPLITS["eval"]
    assert properties["refit_epochs"].int_value == champion_recipe.epochs
    assert properties["held_out_eval_accuracy"].double_value == 0.5  # the recipe's score before refit, kept
    assert properties["champion"].string_value == "Training"
    assert os.path.exists(os.path.join(output.uri, "model.keras"))
    history = json.load(open(os.path.join(output.uri, "history.json")))
    assert len(history["loss"]) == champion_recipe.epochs  # no early stopping: nothing held out to stop on
    written = recipe.read_recipe(output.uri)
    assert written.config["early_stopping_patience"] == 0 and written.config["epochs"] == champion_recipe.epochs
    assert not os.path.exists(os.path.join(tmp_path, "refit", "_refit_examples"))  # scratch copy removed
    summary = json.load(open(os.path.join(output.uri, "refit.json")))
    assert summary["refitted"] is True and "train + eval" in summary["reason"]


def test_a_champion_without_recipe_passes_through_with_the_reason(trained, tmp_path):
    champion = standard_artifacts.Model()
    champion.uri = str(tmp_path / "no_recipe")
    os.makedirs(champion.uri)
    for name in ("model.keras", "history.json"):
        with open(os.path.join(trained[3].uri, name), "rb") as source:
            open(os.path.join(champion.uri, name), "wb").write(source.read())
    output = run_refit(trained, tmp_path, champion=champion)
    assert output.mlmd_artifact.custom_properties["refit"].int_value == 0
    assert "no rerunnable recipe" in output.mlmd_artifact.custom_properties["refit_reason"].string_value
    assert open(os.path.join(output.uri, "model.keras"), "rb").read() == open(
        os.path.join(champion.uri, "model.keras"), "rb").read()


def test_a_trainer_left_out_of_refit_trainers_passes_through(trained, tmp_path):
    output = run_refit(trained, tmp_path, RefitConfig(trainers=("ConsistencyTraining",)))
    assert output.mlmd_artifact.custom_properties["refit"].int_value == 0
    assert "refit.trainers" in output.mlmd_artifact.custom_properties["refit_reason"].string_value


def test_merged_examples_reconcile_and_the_spec_counts_them(trained, tmp_path):
    examples, _, content, _ = trained
    counts = merge.write_merged_examples(examples.uri, ["eval"], str(tmp_path / "merged"), ["eval"])
    assert counts == {"train": SPLITS["train"] + SPLITS["eval"], "eval": SPLITS["eval"]}
    assert examples_io.count_records(str(tmp_path / "merged"), "train") == counts["train"]
    merged = merge.merged_data_spec(content, ["eval"])
    assert merged.split_count("train") == counts["train"]
    assert sum(merged.class_counts("train")) == counts["train"]
    assert merged.split_count("test") == SPLITS["test"]  # other splits untouched


def test_bad_refit_config_and_missing_split_are_named(trained):
    with pytest.raises(ValueError, match="merge_splits cannot contain 'test'"):
        RefitConfig(merge_splits=("test",))
    with pytest.raises(ValueError, match="refit.trainers: 'NoisyStudent'"):
        RefitConfig(trainers=("NoisyStudent",))
    with pytest.raises(ValueError, match="no images in that split"):
        merge.merged_data_spec(trained[2], ["holdout"])


def test_weights_epochs_is_the_best_val_loss_epoch():
    history = {"loss": [3, 2, 1, 0.5, 0.4], "val_loss": [2.0, 1.0, 1.5, 1.2, 1.1]}
    assert recipe.weights_epochs(history, early_stopping_patience=3) == 2
    assert recipe.weights_epochs(history, early_stopping_patience=0) == 5


def test_component_wires_champion_in_and_model_out():
    from tfx.types import channel_utils

    from components.types.artifacts import DataSpec

    node = Refit(examples=channel_utils.as_channel([standard_artifacts.Examples()]),
                 data_spec=channel_utils.as_channel([DataSpec()]),
                 champion=channel_utils.as_channel([standard_artifacts.Model()]), config={"merge_splits": ["eval"]})
    assert set(node.outputs) == {"model"} and "champion" in node.inputs


def test_a_consistency_trained_champion_is_refitted_with_its_policy_and_unlabeled_pool(tmp_path):
    from components.consistency.executor import Executor as ConsistencyExecutor
    from components.consistency.spec import ConsistencyConfig

    examples, data_spec_artifact, _ = artifact_pair(tmp_path, {"train": 16, "eval": 8, "unlabeled": 32}, size=16)
    champion = standard_artifacts.Model()
    champion.uri = str(tmp_path / "consistency")
    config = ConsistencyConfig(architecture="tiny_cnn", epochs=2, steps_per_epoch=2, batch_size=8, mu=2,
                               threshold=0.6, learning_rate=0.03, eval_batch_size=8, seed=5)
    ConsistencyExecutor().Do({"examples": [examples], "data_spec": [data_spec_artifact]}, {"model": [champion]},
                             {"config": config_json.config_to_json(config)})
    found = recipe.read_recipe(champion.uri)
    assert found.trainer == recipe.CONSISTENCY_TRAINING and found.epochs == 2 and found.config["seed"] == 5
    output = run_refit((examples, data_spec_artifact, None, champion), tmp_path)
    properties = output.mlmd_artifact.custom_properties
    assert properties["refit"].int_value == 1 and properties["refit_trainer"].string_value == "ConsistencyTraining"
    assert properties["refit_images"].int_value == 24
    history = json.load(open(os.path.join(output.uri, "history.json")))
    assert len(history["loss"]) == 2


def test_a_segmentation_champion_is_refitted_with_its_policy_and_pinned_epochs(tmp_path):
    """Detection and segmentation trainers write the recipe too; Refit reruns it with their own trainer."""
    from augment_ops.policy import Policy
    from components.training import task_export
    from components.training.spec import TrainingConfig
    from tests.components.detection import pipeline_steps as steps
    from tests.components.segmentation.scenes import write_segmentation_examples

    split_sizes = {"train": 12, "eval": 6}
    write_segmentation_examples(str(tmp_path / "ex"), str(tmp_path / "ds"), split_sizes, size=32)
    policy = steps.write_policy(str(tmp_path / "policy"), Policy.from_ops([("flip_left_right", 1.0, 0.5)]))
    config = TrainingConfig(epochs=2, batch_size=6, learning_rate=3e-3, verbose=0, seed=1,
                            explicit_fields=("batch_size",))
    champion = steps.train(str(tmp_path / "ex"), str(tmp_path / "ds"), str(tmp_path / "champion"), config, policy)
    found = recipe.read_recipe(champion.uri)
    history = json.load(open(os.path.join(champion.uri, "history.json")))
    assert found.trainer == recipe.TRAINING and found.epochs == len(history["loss"]) == 2
    # Pinned: trainers plan epochs from the number of train images unless set, and the refit has more of them.
    assert "epochs" in found.config["explicit_fields"] and found.input_uri("augmentation_policy") == policy.uri
    examples = steps.artifact(standard_artifacts.Examples, tmp_path / "ex", split_sizes)
    data_spec = steps.artifact(artifacts.DataSpec, tmp_path / "ds")
    output = run_refit((examples, data_spec, None, champion), tmp_path)
    properties = output.mlmd_artifact.custom_properties
    assert properties["refit"].int_value == 1 and properties["refit_images"].int_value == 18
    refitted = json.load(open(os.path.join(output.uri, "history.json")))
    assert len(refitted["loss"]) == found.epochs
    model = task_export.load_task_model(output.uri)
    assert tuple(model.input_shape[1:3]) == (32, 32)
    assert os.path.exists(os.path.join(output.uri, "task_model.json"))
