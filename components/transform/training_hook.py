"""Training a classifier on a transform graph's output: Training's path when `transform_graph` is wired.

The same loop as `training.train_classifier` (model builder, `training.fit_and_score`,
class weights, fine-tuning schedule, warm start); only the input pipeline
differs: raw examples go through the graph (`ImageTransformGraph.dataset`)
instead of `examples_io.load_split`. The returned model takes [0, 1] images
(the graph's normalization in front of the trained model), as every model
artifact of the suite does; `serving.TransformedExamples` serves raw bytes
through the graph itself.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional, Sequence, Tuple

import keras
import numpy as np

from components.training import backbones, trainer, training
from components.training.spec import TrainingConfig
from components.transform.transform_graph import ImageTransformGraph, trained_model
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


class NormalizedSpaceAugmentation(keras.layers.Layer):
    """Runs a [0, 1]-image augmentation on normalized images: undo the normalization, augment, redo it.

    The augment_ops ops clip and adjust colours in [0, 1]; the transform
    graph hands the model (x - mean) / std. Used only in the training
    scaffold (stripped before export).
    """

    def __init__(self, augmentation: keras.layers.Layer, mean: Sequence[float], std: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.augmentation = augmentation
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)

    def call(self, images, training=None):
        unit = images * self.std + self.mean
        return (self.augmentation(unit, training=training) - self.mean) / self.std


def check_config(config: TrainingConfig, graph: ImageTransformGraph, data_spec: DataSpecContent) -> None:
    """One-line ValueErrors for settings the transform path cannot honour, before any training."""
    graph.check_data_spec(data_spec, config.image_size)
    if config.synthetic_ratio > 0:
        raise ValueError(
            "training.synthetic_ratio > 0 with a transform graph is not supported: synthetic examples would bypass "
            "the graph; drop one of the two."
        )
    statistics = graph.statistics()
    normalized = not (np.allclose(statistics.mean, 0.0) and np.allclose(statistics.std, 1.0))
    pretrained_backbone = config.pretrained_weights and config.architecture in backbones.BACKBONES
    if normalized and pretrained_backbone:
        raise ValueError(
            f"Pretrained backbone {config.architecture!r} expects [0, 1] images (its own preprocessing follows); "
            "set transform.normalize: none."
        )


def train_classifier(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: TrainingConfig,
    transform_graph_uri: str,
    augmentation: Optional[keras.layers.Layer] = None,
    warm_start: Optional[keras.Model] = None,
    synthetic_uris: Sequence[str] = (),
    log_dir: Optional[str] = None,
    mixing_policy=None,
) -> Tuple[keras.Model, Dict[str, list], Dict[str, float]]:
    """Trains on `train` and validates on `eval`, both through the graph; returns ([0, 1] model, history, metrics).

    `augmentation` (image ops in [0, 1], run in normalized space by
    `NormalizedSpaceAugmentation`) and `mixing_policy` (label mixing, any
    value range) as in `training.train_classifier`. `synthetic_uris` is
    accepted for the executor's call shape; with a positive
    `synthetic_ratio` `check_config` refuses the run.
    """
    del synthetic_uris
    training.start_classifier_training(config, data_spec)
    graph = ImageTransformGraph(transform_graph_uri)
    check_config(config, graph, data_spec)
    repeat = config.steps_per_epoch is not None

    def split(name: str, is_training: bool):
        dataset = graph.dataset(
            examples_uri, name, data_spec, config.batch_size, shuffle=is_training, seed=config.seed,
            repeat=is_training and repeat,
        )
        return trainer.one_hot_labels(dataset, data_spec.task, data_spec.num_classes)

    train_dataset, eval_dataset = split(features.TRAIN_SPLIT, True), split(features.EVAL_SPLIT, False)
    build = training.model_builder(config, data_spec, graph.image_size)
    if warm_start is not None:
        build = training.warm_started(build, trained_model(warm_start))  # Same matching as Training's own path.
    statistics = graph.statistics()
    if augmentation is not None:
        augmentation = NormalizedSpaceAugmentation(augmentation, statistics.mean, statistics.std)
    num_train = data_spec.split_count(features.TRAIN_SPLIT) or examples_io.count_records(
        examples_uri, features.TRAIN_SPLIT
    )
    logger.info("training through transform graph %s (mean %s, std %s)", graph.uri, statistics.mean, statistics.std)
    model, history, metrics = training.fit_and_score(build, train_dataset, eval_dataset, config, data_spec,
                                                     num_train, augmentation, log_dir, mixing_policy)
    return graph.model_on_unit_images(model), history, metrics

