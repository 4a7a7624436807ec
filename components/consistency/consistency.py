"""A FixMatch-family training run on canonical Examples (no TFX): data, epochs, evidence, resume.

Each epoch runs `steps_per_epoch` FixMatch steps (fixmatch.FixMatchStep) on
labeled `train` batches and `unlabeled` (plus, by default, train) images,
then measures on the `eval` split:
  * the EMA model's accuracy and loss (the model that is exported);
  * the pseudo-labeler's behaviour, with eval treated as unlabeled: the
    share of images whose (unaugmented) prediction passes its threshold
    (`pseudo_label_rate`) and how often those pseudo-labels are right
    (`pseudo_label_accuracy`);
and saves a checkpoint of everything a rerun needs to continue after the
last finished epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Dict, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from components.common import progress
from components.consistency import checkpoint, fixmatch, mirror_check, thresholds, views
from components.consistency.spec import ConsistencyConfig
from components.training import fine_tuning, training
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

# Decoded images are cached as uint8 (a quarter of float32); pools above this many pixels stream instead.
CACHE_LIMIT_VALUES = 2_000_000_000
# The mirror check trains on at most this many labeled images, drawn at random through a shuffle buffer this big.
MIRROR_CHECK_TRAIN_IMAGES = 4096
MIRROR_CHECK_MAX_VALUES = 250_000_000  # ... and at most ~1 GB of float pixels (1,660 images at 224x224x3)
MIRROR_CHECK_SHUFFLE_BUFFER = 20_000


@dataclasses.dataclass
class ConsistencyRun:
    """Outcome: the model holding the EMA weights, its eval metrics, the per-epoch history, the config as it ran."""

    model: keras.Model
    config: ConsistencyConfig  # as it ran: weak_flip decided (True/False), never None
    metrics: Dict[str, float]
    history: List[Dict[str, object]]
    views: dict
    steps_per_epoch: int
    num_labeled: int
    num_unlabeled: int
    resumed_epochs: int = 0
    unfrozen_at_epoch: Optional[int] = None  # fine_tune: the 0-based epoch the backbone was unfrozen at
    mirror_check: Optional[Dict[str, object]] = None  # mirror_check.MirrorCheck.to_dict() when the data decided


def split_exists(examples_uri: str, split: str) -> bool:
    try:
        examples_io.split_files(examples_uri, split)
        return True
    except FileNotFoundError:
        return False


def count_split(examples_uri: str, split: str, data_spec: DataSpecContent) -> int:
    return data_spec.split_count(split) or examples_io.count_records(examples_uri, split)


def _images(examples_uri, split, data_spec, image_size, with_labels: bool):
    dataset = examples_io.load_split(examples_uri, split, data_spec, batch_size=256, image_size=image_size).unbatch()
    to_bytes = lambda image: tf.cast(tf.round(image * 255.0), tf.uint8)  # noqa: E731
    if with_labels:
        return dataset.map(lambda image, label: (to_bytes(image), label))
    return dataset.map(lambda image, label: to_bytes(image))


def _maybe_cache(dataset: tf.data.Dataset, count: int, image_size, channels: int) -> tf.data.Dataset:
    return dataset.cache() if count * image_size[0] * image_size[1] * channels <= CACHE_LIMIT_VALUES else dataset


def _as_float(image):
    return tf.cast(image, tf.float32) / 255.0


class Pools:
    """The labeled pool `(image, label)` and the unlabeled pool `(index, image)`, decoded once and cached."""

    def __init__(self, examples_uri: str, data_spec: DataSpecContent, config: ConsistencyConfig, image_size):
        self.config = config
        if not split_exists(examples_uri, features.TRAIN_SPLIT):
            raise ValueError(f"Consistency training needs labeled images: Examples at {examples_uri} have no "
                             f"{features.TRAIN_SPLIT!r} split.")
        self.num_labeled = count_split(examples_uri, features.TRAIN_SPLIT, data_spec)
        labeled = _images(examples_uri, features.TRAIN_SPLIT, data_spec, image_size, with_labels=True)
        unlabeled_parts, self.num_unlabeled = [], 0
        if split_exists(examples_uri, config.unlabeled_split):
            unlabeled_parts.append(_images(examples_uri, config.unlabeled_split, data_spec, image_size, False))
            self.num_unlabeled += count_split(examples_uri, config.unlabeled_split, data_spec)
        else:
            logger.warning("consistency: Examples at %s have no %r split; only the labeled images serve as unlabeled",
                           examples_uri, config.unlabeled_split)
        if config.include_labeled_in_unlabeled or not unlabeled_parts:
            unlabeled_parts.append(labeled.map(lambda image, label: image))
            self.num_unlabeled += self.num_labeled
        if self.num_labeled < 1:
            raise ValueError(f"Split {features.TRAIN_SPLIT!r} of Examples at {examples_uri} has no images.")
        unlabeled = unlabeled_parts[0]
        for part in unlabeled_parts[1:]:
            unlabeled = unlabeled.concatenate(part)
        channels = data_spec.channels
        self.labeled = _maybe_cache(labeled, self.num_labeled, image_size, channels)
        self.unlabeled = _maybe_cache(unlabeled.enumerate(), self.num_unlabeled, image_size, channels)

    def epoch_batches(self, epoch: int) -> tf.data.Dataset:
        """Endless `((labeled [B], labels [B]), (indices [muB], unlabeled [muB]))`, shuffled by (seed, epoch)."""
        config, seed = self.config, self.config.seed * 100_003 + epoch
        labeled = (self.labeled.shuffle(min(self.num_labeled, 50_000), seed=seed).repeat()
                   .map(lambda image, label: (_as_float(image), tf.cast(label, tf.int32)))
                   .batch(config.batch_size, drop_remainder=True))
        unlabeled = (self.unlabeled.shuffle(min(self.num_unlabeled, 50_000), seed=seed + 1).repeat()
                     .map(lambda index, image: (tf.cast(index, tf.int32), _as_float(image)))
                     .batch(config.unlabeled_batch_size, drop_remainder=True))
        return tf.data.Dataset.zip(labeled, unlabeled).prefetch(2)


def steps_per_epoch(config: ConsistencyConfig, num_unlabeled: int) -> int:
    """The configured steps, else one pass over the unlabeled pool: ceil(N_u / (mu B))."""
    return config.steps_per_epoch or max(1, math.ceil(num_unlabeled / config.unlabeled_batch_size))


def train_epoch(
    step: fixmatch.FixMatchStep, batches: tf.data.Dataset, num_steps: int,
    reporter: Optional[progress.ProgressReporter] = None,
) -> Dict[str, float]:
    """Runs `num_steps` steps; returns the mean of each step metric."""
    totals: Dict[str, float] = {}
    for (labeled, labels), (indices, unlabeled) in batches.take(num_steps):
        for name, value in step(labeled, labels, unlabeled, indices).items():
            totals[name] = totals.get(name, 0.0) + float(value)
        if reporter is not None:
            reporter.update(1)
    return {name: value / num_steps for name, value in totals.items()}


def labeled_arrays(examples_uri: str, data_spec: DataSpecContent, image_size, batch_size: int,
                split: str = features.EVAL_SPLIT, limit: Optional[int] = None, seed: int = 0):
    """A split (default eval) as (images float `[N,H,W,C]`, labels `[N]`), its labeled records only.

    `limit`: at most this many records, drawn at random (seeded) from the split, whatever its order.
    """
    dataset = examples_io.load_split(examples_uri, split, data_spec, batch_size=batch_size, image_size=image_size)
    if limit is not None:
        dataset = dataset.unbatch().shuffle(max(limit, MIRROR_CHECK_SHUFFLE_BUFFER), seed=seed).take(limit)
        dataset = dataset.batch(batch_size)
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    images, labels = np.concatenate(images), np.concatenate(labels)
    return images[labels >= 0], labels[labels >= 0]


def resolve_weak_flip(
    config: ConsistencyConfig, policy, examples_uri: str, data_spec: DataSpecContent, image_size,
    eval_split, decided: Optional[Dict[str, object]] = None,
) -> Tuple[ConsistencyConfig, Optional[Dict[str, object]]]:
    """(config with weak_flip True/False, the mirror check's evidence or None).

    `weak_flip` None: with a policy, the policy decides (views mirror only if
    it holds flip_left_right); without one, `mirror_check` measures whether
    mirroring keeps labels on this data. `decided`: the check a resumed run
    already made (from its checkpoint), reused as is.
    """
    if config.weak_flip is not None:
        return config, None
    if policy is not None:
        return dataclasses.replace(config, weak_flip=True), None
    if decided is None:
        values_per_image = int(image_size[0]) * int(image_size[1]) * data_spec.channels
        limit = max(1, min(MIRROR_CHECK_TRAIN_IMAGES, MIRROR_CHECK_MAX_VALUES // values_per_image))
        train_images, train_labels = labeled_arrays(
            examples_uri, data_spec, image_size, config.eval_batch_size, features.TRAIN_SPLIT, limit=limit,
            seed=config.seed)
        decided = mirror_check.check_mirroring(
            lambda: training.model_builder(config.training_config(), data_spec, image_size)(),
            train_images, train_labels, *eval_split, data_spec.num_classes, config.seed,
        ).to_dict()
    return dataclasses.replace(config, weak_flip=bool(decided["mirror"])), decided


def predict(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(model(images[i: i + batch_size], training=False))
                           for i in range(0, len(images), batch_size)])


def evaluate(probabilities: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    """Accuracy and mean cross-entropy of probabilities `[N, K]` against int labels `[N]`."""
    picked = probabilities[np.arange(len(labels)), labels]
    return {"accuracy": float(np.mean(np.argmax(probabilities, -1) == labels)),
            "loss": float(np.mean(-np.log(np.clip(picked, fixmatch.EPSILON, 1.0))))}


def pseudo_label_evidence(
    step: fixmatch.FixMatchStep, probabilities: np.ndarray, labels: np.ndarray
) -> Dict[str, float]:
    """Eval treated as unlabeled: share passing the current thresholds and accuracy of those pseudo-labels."""
    pseudo, mask = step.pseudo_labels(tf.constant(probabilities), tf.zeros([len(labels)], tf.int32), update=False)
    mask = np.asarray(mask) > 0
    correct = np.asarray(pseudo) == labels
    return {"pseudo_label_rate": float(mask.mean()),
            "pseudo_label_accuracy": float(correct[mask].mean()) if mask.any() else float("nan"),
            "raw_model_accuracy": float(correct.mean())}


def warm_start_from(model: keras.Model, source: keras.Model) -> int:
    """Copies weights of layers whose names and weight shapes match; raises when none do."""
    by_name = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in model.layers:
        match = by_name.get(layer.name)
        if match is not None and layer.weights and \
                [tuple(w.shape) for w in layer.weights] == [tuple(w.shape) for w in match.weights]:
            layer.set_weights(match.get_weights())
            copied += 1
    if not copied:
        raise ValueError(
            f"Warm start model {source.name!r} shares no layer (same name and shapes) with {model.name!r}."
        )
    logger.info("consistency: warm start copied %d layers from %s", copied, source.name)
    return copied


def _state_groups(step: fixmatch.FixMatchStep) -> Dict[str, list]:
    return {
        "model": list(step.model.weights),
        "ema": step.ema.variables(),
        "optimizer": list(step.optimizer.variables),
        "thresholds": step.thresholds.variables(),
        "alignment": step.alignment.variables() if step.alignment is not None else [],
    }


def run_epoch(
    step: fixmatch.FixMatchStep, pools: Pools, epoch: int, num_steps: int, eval_split, config: ConsistencyConfig,
    reporter: Optional[progress.ProgressReporter] = None,
) -> Dict[str, object]:
    """Trains one epoch, then measures the EMA model and the pseudo-labeler on eval; returns the epoch's record."""
    started = time.time()
    eval_images, eval_labels = eval_split
    record: Dict[str, object] = {"epoch": epoch + 1}
    record.update(train_epoch(step, pools.epoch_batches(epoch), num_steps, reporter))
    record["train_seconds"] = time.time() - started
    record["learning_rate"] = float(step.optimizer.learning_rate)
    record.update(step.thresholds.stats())
    record["class_thresholds"] = [float(v) for v in step.thresholds.class_thresholds().numpy()]
    record.update(pseudo_label_evidence(step, predict(step.model, eval_images, config.eval_batch_size), eval_labels))
    with step.ema.applied() as averaged:
        scores = evaluate(predict(averaged, eval_images, config.eval_batch_size), eval_labels)
    record.update({f"eval_{name}": value for name, value in scores.items()})
    record["seconds"] = time.time() - started
    return record


def build_classifier(
    config: ConsistencyConfig, data_spec: DataSpecContent, image_size: Tuple[int, int],
    warm_start: Optional[keras.Model] = None,
) -> keras.Model:
    """The classifier as Training builds it: `pretrained_weights` in its backbone, then the warm start's layers.

    Raises:
      FileNotFoundError / ValueError: `pretrained_weights` is missing or does not fit the backbone
        (components/training/backbones.load_pretrained_weights); the warm start shares no layer.
    """
    model = training.model_builder(config.training_config(), data_spec, image_size)()
    if warm_start is not None:
        warm_start_from(model, warm_start)
    return model


def build_step(
    config: ConsistencyConfig, model: keras.Model, data_spec: DataSpecContent, num_unlabeled: int,
    total_steps: int, policy=None,
) -> fixmatch.FixMatchStep:
    """The model, optimizer, views, thresholds, alignment and EMA wired into one step."""
    optimizer = fixmatch.make_optimizer(config.optimizer, config.learning_rate, config.weight_decay, total_steps)
    optimizer.build(model.trainable_variables)
    state = thresholds.make_thresholds(
        config.threshold_mode, data_spec.num_classes, config.threshold, num_unlabeled, config.threshold_momentum)
    alignment = None
    if config.distribution_alignment:
        prior = thresholds.labeled_prior(data_spec.class_counts(features.TRAIN_SPLIT), data_spec.num_classes)
        alignment = thresholds.DistributionAlignment(prior, config.threshold_momentum)
    pair = views.make_views(policy, config.weak_flip, config.weak_translate, config.strong_num_ops,
                            config.strong_magnitude, config.cutout)
    ema = fixmatch.WeightAverage(model, config.ema_decay)
    return fixmatch.FixMatchStep(model, optimizer, pair, state, ema, alignment, config.lambda_u, config.seed)


def run_consistency_training(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: ConsistencyConfig,
    work_dir: str,
    policy=None,
    warm_start: Optional[keras.Model] = None,
    log_dir: str = "",
) -> ConsistencyRun:
    """Trains (or resumes) a FixMatch run; returns the model holding the EMA weights and the evidence.

    Args:
      policy: the augmentation search's augment_ops Policy (restricts the views), or None.
      warm_start: a model whose same-named layers initialise the classifier (after `pretrained_weights`).
      work_dir: where the per-epoch checkpoint lives; a rerun continues after its last epoch.
      log_dir: TensorBoard folder for every epoch's numeric evidence ("" : none).

    Raises:
      ValueError: for a non-classification DataSpec, a missing train split,
        `pretrained_weights` that do not fit the backbone, or a checkpoint
        that does not fit this model.
      FileNotFoundError: `pretrained_weights` does not exist.
    """
    if data_spec.task != features.TASK_CLASSIFICATION:
        raise ValueError(f"Consistency training trains single-label classifiers; the DataSpec's task is "
                         f"{data_spec.task!r}.")
    keras.utils.set_random_seed(config.seed)
    image_size = training.resolve_image_size(config.training_config(), data_spec)
    model = build_classifier(config, data_spec, image_size, warm_start)  # A bad weights file fails before any data.
    pools = Pools(examples_uri, data_spec, config, image_size)
    num_steps = steps_per_epoch(config, pools.num_unlabeled)
    eval_images, eval_labels = labeled_arrays(examples_uri, data_spec, image_size, config.eval_batch_size)
    if not len(eval_labels):
        raise ValueError(f"Split {features.EVAL_SPLIT!r} of Examples at {examples_uri} has no labeled images.")
    saved = checkpoint.load(work_dir)
    config, mirror = resolve_weak_flip(config, policy, examples_uri, data_spec, image_size, (eval_images, eval_labels),
                                       saved[1].get("mirror_check") if saved is not None else None)
    keras.utils.set_random_seed(config.seed)  # Training draws alike whether or not the check ran before it.
    step = build_step(config, model, data_spec, pools.num_unlabeled, num_steps * config.epochs, policy)
    phases = fine_tuning.schedule_phases(config.fine_tune, config.epochs, step.model, step.optimizer, step.retrace)
    history: List[Dict[str, object]] = []
    if saved is not None:
        checkpoint.restore(saved[0], _state_groups(step), checkpoint.checkpoint_path(work_dir))
        history = saved[1]["history"]
        logger.info("consistency: resumed after epoch %d/%d from %s", len(history), config.epochs, work_dir)
    resumed = len(history)
    logger.info("consistency: %d labeled, %d unlabeled images, %d steps/epoch (B=%d, mu=%d), thresholds %s",
                pools.num_labeled, pools.num_unlabeled, num_steps, config.batch_size, config.mu, config.threshold_mode)
    reporter = progress.ProgressReporter("consistency", config.epochs * num_steps, unit="step",
                                         initial=resumed * num_steps)
    writer = progress.scalar_writer(log_dir)  # a resumed run appends to the same folder
    if phases is not None:
        phases.start()  # The optimizer already knows every variable (build_step), so unfreezing needs no rebuild.
    try:
        for epoch in range(resumed, config.epochs):
            if phases is not None:
                phases.begin_epoch(epoch)  # From warmup_epochs on (also when resumed past it): unfrozen, slower.
            history.append(run_epoch(step, pools, epoch, num_steps, (eval_images, eval_labels), config, reporter))
            if phases is not None:
                history[-1]["backbone_frozen"] = not phases.backbone.trainable
            progress.write_scalars(writer, epoch + 1, history[-1])
            checkpoint.save(work_dir, _state_groups(step),
                            {"history": history, "epochs": config.epochs, "mirror_check": mirror})
            reporter.set((epoch + 1) * num_steps, log=False, force_write=True)
            reporter.mark_logged()
            logger.info("consistency epoch %d/%d: %s; elapsed %s, ETA %s", epoch + 1, config.epochs,
                        ", ".join(f"{k}={v:.4f}" for k, v in history[-1].items() if isinstance(v, float)),
                        progress.format_duration(reporter.elapsed), progress.format_duration(reporter.eta))
    except BaseException:
        reporter.close(finished=False)
        raise
    finally:
        if writer is not None:
            writer.close()
    reporter.close(finished=True)
    step.ema.copy_to_model()
    last = history[-1]
    metrics = {name: last[name] for name in (
        "eval_accuracy", "eval_loss", "pseudo_label_rate", "pseudo_label_accuracy", "threshold_min",
        "threshold_mean", "threshold_max", "mask_rate")}
    return ConsistencyRun(step.model, config, metrics, history, step.views.describe(), num_steps, pools.num_labeled,
                          pools.num_unlabeled, resumed, phases.unfrozen_at_epoch if phases is not None else None,
                          mirror)
