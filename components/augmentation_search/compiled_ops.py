"""Running policies fast in pass 2: graphs traced once, reused by every trial.

Tracing a whole policy costs a fraction of a second per op, for every
distinct policy, and pass 2 tries a dozen policies. Here the pieces of
`augment_ops.policy.apply_policy` are traced separately: the per-sample
magnitude sampler per policy shape (magnitudes and probabilities are graph
inputs), the fused geometric warp per set of geometric ops, and each other op
once. A policy then runs as a few graph calls that reproduce apply_policy
exactly (same seeds, same draws, geometric ops fused into one warp), so a
trial trains on what Training will apply.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import tensorflow as tf

from augment_ops import geometric, registry, seeds
from augment_ops import policy as policy_lib
from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions

_SEED = tf.TensorSpec([2], tf.int32)
_VECTOR = tf.TensorSpec([None], tf.float32)


def _sample_magnitudes(policy_shape: Tuple[int, str, int, str], seed, batch_size, magnitudes, probabilities):
    """`policy_lib.sample_magnitudes` with magnitudes [K] and probabilities [K] as tensors: [K,B]."""
    num_ops, sampling, draws, magnitude_sampling = policy_shape
    selected = None
    if sampling == policy_lib.SAMPLING_RANDOM_N:
        scores = seeds.uniform(seeds.derive(seed, "select"), [batch_size, num_ops])
        chosen = tf.math.top_k(scores, k=draws).indices
        selected = tf.reduce_any(tf.equal(chosen[:, :, None], tf.range(num_ops)[None, None, :]), axis=1)
    rows = []
    for index in range(num_ops):
        op_seed = seeds.derive(seed, "op", index)
        magnitude = tf.broadcast_to(magnitudes[index], [batch_size])
        if magnitude_sampling == policy_lib.MAGNITUDE_UNIFORM:
            magnitude = magnitude * seeds.uniform(seeds.derive(op_seed, "magnitude"), [batch_size])
        active = seeds.bernoulli(seeds.derive(op_seed, "apply"), tf.broadcast_to(probabilities[index], [batch_size]))
        if selected is not None:
            active &= selected[:, index]
        rows.append(tf.where(active, magnitude, 0.0))
    return tf.stack(rows)


class CompiledOps:
    """Cached graphs over images [B,H,W,C] and soft labels [B,K] (any B)."""

    def __init__(self, image_shape: Tuple[int, int, int], num_classes: int, options: AugmentOptions = DEFAULT_OPTIONS):
        self._images = tf.TensorSpec([None, *image_shape], tf.float32)
        self._labels = tf.TensorSpec([None, num_classes], tf.float32)
        self._height, self._width = int(image_shape[0]), int(image_shape[1])
        self._options = options
        self._graphs: Dict[object, Callable] = {}

    def _cached(self, key, build: Callable[[], Callable]) -> Callable:
        if key not in self._graphs:
            self._graphs[key] = build()
        return self._graphs[key]

    def _sampler(self, policy: policy_lib.Policy) -> Callable:
        """(effective magnitudes [K,B], op seeds [K,2]) for a policy's shape and op names."""
        shape = (len(policy.ops), policy.sampling, policy.num_ops, policy.magnitude_sampling)
        names = policy.op_names

        def build():
            def run(seed, batch_size, magnitudes, probabilities):
                op_seeds = tf.stack([seeds.derive(seed, "run", index, name) for index, name in enumerate(names)])
                return _sample_magnitudes(shape, seed, batch_size, magnitudes, probabilities), op_seeds

            signature = [_SEED, tf.TensorSpec([], tf.int32), _VECTOR, _VECTOR]
            return tf.function(run, input_signature=signature, autograph=False)

        return self._cached(("sample", shape, names), build)

    def _warp(self, steps: Tuple[Tuple[int, str], ...]) -> Callable:
        """Fused warp of the policy's geometric ops (index in policy, name)."""

        def build():
            def run(images, labels, magnitudes, op_seeds):
                forward = geometric.identity(tf.shape(images)[0])
                for index, name in steps:
                    matrix = registry.get_op(name).matrix(magnitudes[index], op_seeds[index], self._height, self._width)
                    forward = tf.matmul(matrix, forward)
                out = geometric.apply_matrices({"images": images, "labels": labels}, forward, self._options)
                return out["images"], out["labels"]

            matrices, op_seeds = tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, 2], tf.int32)
            signature = [self._images, self._labels, matrices, op_seeds]
            return tf.function(run, input_signature=signature, autograph=False)

        return self._cached(("warp", steps), build)

    def _step(self, name: str) -> Callable:
        """One op's `apply` on effective magnitudes, with its apply_policy seed."""

        def build():
            spec = registry.get_op(name)

            def run(images, labels, magnitude, op_seed):
                out = spec.apply({"images": images, "labels": labels}, magnitude, op_seed, self._options)
                return out["images"], out["labels"]

            signature = [self._images, self._labels, _VECTOR, _SEED]
            return tf.function(run, input_signature=signature, autograph=False)

        return self._cached(("step", name), build)

    def run_policy(self, policy: policy_lib.Policy, images, labels, seed) -> Tuple[tf.Tensor, tf.Tensor]:
        """Equals `augment_ops.policy.apply_policy(policy, {images, labels}, seed)`."""
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.convert_to_tensor(labels, tf.float32)
        seed = seeds.as_seed(seed)
        magnitudes, op_seeds = self._sampler(policy)(
            seed,
            tf.shape(images)[0],
            tf.constant([op.magnitude for op in policy.ops], tf.float32),
            tf.constant([op.probability for op in policy.ops], tf.float32),
        )
        families = [registry.get_op(op.name).family for op in policy.ops]
        warps = tuple((i, op.name) for i, op in enumerate(policy.ops) if families[i] == registry.GEOMETRIC)
        if warps:
            images, labels = self._warp(warps)(images, labels, magnitudes, op_seeds)
        others = [i for i, family in enumerate(families) if family not in (registry.GEOMETRIC, registry.MIXING)]
        mixing = [i for i, family in enumerate(families) if family == registry.MIXING]
        for i in others + mixing:
            images, labels = self._step(policy.ops[i].name)(images, labels, magnitudes[i], op_seeds[i])
        return images, labels
