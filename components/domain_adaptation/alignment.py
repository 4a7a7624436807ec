"""Feature alignment between a labeled source and an unlabeled target domain: CORAL and DANN.

Both fine-tune a source classifier on labeled source batches while a second
loss pulls source and target embeddings together:
- CORAL (Sun & Saenko, 2016): squared Frobenius distance between the two
  domains' embedding covariances, / (4 d^2).
- DANN (Ganin et al., 2016): a domain classifier on the embeddings, trained
  through a gradient-reversal layer, so the backbone learns features the
  domain classifier cannot tell apart. The reversal weight ramps from 0 to 1
  as 2 / (1 + exp(-10 p)) - 1 over training progress p.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

CORAL = "coral"
DANN = "dann"
ALIGNMENTS = (CORAL, DANN)


def coral_loss(source: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """CORAL distance of two embedding batches `[Bs, D]`, `[Bt, D]` (each B >= 2); scalar."""

    def covariance(features):
        count = tf.cast(tf.shape(features)[0], features.dtype)
        centered = features - tf.reduce_mean(features, axis=0, keepdims=True)
        return tf.matmul(centered, centered, transpose_a=True) / (count - 1.0)

    dimensions = tf.cast(tf.shape(source)[1], source.dtype)
    return tf.reduce_sum(tf.square(covariance(source) - covariance(target))) / (4.0 * dimensions * dimensions)


@tf.custom_gradient
def reverse_gradient(features: tf.Tensor, weight: tf.Tensor):
    """Identity forward; gradient multiplied by -weight backward (weight gets none)."""

    def backward(upstream):
        return -weight * upstream, tf.zeros_like(weight)

    return tf.identity(features), backward


def dann_weight(progress: tf.Tensor) -> tf.Tensor:
    """Reversal weight at training progress in [0, 1]: 2 / (1 + exp(-10 p)) - 1."""
    return 2.0 / (1.0 + tf.exp(-10.0 * progress)) - 1.0


def domain_classifier(hidden_dim: int = 64) -> keras.Sequential:
    return keras.Sequential(
        [keras.layers.Dense(hidden_dim, activation="relu"), keras.layers.Dense(1)], name="domain_classifier"
    )


class AlignmentLearner(keras.Model):
    """Trains `classifier` on source labels plus an alignment loss on (source, target) embeddings.

    Source and target images go through the network as one batch, so batch
    normalization normalizes both domains together.

    Data: `((source_images [B,H,W,C], source_targets [B,K]), target_images [B,H,W,C])`.
    """

    def __init__(self, classifier: keras.Model, encoder: keras.Model, method: str, alignment_weight: float,
                 total_steps: int, **kwargs):
        super().__init__(**kwargs)
        if method not in ALIGNMENTS:
            raise ValueError(f"Unknown alignment {method!r}; expected one of {ALIGNMENTS}.")
        self.classifier = classifier
        self.two_outputs = keras.Model(classifier.inputs, [encoder.output, classifier.output])
        self.method = method
        self.alignment_weight = float(alignment_weight)
        self.total_steps = max(int(total_steps), 1)
        self.domain_head = domain_classifier() if method == DANN else None
        self.classification_loss = keras.losses.CategoricalCrossentropy()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "classification", "alignment")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        return self.classifier(images, training=training)

    @property
    def trained_variables(self) -> list:
        """What the optimizer updates, in the order its slots are saved (classifier, then domain head)."""
        variables = self.classifier.trainable_variables
        return variables + self.domain_head.trainable_variables if self.domain_head is not None else variables

    def build_for_training(self) -> None:
        """Builds the domain head, the model and its compiled optimizer before `fit`.

        Resuming after a kill (Keras' BackupAndRestore) restores into built
        variables only, and the optimizer's slots are saved by position:
        building them here from `trained_variables` gives the same order in
        the killed run and the rerun.
        """
        if self.domain_head is not None and not self.domain_head.built:
            self.domain_head.build((None, int(self.two_outputs.outputs[0].shape[-1])))
        self.built = True
        if not self.optimizer.built:
            self.optimizer.build(self.trained_variables)

    def _alignment(self, source_features, target_features):
        if self.method == CORAL:
            return coral_loss(source_features, target_features)
        progress = tf.cast(self.optimizer.iterations, tf.float32) / float(self.total_steps)
        weight = dann_weight(tf.minimum(progress, 1.0))
        features = reverse_gradient(tf.concat([source_features, target_features], axis=0), weight)
        logits = self.domain_head(features, training=True)
        domains = tf.concat([tf.zeros_like(source_features[:, :1]), tf.ones_like(target_features[:, :1])], axis=0)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=domains, logits=logits))

    def train_step(self, data):
        (source_images, source_targets), target_images = data
        count = tf.shape(source_images)[0]
        with tf.GradientTape() as tape:
            features, probabilities = self.two_outputs(tf.concat([source_images, target_images], 0), training=True)
            classification = self.classification_loss(source_targets, probabilities[:count])
            alignment = self._alignment(features[:count], features[count:])
            loss = classification + self.alignment_weight * alignment
        variables = self.trained_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        for name, value in (("loss", loss), ("classification", classification), ("alignment", alignment)):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def paired_batches(source: tf.data.Dataset, target: tf.data.Dataset, batch_size: int, seed: int,
                   source_count: int, target_count: int) -> tuple:
    """Zips shuffled, repeated source `(image, target)` and target images into equal batches.

    Returns:
      (dataset, steps per epoch = one pass over the larger domain).
    """
    source = source.shuffle(min(source_count, 20_000), seed=seed).repeat()
    target = target.shuffle(min(target_count, 20_000), seed=seed + 1).repeat()
    steps = max(1, math.ceil(max(source_count, target_count) / batch_size))
    dataset = tf.data.Dataset.zip((source.batch(batch_size, drop_remainder=True),
                                   target.batch(batch_size, drop_remainder=True)))
    return dataset.prefetch(tf.data.AUTOTUNE), steps
