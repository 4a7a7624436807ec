"""Adapting a source-domain classifier to an unlabeled target domain (no TFX).

Every configured method starts from the same source model and is scored on
the target's labeled validation and test splits when they exist; the best
on validation is picked (or `default_method` when the target has no labels).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from components.contrastive import backbone
from components.domain_adaptation import adaptation, alignment
from components.domain_adaptation.spec import (
    ADABN, CORAL, DANN, SELF_TRAINING, SOURCE_ONLY, DomainAdaptationConfig,
)
from components.pseudo_labels import labeling
from components.training import trainer, training
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class MethodResult:
    """Target-domain accuracy of one method (None where the split has no labels)."""

    method: str
    validation_accuracy: Optional[float]
    test_accuracy: Optional[float]
    seconds: float


@dataclasses.dataclass
class Domains:
    """The data every method uses.

    Attributes:
      labeled: unbatched `(image, one-hot [K])`: source train plus any target labels.
      target_images: unbatched target images `[H,W,C]` (labels dropped).
      validation / test: batched labeled target `(images, labels)` or None.
    """

    labeled: tf.data.Dataset
    labeled_count: int
    target_images: tf.data.Dataset
    target_count: int
    validation: Optional[tf.data.Dataset]
    test: Optional[tf.data.Dataset]


def labeled_split(uri: str, split: str, data_spec: DataSpecContent, size, batch_size: int = 256):
    """Batched `(images, labels)` of a split whose records all have labels, else None."""
    try:
        examples_io.split_files(uri, split)
    except FileNotFoundError:
        return None
    dataset = examples_io.load_split(uri, split, data_spec, batch_size=batch_size, image_size=size)
    if not all(bool(tf.reduce_all(labels >= 0)) for _, labels in dataset):
        logger.info("domain adaptation: target split %r has unlabeled records; not used as labels", split)
        return None
    return dataset


def load_domains(source_uri: str, target_uri: str, data_spec: DataSpecContent, config: DomainAdaptationConfig,
                 size) -> Domains:
    labeled = labeling.load_targets(source_uri, features.TRAIN_SPLIT, data_spec, size, soft_key=None)
    labeled_count = examples_io.count_records(source_uri, features.TRAIN_SPLIT)
    split = config.target_labeled_split
    held_out = (config.target_validation_split, config.target_test_split)
    if split and split not in held_out and labeled_split(target_uri, split, data_spec, size) is not None:
        labeled = labeled.concatenate(
            labeling.load_targets(target_uri, config.target_labeled_split, data_spec, size, soft_key=None)
        )
        labeled_count += examples_io.count_records(target_uri, config.target_labeled_split)
        logger.info("domain adaptation: training also on target labels of split %r", config.target_labeled_split)
    target = examples_io.load_split(target_uri, config.target_unlabeled_split, data_spec, 256, size)
    return Domains(
        labeled=labeled,
        labeled_count=labeled_count,
        target_images=target.unbatch().map(lambda image, label: image),
        target_count=examples_io.count_records(target_uri, config.target_unlabeled_split),
        validation=labeled_split(target_uri, config.target_validation_split, data_spec, size),
        test=labeled_split(target_uri, config.target_test_split, data_spec, size),
    )


def fine_tune(model: keras.Model, dataset: tf.data.Dataset, count: int, config: DomainAdaptationConfig,
              task: str, seed_offset: int, name: str) -> keras.Model:
    """A copy of `model` trained further on unbatched `(image, target)` pairs."""
    tune_config = config.fine_tune_config(seed_offset=seed_offset)
    batches = dataset.shuffle(min(count, 20_000), seed=tune_config.seed).batch(config.batch_size)
    tuned, _ = trainer.fit(lambda: adaptation.copy_model(model), batches.prefetch(tf.data.AUTOTUNE), None,
                           tune_config, task, count, log_prefix=name)
    return tuned


def self_train(model: keras.Model, domains: Domains, config: DomainAdaptationConfig, task: str) -> keras.Model:
    """Rounds of: pseudo-label confident target images, fine-tune on labeled + pseudo, AdaBN."""
    current = model
    for round_index in range(config.self_training_rounds):
        pseudo = adaptation.self_training_targets(
            current, domains.target_images, 256, config.confidence_threshold, config.balance_classes
        )
        if pseudo is None:
            break
        count = domains.labeled_count + int(pseudo.cardinality())
        current = fine_tune(current, domains.labeled.concatenate(pseudo), count, config, task, round_index + 1,
                            f"self-training round {round_index + 1}")
        current = adaptation.adabn(current, domains.target_images.batch(256))
    return current


def align(model: keras.Model, method: str, domains: Domains, config: DomainAdaptationConfig,
          extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> keras.Model:
    """CORAL or DANN fine-tuning of a copy of `model` (then AdaBN when configured).

    Inside a TFX execution every finished epoch is checkpointed (classifier,
    domain head, optimizer), so a rerun after a kill resumes from the last
    one, and TensorBoard scalars go under the execution scope
    (`trainer.standard_callbacks`). `extra_callbacks` follow those.
    """
    keras.utils.set_random_seed(config.seed)
    classifier = adaptation.copy_model(model)
    dataset, steps = alignment.paired_batches(
        domains.labeled, domains.target_images, config.batch_size, config.seed, domains.labeled_count,
        domains.target_count,
    )
    weight = config.coral_weight if method == alignment.CORAL else config.dann_weight
    learner = alignment.AlignmentLearner(
        classifier, backbone.encoder_of(classifier, config.embedding_layer), method, weight, steps * config.epochs
    )
    learner.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    learner.build_for_training()
    callbacks, _ = trainer.standard_callbacks(config.epochs, method, steps)
    learner.fit(dataset, epochs=config.epochs, steps_per_epoch=steps, verbose=config.verbose,
                callbacks=callbacks + list(extra_callbacks))
    if config.adabn_after_alignment and adaptation.batch_norm_layers(classifier):
        return adaptation.adabn(classifier, domains.target_images.batch(256))
    return classifier


def adapt(
    source_uri: str,
    target_uri: str,
    data_spec: DataSpecContent,
    config: DomainAdaptationConfig,
    source_model: Optional[keras.Model] = None,
) -> Tuple[keras.Model, List[MethodResult], str]:
    """Runs every configured method; returns (picked model, results in method order, picked method)."""
    if data_spec.task != features.TASK_CLASSIFICATION:
        raise ValueError(f"Domain adaptation supports classification; this DataSpec's task is {data_spec.task!r}.")
    if source_model is None:
        source_model, _, _ = training.train_classifier(source_uri, data_spec, config.source_training_config())
    size = backbone.image_shape(source_model)[:2]
    domains = load_domains(source_uri, target_uri, data_spec, config, size)
    cache: Dict[str, keras.Model] = {}

    def adabn_model() -> keras.Model:
        if ADABN not in cache:
            has_bn = bool(adaptation.batch_norm_layers(source_model))
            if not has_bn:
                logger.warning("domain adaptation: the model has no batch normalization; AdaBN is the source model")
            cache[ADABN] = adaptation.adabn(source_model, domains.target_images.batch(256)) if has_bn else source_model
        return cache[ADABN]

    builders: Dict[str, Callable[[], keras.Model]] = {
        SOURCE_ONLY: lambda: source_model,
        ADABN: adabn_model,
        SELF_TRAINING: lambda: self_train(adabn_model(), domains, config, data_spec.task),
        CORAL: lambda: align(source_model, alignment.CORAL, domains, config),
        DANN: lambda: align(source_model, alignment.DANN, domains, config),
    }
    results, models = [], {}
    methods = config.methods
    if domains.validation is None and domains.test is None:
        # Nothing can score the methods: train only the one that would be returned.
        logger.info("domain adaptation: the target has no labeled images, so only the default method %r runs "
                    "(the others could not be compared)", config.default_method)
        methods = (config.default_method,)
    for method in methods:
        started = time.time()
        models[method] = builders[method]()
        result = MethodResult(
            method,
            adaptation.accuracy(models[method], domains.validation) if domains.validation is not None else None,
            adaptation.accuracy(models[method], domains.test) if domains.test is not None else None,
            time.time() - started,
        )
        logger.info("domain adaptation: %s", result)
        results.append(result)
    picked = pick_method(results, config.default_method)
    return models[picked], results, picked


def pick_method(results: List[MethodResult], default_method: str) -> str:
    """Best validation accuracy (earliest method among ties), or the default without validation labels."""
    scored = [result for result in results if result.validation_accuracy is not None]
    if not scored:
        return default_method
    best = max(result.validation_accuracy for result in scored)
    return next(result.method for result in scored if result.validation_accuracy == best)
