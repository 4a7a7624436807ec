"""Knowledge and self distillation without TFX (the executor's math).

`distill` trains one student through the shared loop (trainer.fit) with the
teachers' predictions computed inside each step; `distill_generations`
repeats it born-again style, each student teaching the next.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from components.distillation import losses
from components.distillation.spec import DistillationConfig
from components.training import fine_tuning, trainer, training
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

Evaluate = Callable[[keras.Model], Dict[str, float]]


def distill(
    build_student: Callable[[], keras.Model],
    teachers: Sequence[keras.Model],
    train_dataset: tf.data.Dataset,
    eval_dataset: Optional[tf.data.Dataset],
    config: DistillationConfig,
    num_classes: int,
    num_train_examples: int,
    class_weights: Optional[Sequence[float]] = None,
    log_prefix: str = "distillation",
) -> Tuple[keras.Model, Dict[str, list]]:
    """Trains a student on the teachers' soft targets mixed with the hard labels.

    Args:
      build_student: returns a fresh student (probabilities out).
      teachers: models whose mean probabilities are the soft targets.
      train_dataset: batched `(images [B,H,W,C], one-hot [B,K])`; all-zero
        rows are unlabeled images (soft targets only).
      eval_dataset: batched like train_dataset, labeled, or None.
      config: student hyperparameters, temperature and soft weight.

    Returns:
      (student, history).
    """
    loss = losses.DistillationLoss(num_classes, config.temperature, config.soft_weight)
    return trainer.fit(
        build_student,
        train_dataset,
        eval_dataset,
        config.student,
        features.TASK_CLASSIFICATION,
        num_train_examples,
        loss=loss,
        log_prefix=log_prefix,
        class_weights=class_weights,
        target_fn=losses.teacher_target_fn(teachers),
        metrics=[losses.hard_label_accuracy(num_classes)],
        # A pretrained student backbone gets the same frozen warm-up + unfreeze schedule as Training.
        extra_callbacks=fine_tuning.schedule_callbacks(config.student.fine_tune, config.student.epochs),
    )


def fresh_copy_builder(model: keras.Model) -> Callable[[], keras.Model]:
    """Builds the model's architecture with newly initialized weights (self distillation)."""
    return lambda: keras.models.clone_model(model)


def distill_generations(
    build_student: Callable[[], keras.Model],
    teachers: Sequence[keras.Model],
    train_dataset: tf.data.Dataset,
    eval_dataset: Optional[tf.data.Dataset],
    config: DistillationConfig,
    num_classes: int,
    num_train_examples: int,
    evaluate: Evaluate,
    class_weights: Optional[Sequence[float]] = None,
) -> Tuple[keras.Model, Dict[str, list], List[Dict[str, object]]]:
    """`config.generations` rounds of distillation, each student teaching the next.

    Generation g trains with seed `student.seed + g - 1`, so students start
    from different initializations.

    Returns:
      (last student, its history, per generation {'generation', 'metrics'}).
    """
    generations: List[Dict[str, object]] = []
    current_teachers = list(teachers)
    student, history = None, {}
    for generation in range(1, int(config.generations) + 1):
        seed = config.student.seed + generation - 1
        round_config = dataclasses.replace(config, student=dataclasses.replace(config.student, seed=seed))
        prefix = f"distillation generation {generation}/{config.generations}"
        student, history = distill(
            build_student,
            current_teachers,
            train_dataset,
            eval_dataset,
            round_config,
            num_classes,
            num_train_examples,
            class_weights,
            log_prefix=prefix,
        )
        metrics = evaluate(student)
        logger.info("%s: %s", prefix, metrics)
        generations.append({"generation": generation, "seed": seed, "metrics": metrics, "history": history})
        current_teachers = [student]
    return student, history, generations


def with_unlabeled(
    labeled: tf.data.Dataset,
    unlabeled: tf.data.Dataset,
    num_labeled: int,
    num_unlabeled: int,
    batch_size: int,
    seed: int,
) -> tf.data.Dataset:
    """Interleaves two batched datasets at random (in proportion to their sizes) and rebatches."""
    total = max(num_labeled + num_unlabeled, 1)
    mixed = tf.data.Dataset.sample_from_datasets(
        [labeled.unbatch(), unlabeled.unbatch()],
        weights=[num_labeled / total, num_unlabeled / total],
        seed=seed,
    )
    return mixed.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def distill_from_examples(
    examples_uri: str,
    data_spec: DataSpecContent,
    teachers: Sequence[keras.Model],
    config: DistillationConfig,
    evaluate: Evaluate,
) -> Tuple[keras.Model, Dict[str, list], List[Dict[str, object]]]:
    """Distills on the `train` split (plus `unlabeled` if asked), validating on `eval`."""
    if data_spec.task != features.TASK_CLASSIFICATION:
        raise ValueError(
            f"Distillation supports single-label classification; the DataSpec's task is {data_spec.task!r}."
        )
    student_config = config.student
    if config.same_architecture_as_teacher:
        build = fresh_copy_builder(teachers[0])
        image_size = tuple(teachers[0].input_shape[1:3])
    else:
        image_size = training.resolve_image_size(student_config, data_spec)
        build = training.model_builder(student_config, data_spec, image_size)
    keras.utils.set_random_seed(student_config.seed)  # Before the datasets: tf.data shuffle reads the global seed.

    def split_dataset(split: str, train: bool) -> tf.data.Dataset:
        return training.labeled_dataset(examples_uri, split, data_spec, student_config, image_size, train)

    train_dataset = split_dataset(features.TRAIN_SPLIT, True)
    num_train = data_spec.split_count(features.TRAIN_SPLIT) or examples_io.count_records(
        examples_uri, features.TRAIN_SPLIT
    )
    if config.use_unlabeled:
        num_unlabeled = data_spec.split_count(features.UNLABELED_SPLIT) or examples_io.count_records(
            examples_uri, features.UNLABELED_SPLIT
        )
        unlabeled = split_dataset(features.UNLABELED_SPLIT, True)
        train_dataset = with_unlabeled(
            train_dataset, unlabeled, num_train, num_unlabeled, student_config.batch_size, student_config.seed
        )
        logger.info("distillation: %d labeled + %d unlabeled training images", num_train, num_unlabeled)
        num_train += num_unlabeled
    eval_dataset = split_dataset(features.EVAL_SPLIT, False)
    class_weights = training.class_weights_for(student_config, data_spec)
    return distill_generations(
        build,
        teachers,
        train_dataset,
        eval_dataset,
        config,
        data_spec.num_classes,
        num_train,
        evaluate,
        class_weights,
    )
