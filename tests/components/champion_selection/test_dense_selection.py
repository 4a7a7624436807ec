"""Champion selection for detection and segmentation: paired resampling of mAP / mean IoU over eval images."""

import json
import os

import keras
import numpy as np
from tfx.types import standard_artifacts

from components.champion_selection import spec as keys
from components.champion_selection.executor import Executor
from components.champion_selection.selection import select_champion_resampled
from components.evaluation import resampled_metrics
from components.training import task_export
from components.types import artifacts, config_json
from tests.components.detection.pipeline_steps import artifact
from tests.components.evaluation.test_resampled_metrics import NUM_CLASSES, SIZE, _scene
from tests.components.segmentation.scenes import write_segmentation_examples


def _scored(evidence, counts):
    return resampled_metrics.resampled_map(evidence, counts)["map"]


def _compare(first, second, seed=0):
    counts = resampled_metrics.bootstrap_counts(len(first[0]), 500, seed)
    evidence = [resampled_metrics.detection_evidence(*scene, SIZE, NUM_CLASSES) for scene in (first, second)]
    full = [float(_scored(e, np.ones((1, len(first[0]))))[0]) for e in evidence]
    return select_champion_resampled(["Training", "TrainingAugmented"], [_scored(e, counts) for e in evidence],
                                     full, "map", num_images=len(first[0]))


def test_a_detector_with_tighter_boxes_is_kept_and_a_near_copy_is_not():
    true_boxes, true_labels, loose, scores, classes = _scene(0, n=60)
    tight = loose.copy()
    tight[:, :3] = true_boxes[:, :3] + np.random.default_rng(1).normal(0, 0.004, tight[:, :3].shape)
    result = _compare((true_boxes, true_labels, loose, scores, classes), (true_boxes, true_labels, tight, scores, classes))
    decision = result.decisions[0]
    assert result.champion == "TrainingAugmented" and decision.kept and decision.interval[0] > 0
    assert "better beyond the noise of 60 eval images" in decision.reason
    nudged = scores.copy()
    nudged[0, 0] += 0.01  # one score changed: the same detector for every purpose
    result = _compare((true_boxes, true_labels, loose, scores, classes), (true_boxes, true_labels, loose, nudged, classes))
    assert result.champion == "Training" and not result.decisions[0].kept


def _colour_segmenter(square_weight: float) -> keras.Model:
    """A 1x1-conv segmenter of the shape scenes: discs are yellow (red high), squares blue (blue high).

    square_weight 20 finds squares; 0 never predicts them (background wins), so its mean IoU is lower.
    """
    inputs = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(3, 1)
    outputs = keras.layers.Softmax()(conv(inputs))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((1, 1, 3, 3), np.float32)
    kernel[0, 0, 0, 1], kernel[0, 0, 2, 2] = 20.0, square_weight
    conv.set_weights([kernel, np.array([0.0, -12.0, -12.0 if square_weight else -1.0], np.float32)])
    return model


def _select(tmp_path, examples, data_spec, named_uris):
    """Runs the ChampionSelection executor on real artifact objects; (selection.json, champion Model artifact)."""
    inputs = {keys.EXAMPLES_KEY: [artifact(standard_artifacts.Examples, examples, ["train", "eval"])],
              keys.DATA_SPEC_KEY: [artifact(artifacts.DataSpec, data_spec)]}
    for key, (_, uri) in zip(keys.CANDIDATE_KEYS, named_uris):
        inputs[key] = [artifact(standard_artifacts.Model, uri)]
    model_out = artifact(standard_artifacts.Model, tmp_path / "champion")
    report = artifact(artifacts.Report, tmp_path / "selection")
    os.makedirs(report.uri)
    config = keys.SelectionConfig(candidate_names=tuple(name for name, _ in named_uris), num_resamples=300)
    Executor().Do(inputs, {keys.MODEL_KEY: [model_out], keys.SELECTION_KEY: [report]},
                  {keys.CONFIG_KEY: config_json.config_to_json(config)})
    with open(os.path.join(report.uri, keys.SELECTION_FILE_NAME)) as handle:
        return json.load(handle), model_out


def test_the_executor_keeps_the_better_segmenter_by_mean_iou(tmp_path):
    examples, data_spec = str(tmp_path / "examples"), str(tmp_path / "data_spec")
    write_segmentation_examples(examples, data_spec, {"train": 4, "eval": 24}, size=32, seed=3)
    uris = {}
    for name, weight in (("Training", 0.0), ("TrainingAugmented", 20.0)):
        uris[name] = str(tmp_path / name)
        task_export.save_task_model_artifact(_colour_segmenter(weight), uris[name], "segmentation", (32, 32), 3)
    payload, champion = _select(tmp_path, examples, data_spec, list(uris.items()))
    assert payload["metric"] == "mean_iou" and payload["champion"] == "TrainingAugmented"
    scores = {c["name"]: c["metric"] for c in payload["candidates"]}
    assert scores["TrainingAugmented"] > 0.95 and scores["Training"] < 0.75  # squares never found: IoU 0 for them
    assert payload["decisions"][0]["kept"] and not payload["use_brier"]
    assert champion.get_string_custom_property(keys.CHAMPION_PROPERTY) == "TrainingAugmented"
    assert os.path.exists(os.path.join(champion.uri, "model.keras"))
    # Order matters: the better one first stays champion against the worse.
    payload, _ = _select(tmp_path / "reversed", examples, data_spec, list(reversed(list(uris.items()))))
    assert payload["champion"] == "TrainingAugmented" and not payload["decisions"][0]["kept"]
    assert "worse; keeps TrainingAugmented" in payload["decisions"][0]["reason"]
