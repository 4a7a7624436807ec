"""Class-conditional GAN: generator, projection discriminator, and the training steps.

The recipe follows what trains stably on small data: hinge loss, a projection
discriminator (Miyato & Koyama 2018) with spectral normalization (Miyato et
al. 2018) or an R1 gradient penalty (Mescheder et al. 2018), two time-scale
learning rates (Heusel et al. 2017) and an exponential moving average of the
generator weights for sampling. Depth grows with image size: one upsampling
stage per doubling from a 4-8 pixel base (two stages at 28 px, four at 64 px,
five at 128 px and above).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Dict, Iterator, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from components.common import progress, resume

logger = logging.getLogger(__name__)

MAX_WIDTH_MULTIPLIER = 8
HISTORY_FILE_NAME = "history.json"


def upsampling_stages(image_size: Tuple[int, int]) -> int:
    """Stages that double a 4-8 px base up to the smaller image side (at least 1)."""
    smallest = max(min(int(image_size[0]), int(image_size[1])), 2)
    return max(1, int(math.floor(math.log2(smallest / 4.0))))


def _channels(width: int, multiplier: int) -> int:
    return width * min(multiplier, MAX_WIDTH_MULTIPLIER)


def _conditional_batch_norm(x, labels, num_classes: int):
    """BatchNorm whose scale and shift are per-class embeddings (as in SNGAN/BigGAN generators)."""
    channels = x.shape[-1]
    x = keras.layers.BatchNormalization(center=False, scale=False)(x)
    scale = keras.layers.Embedding(num_classes, channels, embeddings_initializer="ones")(labels)
    shift = keras.layers.Embedding(num_classes, channels, embeddings_initializer="zeros")(labels)
    x = keras.layers.Multiply()([x, keras.layers.Reshape((1, 1, channels))(scale)])
    return keras.layers.Add()([x, keras.layers.Reshape((1, 1, channels))(shift)])


def build_generator(
    num_classes: int, image_size: Tuple[int, int], channels: int, latent_dim: int = 64, width: int = 32
) -> keras.Model:
    """DCGAN-style generator conditioned by a class embedding and class-conditional BatchNorm.

    Inputs: noise `[B, latent_dim]` float, labels `[B]` int. Output: images
    `[B, H, W, C]` in [0, 1] (sigmoid), center-cropped to `image_size`.
    """
    height, width_px = int(image_size[0]), int(image_size[1])
    stages = upsampling_stages(image_size)
    base_h, base_w = math.ceil(height / 2**stages), math.ceil(width_px / 2**stages)
    noise = keras.Input(shape=(latent_dim,), name="noise")
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    embedded = keras.layers.Embedding(num_classes, latent_dim, name="class_embedding")(labels)
    x = keras.layers.Concatenate()([noise, embedded])
    first = _channels(width, 2**stages)
    x = keras.layers.Dense(base_h * base_w * first, use_bias=False)(x)
    x = keras.layers.Reshape((base_h, base_w, first))(x)
    x = keras.layers.ReLU()(_conditional_batch_norm(x, labels, num_classes))
    for stage in range(stages):
        filters = _channels(width, 2 ** (stages - stage - 1))
        x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(_conditional_batch_norm(x, labels, num_classes))
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="image")(x)
    if (base_h * 2**stages, base_w * 2**stages) != (height, width_px):
        x = keras.layers.CenterCrop(height, width_px)(x)
    return keras.Model([noise, labels], x, name="conditional_generator")


def build_discriminator(
    num_classes: int, image_size: Tuple[int, int], channels: int, width: int = 32, spectral_norm: bool = True
) -> keras.Model:
    """Projection discriminator.

    Inputs: images `[B, H, W, C]` in [0, 1], labels `[B]` int. Outputs:
    (unconditional score `[B]`, class-conditional score `[B]`); the
    unconditional head also scores unlabeled images.
    """
    wrap = keras.layers.SpectralNormalization if spectral_norm else (lambda layer: layer)
    images = keras.Input(shape=(*image_size, channels), name="images")
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    x = keras.layers.Rescaling(2.0, offset=-1.0)(images)
    x = keras.layers.LeakyReLU(0.2)(wrap(keras.layers.Conv2D(width, 3, padding="same"))(x))
    for stage in range(upsampling_stages(image_size)):
        x = wrap(keras.layers.Conv2D(_channels(width, 2 ** (stage + 1)), 4, strides=2, padding="same"))(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    # Sum pooling (SNGAN): averaging would shrink the score range a Lipschitz-bounded network can reach.
    features = keras.ops.sum(x, axis=[1, 2])
    unconditional = keras.layers.Reshape(())(wrap(keras.layers.Dense(1))(features))
    # A bias-free Dense on one-hot labels, not an Embedding: Keras' SpectralNormalization casts its
    # output to the input dtype, which would turn an Embedding's output into int labels' dtype.
    one_hot = keras.layers.CategoryEncoding(num_classes, output_mode="one_hot")(labels)
    embedded = wrap(keras.layers.Dense(features.shape[-1], use_bias=False, name="class_projection"))(one_hot)
    projection = keras.ops.sum(embedded * features, axis=-1)
    conditional = keras.layers.Add(name="conditional_score")([unconditional, projection])
    return keras.Model([images, labels], [unconditional, conditional], name="projection_discriminator")


class GanTrainer:
    """Holds the two networks, their optimizers and the EMA generator; one call per step."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        num_classes: int,
        latent_dim: int,
        generator_learning_rate: float = 1e-4,
        discriminator_learning_rate: float = 4e-4,
        beta_1: float = 0.0,
        beta_2: float = 0.9,
        gradient_penalty_weight: float = 0.0,
        unlabeled_weight: float = 0.5,
        ema_decay: float = 0.999,
        seed: int = 0,
    ):
        self.generator = generator
        self.discriminator = discriminator
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.unlabeled_weight = float(unlabeled_weight)
        self.ema_decay = float(ema_decay)
        self.seed = int(seed)
        self.generator_optimizer = keras.optimizers.Adam(generator_learning_rate, beta_1=beta_1, beta_2=beta_2)
        self.discriminator_optimizer = keras.optimizers.Adam(discriminator_learning_rate, beta_1=beta_1, beta_2=beta_2)
        self.generator_optimizer.build(generator.trainable_variables)
        self.discriminator_optimizer.build(discriminator.trainable_variables)
        self.ema_generator = keras.models.clone_model(generator)
        self.ema_generator.set_weights(generator.get_weights())
        self._ema_updates = tf.Variable(0, dtype=tf.int64, trainable=False)

    def _fakes(self, batch_size, step, training: bool):
        """Generated images `[B,H,W,C]` and their conditioning labels `[B]` for one step."""
        noise = tf.random.stateless_normal([batch_size, self.latent_dim], seed=tf.stack([self.seed, step]))
        labels = tf.random.stateless_uniform(
            [batch_size], seed=tf.stack([self.seed + 1, step]), maxval=self.num_classes, dtype=tf.int32
        )
        return self.generator([noise, labels], training=training), labels

    @tf.function
    def discriminator_step(self, real_images, real_labels, step, unlabeled_images=None) -> Dict[str, tf.Tensor]:
        """Hinge loss on (real, label) vs (generated, conditioning label); R1 penalty when weighted."""
        fake_images, fake_labels = self._fakes(tf.shape(real_images)[0], step, training=True)
        with tf.GradientTape() as tape:
            real_uncond, real_cond = self.discriminator([real_images, real_labels], training=True)
            fake_uncond, fake_cond = self.discriminator([fake_images, fake_labels], training=True)
            loss = tf.reduce_mean(tf.nn.relu(1.0 - real_cond)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_cond))
            if unlabeled_images is not None:
                no_labels = tf.zeros([tf.shape(unlabeled_images)[0]], tf.int32)
                unlabeled_uncond, _ = self.discriminator([unlabeled_images, no_labels], training=True)
                loss += self.unlabeled_weight * (
                    tf.reduce_mean(tf.nn.relu(1.0 - unlabeled_uncond)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_uncond))
                )
            penalty = tf.constant(0.0)
            if self.gradient_penalty_weight > 0:
                penalty = self._r1_penalty(real_images, real_labels)
                loss += 0.5 * self.gradient_penalty_weight * penalty
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {"discriminator_loss": loss, "r1_penalty": penalty}

    def _r1_penalty(self, real_images, real_labels) -> tf.Tensor:
        with tf.GradientTape() as inner:
            inner.watch(real_images)
            _, scores = self.discriminator([real_images, real_labels], training=True)
            total = tf.reduce_sum(scores)
        gradients = inner.gradient(total, real_images)
        return tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))

    @tf.function
    def generator_step(self, batch_size, step, use_unconditional: bool = False) -> Dict[str, tf.Tensor]:
        """Hinge generator loss `-D(G(z, y), y)` (plus the unconditional head when unlabeled data trains it)."""
        with tf.GradientTape() as tape:
            fake_images, fake_labels = self._fakes(batch_size, step + 1_000_003, training=True)
            # training=False: the discriminator is fixed here (its spectral-norm power iteration must not step).
            fake_uncond, fake_cond = self.discriminator([fake_images, fake_labels], training=False)
            loss = -tf.reduce_mean(fake_cond)
            if use_unconditional:
                loss -= self.unlabeled_weight * tf.reduce_mean(fake_uncond)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {"generator_loss": loss}

    @tf.function
    def update_ema(self) -> None:
        """EMA of generator weights (moving BN statistics included), warmed up over the first steps."""
        self._ema_updates.assign_add(1)
        count = tf.cast(self._ema_updates, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + count) / (10.0 + count))
        for averaged, current in zip(self.ema_generator.weights, self.generator.weights):
            averaged.assign(decay * averaged + (1.0 - decay) * current)


