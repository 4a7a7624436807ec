"""Seed handling: every random draw is stateless and derives from one seed.

Named `seeds` rather than `random` so the module never shadows the standard
library's `random` when a file in this folder is run as a script.

A seed is an int32 tensor of shape [2] (the `tf.random.stateless_*` form).
Each op derives its own sub-seeds by folding in a fixed salt, so the draws of
one op do not depend on which other ops run; the same seed gives the same
output everywhere (eager, tf.function, XLA).
"""

import math
import numbers
import zlib
from typing import Any, Sequence, Tuple

import tensorflow as tf

_PHILOX = 1  # tf.random.Algorithm.PHILOX


def as_seed(seed: Any) -> tf.Tensor:
    """Converts an int, a pair of ints or an integer tensor to an int32 [2] seed.

    An integer gives the same seed however it is passed (Python or numpy int,
    scalar tensor of any integer dtype): its low and high 31-bit halves.

    Raises:
      ValueError: when the value is None, not an integer, or has the wrong shape.
    """
    if seed is None:
        raise ValueError("augment_ops needs an explicit seed (an int or a pair of ints); got None.")
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed = int(seed)
        return tf.constant([seed & 0x7FFFFFFF, (seed >> 31) & 0x7FFFFFFF], tf.int32)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise ValueError(f"A seed must be integer; got dtype {seed.dtype.name}.")
    if seed.shape.rank == 0:
        value = tf.cast(seed, tf.int64)
        halves = tf.stack([value, tf.bitwise.right_shift(value, tf.constant(31, tf.int64))])
        return tf.cast(tf.bitwise.bitwise_and(halves, tf.constant(0x7FFFFFFF, tf.int64)), tf.int32)
    if seed.shape.rank != 1 or (seed.shape[0] is not None and seed.shape[0] != 2):
        raise ValueError(f"A seed must be an int or shape [2]; got shape {seed.shape}.")
    if seed.dtype != tf.int32:
        seed = tf.cast(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), tf.constant(0x7FFFFFFF, tf.int64)), tf.int32)
    return seed


def salt_of(*salts: Any) -> Tuple[int, int]:
    """Two stable 31-bit numbers for a tuple of names and ints (unlike hash(), stable across runs).

    Salts are Python values fixed when the graph is built: numpy integers count
    as the same int, and tensors are refused, because their text (which names
    the graph node) would make the salt depend on how the graph was traced.
    """
    parts = []
    for salt in salts:
        if isinstance(salt, (tf.Tensor, tf.Variable)):
            raise TypeError(f"Seed salts must be Python strings or ints known when tracing; got a tensor {salt!r}.")
        parts.append(str(int(salt)) if isinstance(salt, numbers.Integral) and not isinstance(salt, bool) else str(salt))
    text = "/".join(parts).encode("utf-8")
    return zlib.crc32(text) & 0x7FFFFFFF, zlib.crc32(text[::-1] + b"#") & 0x7FFFFFFF


def derive(seed: tf.Tensor, *salts: Any) -> tf.Tensor:
    """Derives the seed of a sub-draw: XOR with a hash of Python-side salts, then swap the halves.

    Two graph nodes instead of the ~45 of stateless_fold_in: policies derive
    hundreds of seeds, and graph size is what makes tracing slow. The swap
    makes nested derivations order-dependent; the stateless kernels scramble
    seeds through Philox, so nearby seeds still give unrelated streams.
    """
    return tf.reverse(tf.bitwise.bitwise_xor(as_seed(seed), tf.constant(salt_of(*salts), tf.int32)), [0])


def fold_in(seed: tf.Tensor, value: Any) -> tf.Tensor:
    """Derives a seed from a value known only when the graph runs (a step counter, say).

    `derive` takes Python salts fixed at trace time; a tensor there would be
    traced once and give every step the same seed. Here the value is XORed
    into the seed's first half and the halves swapped, as in `derive`.
    """
    value = tf.cast(tf.bitwise.bitwise_and(tf.cast(value, tf.int64), tf.constant(0x7FFFFFFF, tf.int64)), tf.int32)
    return tf.reverse(tf.bitwise.bitwise_xor(as_seed(seed), tf.stack([value, tf.constant(0, tf.int32)])), [0])


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


