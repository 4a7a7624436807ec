"""AugmentationSearch executor: artifact I/O around `augmentation_search.run_search`."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tfx import types

from components.augmentation_search import report as report_lib
from components.augmentation_search import spec
from components.augmentation_search.augmentation_search import SearchResult, run_search, training_config
from components.augmentation_search.spec import AugmentationSearchConfig
from components.common.artifact_io import write_json, write_text
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics, record_run_decision
from components.types import examples_io, features
from components.types.artifacts import POLICY_FILE_NAME
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


def load_arrays(
    examples_uri: str, split: str, data_spec: DataSpecContent, image_size: Tuple[int, int], limit: Optional[int], seed: int
) -> Tuple[np.ndarray, np.ndarray]:
    """A split as (images [N,H,W,C] float in [0,1], int labels [N]); a seeded subset when `limit` is set.

    Raises:
      ValueError: when the split holds no labeled example.
    """
    images, labels = [], []
    for batch_images, batch_labels in examples_io.load_split(examples_uri, split, data_spec, 256, image_size):
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    images = np.concatenate(images) if images else np.zeros((0, *image_size, data_spec.channels), np.float32)
    labels = np.concatenate(labels) if labels else np.zeros((0,), np.int64)
    labeled = labels >= 0
    images, labels = images[labeled], labels[labeled]
    if len(labels) < 2:
        raise ValueError(
            f"Split {split!r} of Examples at {examples_uri} has {len(labels)} labeled examples; the search needs >= 2."
        )
    rows = seeded_subset(len(labels), limit, seed)
    return images[rows], labels[rows]


def seeded_subset(count: int, limit: Optional[int], seed: int) -> np.ndarray:
    """Sorted row indices: all `count` rows, or a seeded random `limit` of them."""
    if limit is None or count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).permutation(count)[:limit])


def search_image_size(config: AugmentationSearchConfig, data_spec: DataSpecContent, model) -> Tuple[int, int]:
    """The config's size, else a given model's input size, else the DataSpec default."""
    if config.image_size:
        return (int(config.image_size[0]), int(config.image_size[1]))
    if model is not None and len(model.input_shape) == 4 and None not in model.input_shape[1:3]:
        return (int(model.input_shape[1]), int(model.input_shape[2]))
    return examples_io.default_image_size(data_spec)


def record_decisions(artifact: types.Artifact, result: SearchResult) -> None:
    """The final choice as MLMD properties: per comparison `<candidate>_vs_<against>_{difference,lower,upper,n,kept}`.

    Candidates and baselines are roles ("none", "randaugment", "searched"),
    so names are stable across runs; `decision_role` is the output's role and
    `decision_rule` the rule in words.
    """
    if result.final is None:
        return
    artifact.set_string_custom_property("decision_role", result.final.role)
    artifact.set_string_custom_property("decision_rule", result.final.rule)
    for decision in result.final.decisions:
        prefix = f"{decision.candidate}_vs_{decision.against}_"
        record_metrics(artifact, {"difference": decision.difference, "lower": decision.interval[0],
                                  "upper": decision.interval[1]}, prefix=prefix)
        artifact.set_int_custom_property(prefix + "n", decision.n)
        artifact.set_int_custom_property(prefix + "kept", int(decision.kept))


def record_evidence(artifact: types.Artifact, result: SearchResult) -> None:
    """The decision and its evidence as MLMD custom properties."""
    findings = report_lib.orientation_findings(result)
    strings = {
        "chosen_policy": result.policy.name,
        "chosen_source": result.source,
        "chosen_ops": ",".join(op.name for op in result.policy.ops if op.probability > 0),
        "searched_policy": result.final.searched.name if result.final and result.final.searched else "",
    }
    floats = {
        "chosen_accuracy": result.chosen.accuracy,
        "no_augmentation_accuracy": result.baseline_accuracy("none"),
        "randaugment_accuracy": result.baseline_accuracy("rand_augment"),
        "proxy_accuracy": result.proxy_accuracy,
        "max_rotation_degrees": findings["max_rotation_degrees"],
        **{f"{phase}_seconds": seconds for phase, seconds in result.seconds.items()},
    }
    ints = {
        "num_candidates": len(result.effects),
        "num_clusters": len(result.clusters),
        "num_trials": len(result.trials),
        "mirror_chosen": int(findings["mirror_chosen"]),
        "large_rotation_chosen": int(findings["large_rotation_chosen"]),
    }
    for name, value in strings.items():
        artifact.set_string_custom_property(name, value)
    record_metrics(artifact, {name: value for name, value in floats.items() if value is not None})
    for name, value in ints.items():
        artifact.set_int_custom_property(name, value)
    record_decisions(artifact, result)


class Executor(ComponentExecutor):
    """Runs both passes and writes the AugmentationPolicy and the Report."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, AugmentationSearchConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        if data_spec.task == features.TASK_DETECTION:
            self._search_detection(config, examples.uri, data_spec, output_dict)
            return
        if data_spec.task != features.TASK_CLASSIFICATION:
            raise ValueError(
                f"AugmentationSearch searches classification and detection data; this DataSpec's task is "
                f"{data_spec.task!r}."
            )
        model = None
        model_artifact = self.optional(input_dict, spec.MODEL_KEY)
        if model_artifact is not None:
            from components.common import model_io

            model = model_io.load_model(model_artifact.uri)
        image_size = search_image_size(config, data_spec, model)
        train = load_arrays(
            examples.uri, features.TRAIN_SPLIT, data_spec, image_size, config.max_train_examples, config.seed
        )
        held_out = load_arrays(examples.uri, features.EVAL_SPLIT, data_spec, image_size, None, config.seed)

        from components.training import training  # Keras/TF import only at run time.

        build_model = training.model_builder(training_config(config, config.proxy_epochs), data_spec, image_size)
        result = run_search(build_model, *train, *held_out, data_spec.num_classes, config, data_spec.task, model)

        policy_artifact = self.single(output_dict, spec.AUGMENTATION_POLICY_KEY)
        report_artifact = self.single(output_dict, spec.REPORT_KEY)
        write_policy(result, policy_artifact.uri)
        report_lib.write_report(result, report_artifact.uri)
        record_evidence(policy_artifact, result)
        record_evidence(report_artifact, result)
        logger.info("augmentation policy written to %s; report to %s", policy_artifact.uri, report_artifact.uri)

    def _search_detection(self, config, examples_uri, data_spec, output_dict) -> None:
        """Detection: family policies and box priors scored by the detection proxy (detection_search.py)."""
        from components.augmentation_search import detection_proxy, detection_search

        image_size = detection_image_size(config, data_spec)
        train = examples_io.load_detection_split(examples_uri, features.TRAIN_SPLIT, data_spec, image_size)
        held_out = examples_io.load_detection_split(examples_uri, features.EVAL_SPLIT, data_spec, image_size)
        for split, (_, _, labels) in ((features.TRAIN_SPLIT, train), (features.EVAL_SPLIT, held_out)):
            if not (labels >= 0).any():
                raise ValueError(f"Split {split!r} of Examples at {examples_uri} has no boxes; the detection search needs some.")
        rows = seeded_subset(len(train[0]), config.max_train_examples, config.seed)
        train = tuple(part[rows] for part in train)
        families = detection_families(config)
        logger.info(
            "detection search on %d train / %d eval images at %s: families %s, priors %s",
            len(train[0]), len(held_out[0]), image_size, families, config.box_priors,
        )
        result = detection_search.search_detection(
            train, held_out, data_spec.num_classes,
            candidates=detection_search.detection_candidates(families),
            priors=config.box_priors,
            proxy_config=detection_proxy.DetectionProxyConfig(
                epochs=config.detection_epochs, batch_size=config.batch_size,
                learning_rate=config.learning_rate, seed=config.seed,
            ),
            keep_simpler_within_noise=config.choose_baselines, confidence=config.confidence,
            num_resamples=config.num_resamples,
        )
        policy_artifact = self.single(output_dict, spec.AUGMENTATION_POLICY_KEY)
        report_artifact = self.single(output_dict, spec.REPORT_KEY)
        detection_search.write_detection_outputs(result, policy_artifact.uri, report_artifact.uri)
        for artifact in (policy_artifact, report_artifact):
            artifact.set_string_custom_property("chosen_policy", result.policy.name)
            artifact.set_string_custom_property("box_prior", result.box_prior or "")
            artifact.set_float_custom_property("chosen_map", result.scores[result.policy.name])
            artifact.set_float_custom_property("no_augmentation_map", result.scores[detection_search.IDENTITY_POLICY.name])
            artifact.set_float_custom_property("search_seconds", result.seconds["total"])
            artifact.set_int_custom_property("num_candidates", len(result.scores))
        record_run_decision(policy_artifact, detection_search.decision_text(result))
        logger.info("detection policy %s, box prior %s, written to %s", result.policy.name, result.box_prior, policy_artifact.uri)


