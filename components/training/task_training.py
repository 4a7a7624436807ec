"""The Training executor's path for detection and segmentation DataSpecs.

The Training component dispatches here by `data_spec.task`; the inputs are
the same as for classification:
  examples, data_spec                 required
  augmentation_policy (optional)      policy.json, plus augment_options.json
                                      (the box prior the detection search
                                      chose) when the search wrote one
  config (TrainingConfig)             epochs, batch_size, learning_rate,
                                      schedule, optimizer, seed, image_size,
                                      steps_per_epoch, verbose, module_file;
                                      `backbone_preset` (a local preset directory)
The output Model artifact has the usual layout plus `task_model.json`
(anchor plan, image size, per-class eval scores); its held-out metrics are
MLMD custom properties (eval_map, eval_map_50, ... / eval_mean_iou, ...).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Optional, Tuple

from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy
from components.augmentation_search.detection_search import OPTIONS_FILE_NAME
from components.common import recipe
from components.common.artifact_io import read_text
from components.common.mlmd_metrics import record_metrics
from components.training import module_file, task_export
from components.training.spec import AUGMENTATION_POLICY_KEY, TrainingConfig
from components.types import artifacts, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

TASKS = (features.TASK_DETECTION, features.TASK_SEGMENTATION)
TASK_MODEL_FILE_NAME = "task_model.json"
ARCHITECTURE_NAMES = {features.TASK_DETECTION: "keras_hub_retinanet", features.TASK_SEGMENTATION: "unet"}


def read_task_policy(policy_uri: str) -> Tuple[Policy, AugmentOptions]:
    """(Policy, AugmentOptions) from an AugmentationPolicy artifact, read through tf.io.gfile.

    Options come from augment_options.json when present (the detection
    search's box prior), else the defaults (rectangle prior). XLA is turned
    off: the policy runs inside tf.data, where jit-compiled functions are not
    supported.

    Raises:
      ValueError: when the policy mixes images (mixup/cutmix): their boxes
        and masks would come from two images, which these trainers do not model.
      FileNotFoundError: when policy.json is missing.
    """
    import tensorflow as tf

    path = os.path.join(policy_uri, artifacts.POLICY_FILE_NAME)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"AugmentationPolicy artifact at {policy_uri} has no {artifacts.POLICY_FILE_NAME}.")
    policy = Policy.from_json(read_text(path))
    if policy.uses_labels:
        raise ValueError(
            f"{path}: policy {policy.name or policy.op_names} mixes images (mixing ops); detection and "
            "segmentation training take geometric, colour and occlusion ops only."
        )
    options_path = os.path.join(policy_uri, OPTIONS_FILE_NAME)
    options = AugmentOptions()
    if tf.io.gfile.exists(options_path):
        import json

        options = AugmentOptions.from_dict(json.loads(read_text(options_path)))
        logger.info("augmentation options (box prior %s) from %s", options.box_prior, options_path)
    return policy, dataclasses.replace(options, xla=False)


def _user_builder(config: TrainingConfig, data_spec: DataSpecContent):
    if not config.module_file:
        return None
    if data_spec.task == features.TASK_DETECTION:
        return lambda num_classes, shape, plan: module_file.build_model_from_module_file(
            config.module_file, data_spec, shape[:2]
        )
    return lambda num_classes, shape: module_file.build_model_from_module_file(config.module_file, data_spec, shape[:2])


def train_task_model(
    examples_uri: str, data_spec: DataSpecContent, config: TrainingConfig, policy_uri: Optional[str] = None
):
    """(model, history, metrics, details, image_size) for a detection or segmentation DataSpec."""
    from components.training import detection, segmentation

    policy, options = read_task_policy(policy_uri) if policy_uri else (None, None)
    builder = _user_builder(config, data_spec)
    if data_spec.task == features.TASK_DETECTION:
        model, history, metrics, details = detection.train_detector(
            examples_uri, data_spec, config, policy, options,
            backbone_preset=config.backbone_preset, build_model=builder,
        )
    elif data_spec.task == features.TASK_SEGMENTATION:
        model, history, metrics, details = segmentation.train_segmenter(
            examples_uri, data_spec, config, policy, options, build_model=builder
        )
    else:
        raise ValueError(f"train_task_model trains {TASKS}; this DataSpec's task is {data_spec.task!r}.")
    details["augmentation"] = {
        "policy": policy.to_dict() if policy else None,
        "box_prior": options.box_prior if options else None,
    }
    return model, history, metrics, details


def train_and_save(
    examples_uri: str, data_spec: DataSpecContent, config: TrainingConfig, model_uri: str,
    policy_uri: Optional[str] = None,
):
    """(history, metrics, details): trains and writes the model (task_export layout) to `model_uri`."""
    model, history, metrics, details = train_task_model(examples_uri, data_spec, config, policy_uri)
    task_export.save_task_model_artifact(
        model, model_uri, data_spec.task, tuple(details["image_size"]), data_spec.channels, history, metrics,
        extra_files={TASK_MODEL_FILE_NAME: dict(details, task=data_spec.task)},
    )
    return history, metrics, details


def train_and_write(
    examples_uri: str, data_spec: DataSpecContent, config: TrainingConfig, model_artifact,
    policy_uri: Optional[str] = None,
) -> None:
    """Trains, writes the Model artifact (task_export layout) and its recipe, and records its metrics in MLMD.

    The recipe (what Refit reruns on train + eval) pins the epochs the model trained: the trainers plan epochs
    from the number of train images when the config leaves them unset, and a refit on more images must not
    plan fewer.
    """
    history, metrics, details = train_and_save(examples_uri, data_spec, config, model_artifact.uri, policy_uri)
    trained = len(history.get("loss", [])) or config.epochs
    ran = dataclasses.replace(config, epochs=trained,
                              explicit_fields=tuple(sorted({*config.explicit_fields, "epochs"})))
    recipe.write_recipe(model_artifact.uri, recipe.Recipe(
        recipe.TRAINING, dataclasses.asdict(ran), {AUGMENTATION_POLICY_KEY: policy_uri}, trained))
    record_metrics(model_artifact, metrics)
    model_artifact.set_string_custom_property("task", data_spec.task)
    model_artifact.set_string_custom_property(
        "architecture", config.module_file or ARCHITECTURE_NAMES[data_spec.task]
    )
    model_artifact.set_int_custom_property("epochs_trained", len(history.get("loss", [])))
    if details["augmentation"]["box_prior"]:
        model_artifact.set_string_custom_property("box_prior", details["augmentation"]["box_prior"])
