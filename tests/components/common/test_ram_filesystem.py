"""Components after translation run with every artifact on `ram://`, TF's in-memory filesystem.

A cluster's pipeline root is gs://, which Python's open()/os.path cannot
read; ram:// is as foreign to them and needs no network, so any artifact or
module-file access that bypasses tf.io.gfile fails here. Translation is a
Beam step and Beam's filesystems do not know ram://, so it runs locally and
its outputs are copied over, as a test of the components that follow it.
"""

import os
import uuid

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from augment_ops.policy import Policy, PolicyOp
from components.calibration import spec as calibration_spec
from components.calibration.executor import Executor as CalibrationExecutor
from components.common import model_io
from components.common.artifact_io import read_json, write_text
from components.common.module_files import stage_module_file
from components.data_translation.executor import Executor as TranslationExecutor
from components.data_translation.spec import TranslationConfig
from components.ensemble import spec as ensemble_spec
from components.ensemble.executor import Executor as EnsembleExecutor
from components.evaluation import spec as evaluation_spec
from components.evaluation.executor import Executor as EvaluationExecutor
from components.training import spec as training_spec
from components.training.executor import Executor as TrainingExecutor
from components.types import artifacts, config_json
from components.types.data_spec import read_data_spec
from tests.fixtures import classification_formats

MODULE_SOURCE = '''
import keras


def build_model(data_spec, image_size):
    inputs = keras.Input((*image_size, data_spec.channels))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(data_spec.num_classes, activation="softmax")(x))
'''


def copy_tree(source: str, destination: str) -> None:
    """Recursive copy through tf.io.gfile (works between any two filesystems TF knows)."""
    for directory, _, files in tf.io.gfile.walk(source):
        relative = os.path.relpath(directory, source)
        target = destination if relative == "." else os.path.join(destination, relative)
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name), overwrite=True)


def artifact(artifact_class, uri: str):
    made = artifact_class()
    made.uri = uri
    return made


@pytest.fixture(scope="module")
def ram_inputs(tmp_path_factory):
    """Translated Examples and DataSpec, copied onto a fresh ram:// root; (root, examples, data_spec)."""
    local = tmp_path_factory.mktemp("translated")
    images = local / "images"
    classification_formats.write_folder_with_unlabeled(str(images), labeled=36, unlabeled=0)
    examples = artifact(standard_artifacts.Examples, str(local / "examples"))
    data_spec = artifact(artifacts.DataSpec, str(local / "data_spec"))
    config = TranslationConfig(format="image_folder", path=str(images), eval_fraction=0.34)
    context = TranslationExecutor.Context(beam_pipeline_args=[], tmp_dir=str(local / "tmp"))
    TranslationExecutor(context).Do(
        {}, {"examples": [examples], "data_spec": [data_spec]}, {"config": config.to_json()}
    )

    root = f"ram://tfx-autofit-{uuid.uuid4().hex}"
    ram_examples = artifact(standard_artifacts.Examples, f"{root}/DataTranslation/examples/1")
    ram_examples.split_names = examples.split_names
    ram_data_spec = artifact(artifacts.DataSpec, f"{root}/DataTranslation/data_spec/1")
    copy_tree(examples.uri, ram_examples.uri)
    copy_tree(data_spec.uri, ram_data_spec.uri)
    policy_uri = f"{root}/AugmentationSearch/policy/1"
    tf.io.gfile.makedirs(policy_uri)
    policy = Policy(ops=(PolicyOp("translate_x", 0.2, 0.5),), name="ram_policy")
    write_text(os.path.join(policy_uri, artifacts.POLICY_FILE_NAME), policy.to_json())
    return root, ram_examples, ram_data_spec, artifact(artifacts.AugmentationPolicy, policy_uri)


@pytest.fixture(scope="module")
def ram_model(ram_inputs, tmp_path_factory):
    """Training with a staged module file, a policy and every artifact on ram://."""
    root, examples, data_spec, policy = ram_inputs
    local_module = tmp_path_factory.mktemp("module") / "my_model.py"
    local_module.write_text(MODULE_SOURCE)
    module_file = stage_module_file(str(local_module), root)
    assert module_file.startswith(f"{root}/_modules/")
    model = artifact(standard_artifacts.Model, f"{root}/Training/model/2")
    config = training_spec.TrainingConfig(module_file=module_file, epochs=1, batch_size=8, verbose=0)
    TrainingExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec], "augmentation_policy": [policy]},
        {"model": [model]},
        {"config": config_json.config_to_json(config)},
    )
    return model