class GanCheckpoint:
    """Every piece of GAN training state, saved at a step and restored by a rerun after a kill.

    Both networks, the EMA generator, both optimizers (slots and step
    counts), the EMA warm-up counter and the step reached go into one
    tf.train.Checkpoint; the losses logged so far go beside it
    (`history.json`, written before the checkpoint, so a restore keeps only
    the windows the checkpoint covers).
    """

    def __init__(self, trainer: GanTrainer, directory: str):
        self.directory = directory
        self.history_path = os.path.join(directory, HISTORY_FILE_NAME)
        self._step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._checkpoint = tf.train.Checkpoint(
            generator=trainer.generator, discriminator=trainer.discriminator, ema_generator=trainer.ema_generator,
            generator_optimizer=trainer.generator_optimizer, discriminator_optimizer=trainer.discriminator_optimizer,
            ema_updates=trainer._ema_updates, step=self._step,
        )
        self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=1)

    def restore(self) -> Tuple[int, Optional[Dict[str, List[float]]]]:
        """(steps done, history so far) from the latest checkpoint, or (0, None) when there is none.

        Raises:
          ValueError: the checkpoint was written for other networks (another config).
        """
        latest = self._manager.latest_checkpoint
        if latest is None:
            return 0, None
        try:
            self._checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]  # TF's first line says which.
            raise ValueError(
                f"The GAN resume checkpoint {latest} does not fit these networks ({reason}). "
                f"Delete {self.directory} to train from scratch."
            ) from error
        done = int(self._step.numpy())
        history = None
        if tf.io.gfile.exists(self.history_path):
            with tf.io.gfile.GFile(self.history_path) as handle:
                saved = json.loads(handle.read())
            covered = sum(1 for step in saved["step"] if step <= done)
            history = {key: list(values)[:covered] for key, values in saved.items()}
        logger.info("gan: resuming after step %d from %s", done, self.directory)
        return done, history

    def save(self, done: int, history: Dict[str, List[float]]) -> None:
        tf.io.gfile.makedirs(self.directory)
        with tf.io.gfile.GFile(self.history_path, "w") as handle:
            handle.write(json.dumps(history))
        self._step.assign(done)
        self._manager.save(checkpoint_number=done)

    def remove(self, remove_empty_parent: bool = False) -> None:
        """Deletes the checkpoint (training finished: nothing is left to resume)."""
        if tf.io.gfile.exists(self.directory):
            tf.io.gfile.rmtree(self.directory)
        parent = os.path.dirname(self.directory.rstrip("/"))
        if remove_empty_parent and tf.io.gfile.isdir(parent) and not tf.io.gfile.listdir(parent):
            tf.io.gfile.rmtree(parent)


