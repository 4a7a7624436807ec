"""Self-supervised losses on two views' projections: SimCLR's NT-Xent and Barlow Twins.

Both take projections `z1, z2` of shape `[B, D]` where row i of `z1` and row
i of `z2` come from two views of the same image.
"""

from __future__ import annotations

import tensorflow as tf

# Added to the per-dimension standard deviation (Barlow Twins) so a constant
# feature does not divide by zero.
STD_EPSILON = 1e-5


def nt_xent(z1: tf.Tensor, z2: tf.Tensor, temperature: float = 0.5) -> tf.Tensor:
    """Normalized-temperature cross entropy (SimCLR).

    Each of the 2B projections is an anchor whose positive is the other view
    of its image and whose negatives are the other 2B-2 projections; the loss
    is the mean cross entropy over the 2B anchors of the softmax of cosine
    similarities / temperature (the anchor itself is left out).

    Args:
      z1, z2: `[B, D]` projections of the two views.
      temperature: softmax temperature (> 0).

    Returns:
      Scalar loss.
    """
    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=1)  # [2B, D]
    batch_size = tf.shape(z1)[0]
    similarities = tf.matmul(z, z, transpose_b=True) / temperature  # [2B, 2B]
    # A large negative on the diagonal removes the anchor from its own softmax.
    similarities -= tf.eye(2 * batch_size, dtype=similarities.dtype) * 1e9
    positives = tf.concat([tf.range(batch_size, 2 * batch_size), tf.range(batch_size)], axis=0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=positives, logits=similarities)
    return tf.reduce_mean(losses)


def _standardize(z: tf.Tensor) -> tf.Tensor:
    mean, variance = tf.nn.moments(z, axes=[0])
    return (z - mean) / (tf.sqrt(variance) + STD_EPSILON)


def barlow_twins(z1: tf.Tensor, z2: tf.Tensor, redundancy_weight: float = 5e-3) -> tf.Tensor:
    """Barlow Twins: the views' cross-correlation matrix pushed to the identity.

    With `C = standardize(z1)^T standardize(z2) / B` (`[D, D]`, each feature
    standardized over the batch with the population standard deviation), the
    loss is `sum_i (1 - C_ii)^2 + redundancy_weight * sum_{i != j} C_ij^2`.

    Args:
      z1, z2: `[B, D]` projections of the two views (B >= 2).
      redundancy_weight: lambda, the off-diagonal weight.

    Returns:
      Scalar loss.
    """
    batch_size = tf.cast(tf.shape(z1)[0], z1.dtype)
    correlation = tf.matmul(_standardize(z1), _standardize(z2), transpose_a=True) / batch_size
    diagonal = tf.linalg.diag_part(correlation)
    on_diagonal = tf.reduce_sum(tf.square(1.0 - diagonal))
    off_diagonal = tf.reduce_sum(tf.square(correlation)) - tf.reduce_sum(tf.square(diagonal))
    return on_diagonal + redundancy_weight * off_diagonal


LOSSES = {"simclr": nt_xent, "barlow_twins": barlow_twins}