def test_training_writes_its_model_artifact_on_ram(ram_inputs, ram_model):
    for name in (model_io.KERAS_FILE_NAME, model_io.HISTORY_FILE_NAME, model_io.METRICS_FILE_NAME):
        assert tf.io.gfile.exists(os.path.join(ram_model.uri, name)), name
    assert tf.io.gfile.exists(os.path.join(model_io.serving_path(ram_model.uri), "saved_model.pb"))
    assert len(read_json(os.path.join(ram_model.uri, model_io.HISTORY_FILE_NAME))["loss"]) == 1
    assert ram_model.get_int_custom_property("epochs_trained") == 1
    assert ram_model.get_string_custom_property("architecture").startswith("ram://")
    num_classes = read_data_spec(ram_inputs[2].uri).num_classes
    assert model_io.load_model(ram_model.uri).output_shape == (None, num_classes)


def test_evaluation_reads_and_writes_on_ram(ram_inputs, ram_model):
    root, examples, data_spec, _ = ram_inputs
    evaluation = artifact(standard_artifacts.ModelEvaluation, f"{root}/Evaluation/evaluation/3")
    blessing = artifact(standard_artifacts.ModelBlessing, f"{root}/Evaluation/blessing/3")
    EvaluationExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec], "model": [ram_model]},
        {evaluation_spec.EVALUATION_KEY: [evaluation], evaluation_spec.BLESSING_KEY: [blessing]},
        {"config": config_json.config_to_json(evaluation_spec.EvaluationConfig(batch_size=8))},
    )
    written = tf.io.gfile.listdir(evaluation.uri)
    for name in (evaluation_spec.METRICS_FILE_NAME, evaluation_spec.SUMMARY_FILE_NAME,
                 evaluation_spec.CONFUSION_MATRIX_FILE_NAME, evaluation_spec.RELIABILITY_DIAGRAM_FILE_NAME):
        assert name in written, name
    metrics = read_json(os.path.join(evaluation.uri, evaluation_spec.METRICS_FILE_NAME))
    assert metrics["split"] == "eval" and metrics["num_examples"] == evaluation.get_int_custom_property("num_examples")
    assert len(tf.io.gfile.listdir(blessing.uri)) == 1


def test_calibration_reads_and_writes_on_ram(ram_inputs, ram_model):
    root, examples, data_spec, _ = ram_inputs
    calibrated = artifact(standard_artifacts.Model, f"{root}/Calibration/calibrated_model/4")
    config = calibration_spec.CalibrationConfig(batch_size=8)
    CalibrationExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec], "model": [ram_model]},
        {calibration_spec.CALIBRATED_MODEL_KEY: [calibrated]},
        {"config": config_json.config_to_json(config)},
    )
    written = tf.io.gfile.listdir(calibrated.uri)
    for name in (model_io.KERAS_FILE_NAME, calibration_spec.RELIABILITY_BEFORE_FILE_NAME,
                 calibration_spec.RELIABILITY_AFTER_FILE_NAME, "summary.json", "summary.md"):
        assert name in written, name
    assert calibrated.get_float_custom_property("temperature") > 0
    reloaded = model_io.load_model(calibrated.uri)
    assert reloaded.output_shape == (None, read_data_spec(data_spec.uri).num_classes)


def test_ensemble_of_given_models_reads_and_writes_on_ram(ram_inputs, ram_model):
    root, examples, data_spec, _ = ram_inputs
    output = artifact(standard_artifacts.Model, f"{root}/Ensemble/model/5")
    config = ensemble_spec.EnsembleConfig(batch_size=8)
    EnsembleExecutor().Do(
        {"examples": [examples], "data_spec": [data_spec], "models": [ram_model, ram_model]},
        {ensemble_spec.MODEL_KEY: [output]},
        {"config": config_json.config_to_json(config)},
    )
    assert tf.io.gfile.exists(os.path.join(output.uri, model_io.KERAS_FILE_NAME))
    assert output.get_int_custom_property("num_members") == 2
    assert artifact_utils.decode_split_names(examples.split_names)  # Split names travelled with the copy.
