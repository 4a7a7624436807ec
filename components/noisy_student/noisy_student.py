"""The noisy-student loop (no TFX): pseudo-label, train a noised student, repeat, keep the best.

Each iteration: the current teacher predicts the unlabeled split (batched,
checkpointed), confident predictions are class-balanced into pseudo-labeled
examples, and a freshly initialised student (dropout, optional stochastic
depth, strong augment_ops augmentation) trains on labeled + pseudo-labeled
examples. Every model is scored on the eval split; finished iterations are
saved under the work directory so a rerun resumes after them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Dict, List, Optional, Tuple

import keras
import tensorflow as tf

from components.common import model_io
from components.contrastive import backbone
from components.contrastive.views import OpsAugmentation
from components.evaluation import evaluation
from components.evaluation.metrics import higher_is_better
from components.noisy_student import noise
from components.noisy_student.spec import NoisyStudentConfig, pseudo_split_name
from components.pseudo_labels import labeling, selection
from components.training import trainer, training
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

METRICS_FILE_NAME = "metrics.json"


@dataclasses.dataclass
class IterationResult:
    """One model of the run: iteration 0 is the teacher, 1..K the students.

    Attributes:
      metrics: eval-split metrics (components.evaluation names).
      pseudo_labels: pseudo-labeled examples the student trained on.
      model_path: the saved `.keras` file.
      teacher: what produced this student's pseudo-labels (model path/URI).
    """

    iteration: int
    metrics: Dict[str, float]
    pseudo_labels: int
    model_path: str
    teacher: str = ""


@dataclasses.dataclass
class NoisyStudentRun:
    """Outcome: the best model (by eval `selection_metric`), every model's results, and why it stopped early."""

    best_model: keras.Model
    results: List[IterationResult]
    best: int
    stopped: str = ""


def evaluate_on_eval(model: keras.Model, examples_uri: str, data_spec: DataSpecContent, name: str) -> Dict[str, float]:
    size = backbone.image_shape(model)[:2]
    dataset = examples_io.load_split(examples_uri, features.EVAL_SPLIT, data_spec, batch_size=256, image_size=size)
    return evaluation.evaluate_model(model, dataset, data_spec.class_names, data_spec.task, name=name)["metrics"]


def _load_finished(directory: str) -> Optional[Tuple[keras.Model, Dict]]:
    if not tf.io.gfile.exists(os.path.join(directory, METRICS_FILE_NAME)):
        return None
    return model_io.load_model(directory), model_io.read_json(os.path.join(directory, METRICS_FILE_NAME))


def _save_finished(model: keras.Model, directory: str, record: Dict) -> None:
    model_io.save_model_artifact(model, directory, export=False)
    model_io.write_json(os.path.join(directory, METRICS_FILE_NAME), record)  # Written last: marks it finished.


def prepare_teacher(
    examples_uri: str, data_spec: DataSpecContent, config: NoisyStudentConfig,
    teacher: Optional[keras.Model], teacher_id: str, work_dir: str,
) -> Tuple[keras.Model, IterationResult]:
    """The given teacher, or one trained on the labeled split (saved for resuming)."""
    directory = os.path.join(work_dir, "teacher")
    if teacher is None:
        finished = _load_finished(directory)
        if finished:
            teacher = finished[0]
            logger.info("noisy student: resumed the trained teacher from %s", directory)
        else:
            teacher, _, _ = training.train_classifier(examples_uri, data_spec, config.teacher_training_config())
            _save_finished(teacher, directory, {"trained": True})
        teacher_id = directory
    metrics = evaluate_on_eval(teacher, examples_uri, data_spec, "teacher")
    return teacher, IterationResult(0, metrics, 0, teacher_id or directory, teacher="")