def detection_image_size(config: AugmentationSearchConfig, data_spec: DataSpecContent) -> Tuple[int, int]:
    """The config's or the data's size, rounded down to the proxy's stride (normalized boxes are unaffected)."""
    from components.augmentation_search.detection_proxy import DetectionProxyConfig

    stride = DetectionProxyConfig().stride
    height, width = config.image_size or examples_io.default_image_size(data_spec)
    return (max(stride * 2, int(height) // stride * stride), max(stride * 2, int(width) // stride * stride))


def detection_families(config: AugmentationSearchConfig) -> Dict[str, Tuple[str, ...]]:
    """detection_search.DETECTION_FAMILIES restricted to config.ops and without config.excluded_ops."""
    from components.augmentation_search.detection_search import DETECTION_FAMILIES

    allowed = set(config.ops) if config.ops else None
    families = {}
    for family, ops in DETECTION_FAMILIES.items():
        kept = tuple(op for op in ops if (allowed is None or op in allowed) and op not in config.excluded_ops)
        if kept:
            families[family] = kept
    return families


def write_policy(result: SearchResult, directory: str) -> str:
    """Writes `policy.json` (augment_ops Policy JSON) at the artifact root, and `decision.json` (the final
    choice with its paired comparisons) when the result has one; returns the policy's path."""
    import tensorflow as tf

    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, POLICY_FILE_NAME)
    write_text(path, result.policy.to_json())
    final = getattr(result, "final", None)
    if final is not None:
        write_json(os.path.join(directory, spec.DECISION_FILE_NAME), report_lib.decision_summary(result))
    return path