def train_gan(
    trainer: GanTrainer,
    labeled_batches: Iterator,
    steps: int,
    unlabeled_batches: Optional[Iterator] = None,
    log_every_steps: int = 100,
    checkpoint_dir: Optional[str] = None,
    log_dir: Optional[str] = None,
) -> Dict[str, List[float]]:
    """Alternating D/G steps; returns losses averaged over each logging window.

    At the end of every logging window the whole training state is
    checkpointed, so a rerun after a kill continues from the last window
    (the data iterators start over; noise and conditioning labels depend on
    the step only, so they continue exactly). Window losses also go to
    TensorBoard, and progress to the execution's progress file.

    Args:
      labeled_batches: yields `(images [B,H,W,C] float in [0,1], labels [B] int)`.
      unlabeled_batches: optional, yields `(images, ...)` for the unconditional head.
      checkpoint_dir: where the state is saved; None: inside a TFX execution
        a folder stable across the killed execution and its rerun
        (`resume.current_scope()`), else none. "" turns it off. Removed when
        training ends.
      log_dir: TensorBoard folder; None: inside a TFX execution the scope's,
        else none. "" turns it off.

    Returns:
      {"step", "discriminator_loss", "generator_loss", "seconds"}: one entry
      per logging window, including windows run before a kill.
    """
    scope = resume.current_scope()
    label = scope.next_fit_label("gan") if scope else "gan"
    from_scope = checkpoint_dir is None and scope is not None
    if checkpoint_dir is None:
        checkpoint_dir = scope.checkpoint_dir(label) if scope else ""
    if log_dir is None:
        log_dir = scope.tensorboard_dir(label) if scope else ""
    state = GanCheckpoint(trainer, checkpoint_dir) if checkpoint_dir else None
    first_step, history = state.restore() if state else (0, None)
    history = history or {"step": [], "discriminator_loss": [], "generator_loss": [], "seconds": []}
    window: Dict[str, List[float]] = {"discriminator_loss": [], "generator_loss": []}
    writer = progress.scalar_writer(log_dir)
    reporter = progress.ProgressReporter("gan", steps, unit="step", initial=first_step)
    earlier_seconds = history["seconds"][-1] if history["seconds"] else 0.0
    start = time.perf_counter()
    try:
        for step in range(first_step, steps):
            images, labels = next(labeled_batches)[:2]
            unlabeled = next(unlabeled_batches)[0] if unlabeled_batches is not None else None
            step_tensor = tf.constant(step, tf.int32)
            d_out = trainer.discriminator_step(images, tf.cast(labels, tf.int32), step_tensor, unlabeled)
            g_out = trainer.generator_step(tf.shape(images)[0], step_tensor, unlabeled is not None)
            trainer.update_ema()
            window["discriminator_loss"].append(float(d_out["discriminator_loss"]))
            window["generator_loss"].append(float(g_out["generator_loss"]))
            reporter.update(1)
            if (step + 1) % max(log_every_steps, 1) == 0 or step + 1 == steps:
                elapsed = earlier_seconds + time.perf_counter() - start
                history["step"].append(step + 1)
                history["seconds"].append(elapsed)
                for key, values in window.items():
                    history[key].append(float(np.mean(values)))
                    values.clear()
                progress.write_scalars(writer, step + 1, {key: history[key][-1] for key in window})
                if state is not None:
                    state.save(step + 1, history)
                logger.info(
                    "gan step %d/%d: discriminator_loss=%.4f generator_loss=%.4f (%.1fs)",
                    step + 1, steps, history["discriminator_loss"][-1], history["generator_loss"][-1], elapsed,
                )
    except BaseException:
        reporter.close(finished=False)
        raise
    finally:
        if writer is not None:
            writer.close()
    reporter.close(finished=True)
    if state is not None:
        state.remove(remove_empty_parent=from_scope)
    return history


def sample_images(
    generator: keras.Model, labels: np.ndarray, latent_dim: int, seed: int, batch_size: int = 256
) -> np.ndarray:
    """Images `[N,H,W,C]` float32 in [0,1] generated for the requested class ids `labels` `[N]`."""
    labels = np.asarray(labels, dtype=np.int32)
    noise = tf.random.stateless_normal([len(labels), latent_dim], seed=[seed, 7]).numpy()
    batches = [
        np.asarray(generator([noise[i : i + batch_size], labels[i : i + batch_size]], training=False))
        for i in range(0, len(labels), batch_size)
    ]
    return np.concatenate(batches).astype(np.float32)


def generate_per_class(
    generator: keras.Model, num_classes: int, per_class: int, latent_dim: int, seed: int
) -> Tuple[np.ndarray, np.ndarray]:
    """`per_class` images of every class: (images `[K*n,H,W,C]`, labels `[K*n]`, class-major order)."""
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)
    return sample_images(generator, labels, latent_dim, seed), labels