def student_dataset(
    examples_uri: str, pseudo_uri: str, split: str, data_spec: DataSpecContent, size, batch_size: int, seed: int
) -> tf.data.Dataset:
    """Shuffled batches of labeled (one-hot) and pseudo-labeled (hard or soft) `(images, targets [B,K])`."""
    labeled = labeling.load_targets(examples_uri, features.TRAIN_SPLIT, data_spec, size, soft_key=None)
    pseudo = labeling.load_targets(pseudo_uri, split, data_spec, size)
    return (
        labeled.concatenate(pseudo)
        .shuffle(20_000, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def build_student(teacher: keras.Model, config: NoisyStudentConfig, data_spec, size, seed: int) -> keras.Model:
    """A noised student: the teacher's architecture (or its own), freshly initialised or from the teacher."""
    if config.student_has_own_architecture:
        base = training.model_builder(config.student_training_config(0), data_spec, size)()
    else:
        base = teacher
    student = noise.noisy_clone(base, config.dropout, config.stochastic_depth, seed)
    if config.init_from_teacher:
        copied = noise.copy_matching_weights(teacher, student)
        logger.info("noisy student: initialised %d layers from the teacher", copied)
    return student


def train_student(
    teacher: keras.Model,
    iteration: int,
    examples_uri: str,
    pseudo_uri: str,
    num_pseudo: int,
    data_spec: DataSpecContent,
    config: NoisyStudentConfig,
    augmentation: Optional[keras.layers.Layer],
    mixing_policy=None,
) -> keras.Model:
    """Trains one noised student; returns it without the stochastic-depth layers.

    `mixing_policy`: the searched policy's label-mixing ops (mixup, cutmix), applied in the train step to the
    images and their (pseudo-)label distributions together.
    """
    student_config = config.student_training_config(iteration)
    size = tuple(config.image_size) if config.image_size else backbone.image_shape(teacher)[:2]
    keras.utils.set_random_seed(student_config.seed)
    train = student_dataset(
        examples_uri, pseudo_uri, pseudo_split_name(iteration), data_spec, size, config.batch_size, student_config.seed
    )
    eval_dataset = training.labeled_dataset(examples_uri, features.EVAL_SPLIT, data_spec, student_config, size, False)
    num_train = data_spec.split_count(features.TRAIN_SPLIT) + num_pseudo
    augmentation = augmentation or OpsAugmentation(config.noise_steps, seed=student_config.seed, name="student_noise")
    student, _ = trainer.fit(
        lambda: build_student(teacher, config, data_spec, size, student_config.seed),
        train, eval_dataset, student_config, data_spec.task, num_train, augmentation,
        log_prefix=f"noisy student {iteration}/{config.iterations}", mixing_policy=mixing_policy,
    )
    return noise.strip_noise(student)


def run_noisy_student(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: NoisyStudentConfig,
    pseudo_uri: str,
    work_dir: str,
    teacher: Optional[keras.Model] = None,
    teacher_id: str = "",
    augmentation: Optional[keras.layers.Layer] = None,
    mixing_policy=None,
) -> "NoisyStudentRun":
    """Runs up to K iterations and picks the best model on eval.

    Pseudo-labels of iteration k are written to split `iteration_k` of
    `pseudo_uri`; progress lives under `work_dir`. An iteration whose teacher
    labels no unlabeled image confidently ends the run early (`stopped`).
    """
    if data_spec.task != features.TASK_CLASSIFICATION:
        raise ValueError(f"Noisy student pseudo-labels classification data; the DataSpec's task is {data_spec.task!r}.")
    current, teacher_result = prepare_teacher(examples_uri, data_spec, config, teacher, teacher_id, work_dir)
    results, models, stopped = [teacher_result], [current], ""
    logger.info("noisy student: teacher eval %s", teacher_result.metrics)
    for iteration in range(1, config.iterations + 1):
        directory = os.path.join(work_dir, f"iteration_{iteration}")
        teacher_path = results[-1].model_path
        size = backbone.image_shape(current)[:2]
        predictions = labeling.predict_split(
            current, examples_uri, config.unlabeled_split, data_spec, size, os.path.join(directory, "predictions"),
            model_id=teacher_path, batch_size=config.prediction_batch_size, chunk_batches=config.chunk_batches,
        )
        chosen = selection.select_pseudo_labels(
            predictions.probabilities, config.confidence_threshold, config.mode, config.balance_classes,
            config.images_per_class,
        )
        if not len(chosen):
            stopped = (f"iteration {iteration}: no unlabeled image reached confidence "
                       f"{config.confidence_threshold} (lower confidence_threshold)")
            logger.warning("noisy student: stopped early at %s", stopped)
            break
        labeling.write_pseudo_labels(
            examples_uri, config.unlabeled_split, predictions, chosen, pseudo_uri, pseudo_split_name(iteration),
            teacher_path, soft=config.mode == selection.SOFT,
        )
        finished = _load_finished(directory)
        if finished:
            student, metrics = finished[0], finished[1]["metrics"]
            logger.info("noisy student: resumed finished iteration %d from %s", iteration, directory)
        else:
            student = train_student(
                current, iteration, examples_uri, pseudo_uri, len(chosen), data_spec, config, augmentation,
                mixing_policy,
            )
            metrics = evaluate_on_eval(student, examples_uri, data_spec, f"student {iteration}")
            _save_finished(student, directory, {"metrics": metrics, "pseudo_labels": len(chosen)})
        results.append(IterationResult(iteration, metrics, len(chosen), directory, teacher=teacher_path))
        models.append(student)
        logger.info("noisy student: iteration %d/%d eval %s", iteration, config.iterations, metrics)
        current = student
    best = best_iteration(results, config.selection_metric)
    return NoisyStudentRun(models[best], results, best, stopped)


def best_iteration(results: List[IterationResult], metric: str) -> int:
    """Index of the best result (the earliest among ties, so a tie never counts as beating the teacher)."""
    sign = 1.0 if higher_is_better(metric) else -1.0
    scores = [sign * result.metrics[metric] for result in results]
    return scores.index(max(scores))