# Per-pixel draws. A noise image needs one draw per pixel and channel, where
# Philox under XLA on CPU costs ~40 ms per 32x224x224x3 batch (it dominates the
# op). A keyed integer hash of the element index (Wellons' lowbias32, twice,
# keyed by both seed halves) is plain elementwise integer work that
# fuses into the op's single pass, ~10x faster, and is the same with and
# without XLA. Its statistics are ample for image noise; per-sample decisions
# (magnitudes, positions, signs) keep Philox.
_HASH_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)
_IRWIN_HALL_BYTES = 4  # a normal draw is the sum of the 4 bytes of one hash word
_IRWIN_HALL_MEAN = _IRWIN_HALL_BYTES * 255.0 / 2.0
_IRWIN_HALL_STD = math.sqrt(_IRWIN_HALL_BYTES * (256.0**2 - 1.0) / 12.0)


def _lowbias32(x: tf.Tensor) -> tf.Tensor:
    shift = tf.bitwise.right_shift
    x = tf.bitwise.bitwise_xor(x, shift(x, tf.constant(16, tf.uint32))) * tf.constant(_HASH_MULTIPLIERS[0], tf.uint32)
    x = tf.bitwise.bitwise_xor(x, shift(x, tf.constant(15, tf.uint32))) * tf.constant(_HASH_MULTIPLIERS[1], tf.uint32)
    return tf.bitwise.bitwise_xor(x, shift(x, tf.constant(16, tf.uint32)))


def pixel_bits(seed: tf.Tensor, shape: Sequence[Any]) -> tf.Tensor:
    """Uniform uint32 words, one per element of `shape`, for per-pixel noise.

    Element i gets hash(hash(i) ^ key), the key a hash of both seed halves.
    The key enters after the first hash: XORed or added into the index itself,
    two seeds would give the same values in permuted or shifted positions.
    Valid for up to 2**32 elements per call.
    """
    halves = tf.bitcast(as_seed(seed), tf.uint32)
    key = _lowbias32(tf.bitwise.bitwise_xor(halves[0], _lowbias32(halves[1] + tf.constant(0x9E3779B9, tf.uint32))))
    shape = tf.convert_to_tensor(shape, tf.int32)
    index = tf.cast(tf.range(tf.reduce_prod(shape)), tf.uint32)
    return tf.reshape(_lowbias32(tf.bitwise.bitwise_xor(_lowbias32(index), key)), shape)


def pixel_uniform(seed: tf.Tensor, shape: Sequence[Any]) -> tf.Tensor:
    """Float32 uniform [0,1) per element (24-bit resolution), from `pixel_bits`."""
    words = pixel_bits(seed, shape)
    return tf.cast(tf.bitwise.right_shift(words, tf.constant(8, tf.uint32)), tf.float32) * (1.0 / (1 << 24))


def pixel_normal(seed: tf.Tensor, shape: Sequence[Any]) -> tf.Tensor:
    """Approximately standard normal float32 per element, from `pixel_bits`.

    The sum of the four bytes of one hash word (Irwin-Hall with n=4), centred
    and scaled: mean 0 and variance 1 exactly, a density within 0.014 of the
    normal's everywhere (its peak is 0.399), tails bounded at +-3.45 (66.8% / 95.7% of the mass within 1 / 2
    sd, against the normal's 68.3% / 95.4%); no
    transcendental per pixel.
    """
    words = pixel_bits(seed, shape)
    byte = tf.constant(255, tf.uint32)
    total = tf.bitwise.bitwise_and(words, byte)
    for shift in (8, 16, 24):
        total += tf.bitwise.bitwise_and(tf.bitwise.right_shift(words, tf.constant(shift, tf.uint32)), byte)
    return (tf.cast(total, tf.float32) - _IRWIN_HALL_MEAN) * (1.0 / _IRWIN_HALL_STD)


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
