"""Seed handling: every random draw is stateless and derives from one seed.

Named `seeds` rather than `random` so the module never shadows the standard
library's `random` when a file in this folder is run as a script.

A seed is an int32 tensor of shape [2] (the `tf.random.stateless_*` form).
Each op derives its own sub-seeds by folding in a fixed salt, so the draws of
one op do not depend on which other ops run; the same seed gives the same
output everywhere (eager, tf.function, XLA).
"""

import math
import zlib
from typing import Any, Sequence, Tuple

import tensorflow as tf

_PHILOX = 1  # tf.random.Algorithm.PHILOX


def as_seed(seed: Any) -> tf.Tensor:
    """Converts an int, a pair of ints or a [2] tensor to an int32 [2] seed.

    Raises:
      ValueError: when the value is None or has the wrong shape.
    """
    if seed is None:
        raise ValueError("augment_ops needs an explicit seed (an int or a pair of ints); got None.")
    if isinstance(seed, int):
        return tf.constant([seed & 0x7FFFFFFF, (seed >> 31) & 0x7FFFFFFF], tf.int32)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank != 1 or (seed.shape[0] is not None and seed.shape[0] != 2):
        raise ValueError(f"A seed must be an int or shape [2]; got shape {seed.shape}.")
    if seed.dtype != tf.int32:
        seed = tf.cast(seed % (2**31 - 1) if seed.dtype.is_integer else seed, tf.int32)
    return seed


def salt_of(*salts: Any) -> Tuple[int, int]:
    """Two stable 31-bit numbers for a tuple of names and ints (unlike hash(), stable across runs)."""
    text = "/".join(str(salt) for salt in salts).encode("utf-8")
    return zlib.crc32(text) & 0x7FFFFFFF, zlib.crc32(text[::-1] + b"#") & 0x7FFFFFFF


def derive(seed: tf.Tensor, *salts: Any) -> tf.Tensor:
    """Derives the seed of a sub-draw: XOR with a hash of Python-side salts, then swap the halves.

    Two graph nodes instead of the ~45 of stateless_fold_in: policies derive
    hundreds of seeds, and graph size is what makes tracing slow. The swap
    makes nested derivations order-dependent; the stateless kernels scramble
    seeds through Philox, so nearby seeds still give unrelated streams.
    """
    return tf.reverse(tf.bitwise.bitwise_xor(as_seed(seed), tf.constant(salt_of(*salts), tf.int32)), [0])


def _unit_floats(seed: tf.Tensor, shape: Sequence[Any]) -> tf.Tensor:
    """Uniform [0,1) floats from Philox bits, converted here rather than by TF.

    tf.random.stateless_uniform converts bits to floats differently under XLA,
    so the same seed would give different images with jit_compile=True. The
    raw uint32 bits agree, and so does this conversion (top 24 bits). The raw
    ops keep the graph at 3 nodes per draw.
    """
    key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
    bits = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=shape, key=key, counter=counter, alg=_PHILOX, dtype=tf.uint32
    )
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / (1 << 24))


def uniform(seed: tf.Tensor, shape: Sequence[Any], minval: float = 0.0, maxval: float = 1.0) -> tf.Tensor:
    """Float32 uniform draws in [minval, maxval), identical with and without XLA."""
    draws = _unit_floats(seed, shape)
    if minval == 0.0 and maxval == 1.0:
        return draws
    return minval + (maxval - minval) * draws


def normal(seed: tf.Tensor, shape: Sequence[Any]) -> tf.Tensor:
    """Float32 standard normal draws (Box-Muller on `uniform`'s bits)."""
    shape = tf.convert_to_tensor(shape, tf.int32)
    both = _unit_floats(seed, tf.concat([[2], shape], axis=0))
    radius = tf.sqrt(-2.0 * tf.math.log(1.0 - both[0]))  # 1 - u is in (0, 1]
    return radius * tf.cos((2.0 * math.pi) * both[1])


def random_sign(seed: tf.Tensor, batch_size: Any) -> tf.Tensor:
    """Per-sample +1/-1 with equal chance, float32 [B]."""
    return tf.where(uniform(seed, [batch_size]) < 0.5, -1.0, 1.0)


def bernoulli(seed: tf.Tensor, probability: tf.Tensor) -> tf.Tensor:
    """Per-sample True with the given per-sample probability, bool [B]."""
    return uniform(seed, tf.shape(probability)) < probability


def permutation(seed: tf.Tensor, batch_size: Any) -> tf.Tensor:
    """A random permutation of range(B) (argsort of uniforms; XLA-friendly unlike stateless_shuffle)."""
    return tf.argsort(uniform(seed, [batch_size]), stable=True)


def partners(seed: tf.Tensor, batch_size: Any) -> tf.Tensor:
    """A random partner index for each sample, never itself when B > 1, int32 [B].

    The samples are put in a random cyclic order and each is paired with its
    successor, so no sample mixes with itself (a plain permutation has fixed
    points).
    """
    order = permutation(seed, batch_size)
    position = tf.argsort(order, stable=True)
    return tf.gather(order, tf.math.floormod(position + 1, batch_size))
