"""Contrastive pretraining of a classifier's backbone on unlabeled images (no TFX).

Two random views of every image go through the backbone and a projection
head; SimCLR's NT-Xent or Barlow Twins makes the views' projections agree.
The backbone is trained inside the full classifier built by the training
component's builders, so the saved model is a drop-in warm start, and its
head is set to a linear probe fitted on the labeled train split.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from components.contrastive import backbone, losses, probe
from components.contrastive.spec import ContrastiveConfig, LINEAR_PROBE_ACCURACY
from components.contrastive.views import OpsAugmentation
from components.training import trainer, training
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)


def projection_head(hidden_dim: int, output_dim: int) -> keras.Sequential:
    """Dense -> BN -> ReLU -> Dense: `[B, D]` embeddings to `[B, output_dim]` projections."""
    return keras.Sequential(
        [
            keras.layers.Dense(hidden_dim, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Dense(output_dim),
        ],
        name="projection_head",
    )


class ContrastiveLearner(keras.Model):
    """Encoder + projection head trained on two views per image.

    Both views go through the encoder as one `[2B, ...]` batch, so batch
    normalization sees every sample of the step (SimCLR's global BN).
    """

    def __init__(self, encoder: keras.Model, projector: keras.Model, views: keras.layers.Layer,
                 loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.projector = projector
        self.views = views
        self.loss_fn = loss_fn
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def build(self, input_shape=None):
        self.projector.build(tuple(self.encoder.output.shape))
        self.built = True

    @property
    def trained_variables(self) -> list:
        """What the optimizer updates, in the order its slots are saved (encoder, then projection head)."""
        return self.encoder.trainable_variables + self.projector.trainable_variables

    def build_for_training(self) -> None:
        """Builds the model and its compiled optimizer before `fit`.

        Resuming after a kill (Keras' BackupAndRestore) needs a built model,
        and the optimizer's slots are saved by position: building them here
        from `trained_variables` gives the same order in the killed run and
        the rerun (`model.trainable_variables` may order them otherwise).
        """
        if not self.built:
            self.build()
        if not self.optimizer.built:
            self.optimizer.build(self.trained_variables)

    def call(self, images, training=False):
        return self.projector(self.encoder(images, training=training), training=training)

    def _view(self, images):
        augment = getattr(self.views, "augment", None)
        return augment(images) if augment is not None else self.views(images, training=True)

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        both = tf.concat([self._view(images), self._view(images)], axis=0)
        with tf.GradientTape() as tape:
            first, second = tf.split(self(both, training=True), 2, axis=0)
            loss = self.loss_fn(first, second)
        variables = self.trained_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def make_loss(config: ContrastiveConfig) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    if config.method == "simclr":
        return lambda first, second: losses.nt_xent(first, second, config.temperature)
    return lambda first, second: losses.barlow_twins(first, second, config.redundancy_weight)


def pretrain(
    model: keras.Model,
    images: tf.data.Dataset,
    num_images: int,
    config: ContrastiveConfig,
    views: Optional[keras.layers.Layer] = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> Dict[str, List[float]]:
    """Trains `model`'s backbone in place on unlabeled images.

    Inside a TFX execution every finished epoch is checkpointed (encoder,
    projection head, optimizer), so a rerun after a kill resumes from the last
    one, and TensorBoard scalars go under the execution scope
    (`trainer.standard_callbacks`).

    Args:
      model: functional classifier (its layers are shared with the encoder).
      images: batched `[B,H,W,C]` float images in [0,1], B >= 2.
      num_images: images per epoch (sets the learning-rate schedule length).
      views: view augmentation; default `OpsAugmentation(config.view_steps)`.
      extra_callbacks: appended after the standard ones (resume, progress, TensorBoard).

    Returns:
      History {"loss": per-epoch mean loss}, including epochs run before a kill.
    """
    encoder = backbone.encoder_of(model, config.embedding_layer)
    views = views or OpsAugmentation(config.view_steps, seed=config.seed, name="views")
    learner = ContrastiveLearner(
        encoder, projection_head(config.projection_hidden_dim, config.projection_dim), views, make_loss(config)
    )
    steps_per_epoch = max(1, num_images // config.batch_size)
    learner.compile(optimizer=trainer.make_optimizer(config.training_config(), steps_per_epoch * config.epochs))
    learner.build_for_training()
    callbacks, resumable = trainer.standard_callbacks(config.epochs, f"contrastive-{config.method}", steps_per_epoch)
    fitted = learner.fit(images, epochs=config.epochs, callbacks=callbacks + list(extra_callbacks),
                         verbose=config.verbose)
    return trainer.fitted_history(fitted, resumable)


def unlabeled_images(
    examples_uri: str, splits, data_spec: DataSpecContent, image_size: Tuple[int, int], batch_size: int, seed: int
) -> Tuple[tf.data.Dataset, int, List[str]]:
    """Shuffled full batches of images (labels dropped) from the splits that exist; (dataset, count, splits used)."""
    parts, used, count = [], [], 0
    for split in splits:
        try:
            examples_io.split_files(examples_uri, split)
        except FileNotFoundError:
            logger.info("contrastive: split %r not found, skipped", split)
            continue
        parts.append(
            examples_io.load_split(examples_uri, split, data_spec, batch_size=256, image_size=image_size)
            .unbatch()
            .map(lambda image, label: image)
        )
        used.append(split)
        count += data_spec.split_count(split) or examples_io.count_records(examples_uri, split)
    if not parts:
        raise FileNotFoundError(f"Examples at {examples_uri} have none of the pretraining splits {list(splits)}.")
    if count < batch_size:
        raise ValueError(f"Pretraining needs at least batch_size={batch_size} images; splits {used} have {count}.")
    dataset = parts[0]
    for part in parts[1:]:
        dataset = dataset.concatenate(part)
    dataset = dataset.shuffle(min(count, 20_000), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE), count, used


def pretrain_backbone(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: ContrastiveConfig,
    views: Optional[keras.layers.Layer] = None,
) -> Tuple[keras.Model, Dict[str, List[float]], Dict[str, float]]:
    """Builds the classifier, pretrains its backbone, fits the linear probe into its head.

    With `config.pretrained_weights` the classifier's `backbone` starts from
    that local file (loaded by the training component's builder, before any
    data is read) and contrastive pretraining continues from there.

    Returns:
      (classifier with pretrained backbone and probe head, history, metrics with
      `linear_probe_accuracy` on eval when the task is classification).

    Raises:
      FileNotFoundError / ValueError: `pretrained_weights` is missing or does
        not fit the backbone (backbones.load_pretrained_weights).
    """
    keras.utils.set_random_seed(config.seed)
    training_config = config.training_config()
    image_size = training.resolve_image_size(training_config, data_spec)
    model = training.model_builder(training_config, data_spec, image_size)()
    images, count, used = unlabeled_images(
        examples_uri, config.pretrain_splits, data_spec, image_size, config.batch_size, config.seed
    )
    logger.info("contrastive: %s on %d images from %s", config.method, count, used)
    history = pretrain(model, images, count, config, views)
    metrics: Dict[str, float] = {"pretrain_images": float(count), "final_loss": history["loss"][-1]}
    if data_spec.task == features.TASK_CLASSIFICATION:
        metrics.update(fit_probe_head(model, examples_uri, data_spec, config, image_size))
    else:
        logger.warning("contrastive: no linear probe for task %r (classification only)", data_spec.task)
    return model, history, metrics


def fit_probe_head(
    model: keras.Model, examples_uri: str, data_spec: DataSpecContent, config: ContrastiveConfig, image_size
) -> Dict[str, float]:
    """Linear probe on train embeddings, scored on eval, written into the head."""
    encoder = backbone.encoder_of(model, config.embedding_layer)

    def embed(split):
        dataset = examples_io.load_split(examples_uri, split, data_spec, batch_size=256, image_size=image_size)
        return probe.embed(encoder, dataset)

    train_x, train_y = embed(features.TRAIN_SPLIT)
    eval_x, eval_y = embed(features.EVAL_SPLIT)
    fitted = probe.fit_linear_probe(
        train_x, train_y, data_spec.num_classes, eval_x, eval_y, config.probe_regularization, config.seed
    )
    if backbone.head_reads_embedding(model, config.embedding_layer):
        backbone.set_linear_head(model, fitted.kernel, fitted.bias)
    metrics = {"linear_probe_train_accuracy": fitted.train_accuracy}
    if fitted.eval_accuracy is not None:
        metrics[LINEAR_PROBE_ACCURACY] = fitted.eval_accuracy
    logger.info("contrastive: linear probe %s", metrics)
    return metrics
