"""Serializable augmentation policies and how a batch runs through one.

A Policy is a list of (op name, magnitude, probability) plus a sampling rule:
  * "all": every op is applied to each sample with its probability;
  * "random_n": each sample draws `num_ops` distinct ops (RandAugment,
    TrivialAugment), then applies each drawn op with its probability.
Magnitudes are fixed, or with magnitude_sampling="uniform" drawn per sample
from U(0, magnitude) (TrivialAugment).

Running a policy: all geometric ops of the policy multiply into one matrix
per sample and the batch is warped once; then the other ops run in policy
order, mixing ops last. Which ops a sample skips is a zero magnitude, so
every op runs on the whole batch without per-sample branches.
"""

import dataclasses
import functools
import json
from typing import Any, Iterable, Optional, Sequence, Tuple

import tensorflow as tf

from augment_ops import geometric, registry, seeds
from augment_ops.batch import IMAGES, as_batch, image_size, per_sample, unwrap
from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions

SAMPLING_ALL = "all"
SAMPLING_RANDOM_N = "random_n"
SAMPLINGS = (SAMPLING_ALL, SAMPLING_RANDOM_N)
MAGNITUDE_FIXED = "fixed"
MAGNITUDE_UNIFORM = "uniform"
MAGNITUDE_SAMPLINGS = (MAGNITUDE_FIXED, MAGNITUDE_UNIFORM)
POLICY_FORMAT_VERSION = 1

# The op set of RandAugment (Cubuk et al. 2020) and TrivialAugment, by registry name.
RAND_AUGMENT_OPS = (
    "identity",
    "autocontrast",
    "equalize",
    "rotate",
    "solarize",
    "saturation",
    "posterize",
    "contrast",
    "brightness",
    "sharpness",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)


@dataclasses.dataclass(frozen=True)
class PolicyOp:
    """One op of a policy: registry name, magnitude and apply probability, both in [0,1]."""

    name: str
    magnitude: float
    probability: float = 1.0

    def __post_init__(self):
        registry.get_op(self.name)  # raises with the list of known names
        for field in ("magnitude", "probability"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"Policy op {self.name!r}: {field} must be a number in [0,1]; got {value!r}.")
        object.__setattr__(self, "magnitude", float(self.magnitude))
        object.__setattr__(self, "probability", float(self.probability))


@dataclasses.dataclass(frozen=True)
class Policy:
    """An augmentation policy; JSON-serializable and applied by `apply_policy`.

    Attributes:
      ops: the ops, in order (geometric ones are fused and run first).
      sampling: "all" or "random_n".
      num_ops: ops drawn per sample for "random_n".
      magnitude_sampling: "fixed" or "uniform" (per-sample U(0, magnitude)).
      name: a label for reports.
    """

    ops: Tuple[PolicyOp, ...]
    sampling: str = SAMPLING_ALL
    num_ops: int = 1
    magnitude_sampling: str = MAGNITUDE_FIXED
    name: str = ""

    def __post_init__(self):
        ops = tuple(op if isinstance(op, PolicyOp) else PolicyOp(*op) for op in self.ops)
        object.__setattr__(self, "ops", ops)
        if not ops:
            raise ValueError("A policy needs at least one op.")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}; got {self.sampling!r}.")
        if self.magnitude_sampling not in MAGNITUDE_SAMPLINGS:
            raise ValueError(
                f"magnitude_sampling must be one of {MAGNITUDE_SAMPLINGS}; got {self.magnitude_sampling!r}."
            )
        if self.sampling == SAMPLING_RANDOM_N and not 1 <= self.num_ops <= len(ops):
            raise ValueError(f"num_ops must be in [1, {len(ops)}] (the number of ops); got {self.num_ops}.")

    @classmethod
    def from_ops(cls, ops: Iterable[Sequence[Any]], **kwargs) -> "Policy":
        """Builds a policy from (name, magnitude[, probability]) tuples."""
        return cls(ops=tuple(PolicyOp(*op) for op in ops), **kwargs)

    @property
    def op_names(self) -> Tuple[str, ...]:
        return tuple(op.name for op in self.ops)

    @property
    def uses_labels(self) -> bool:
        """True when the policy mixes samples and so changes labels."""
        return any(registry.get_op(op.name).family == registry.MIXING for op in self.ops)

    def supports_xla(self, options: AugmentOptions = DEFAULT_OPTIONS) -> bool:
        """Whether every op compiles under jit_compile=True with `options`."""
        return all(registry.supports_xla(op.name, options) for op in self.ops)

    def to_dict(self) -> dict:
        return {
            "format_version": POLICY_FORMAT_VERSION,
            "name": self.name,
            "sampling": self.sampling,
            "num_ops": self.num_ops,
            "magnitude_sampling": self.magnitude_sampling,
            "ops": [dataclasses.asdict(op) for op in self.ops],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> "Policy":
        """Inverse of to_dict; errors name the offending field."""
        values = dict(values)
        version = values.pop("format_version", POLICY_FORMAT_VERSION)
        if version != POLICY_FORMAT_VERSION:
            raise ValueError(f"Policy format_version {version} is not supported (expected {POLICY_FORMAT_VERSION}).")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"Unknown policy fields {sorted(unknown)}; expected {sorted(known)}.")
        if not isinstance(values.get("ops"), list):
            raise ValueError("Policy JSON needs 'ops': a list of {name, magnitude, probability}.")
        ops = []
        for index, op in enumerate(values["ops"]):
            if not isinstance(op, dict) or set(op) - {"name", "magnitude", "probability"} or "name" not in op:
                raise ValueError(f"Policy op #{index} must be {{name, magnitude, probability}}; got {op!r}.")
            ops.append(PolicyOp(**op))
        values["ops"] = tuple(ops)
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "Policy":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Policy JSON does not parse: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"Policy JSON must be an object; got {type(values).__name__}.")
        return cls.from_dict(values)

    @tf.autograph.experimental.do_not_convert
    def __call__(self, inputs, seed, options: AugmentOptions = DEFAULT_OPTIONS):
        return apply_policy(self, inputs, seed, options)


def rand_augment(num_ops: int = 2, magnitude: float = 0.3, op_names: Sequence[str] = RAND_AUGMENT_OPS) -> Policy:
    """RandAugment(N, M): N distinct ops per sample at one shared magnitude M in [0,1] (M = 9/30 ~ 0.3)."""
    return Policy.from_ops(
        [(name, magnitude, 1.0) for name in op_names],
        sampling=SAMPLING_RANDOM_N,
        num_ops=num_ops,
        name=f"rand_augment_n{num_ops}_m{magnitude:g}",
    )


def trivial_augment(op_names: Sequence[str] = RAND_AUGMENT_OPS, max_magnitude: float = 1.0) -> Policy:
    """TrivialAugment: one op per sample at a magnitude drawn from U(0, max_magnitude)."""
    return Policy.from_ops(
        [(name, max_magnitude, 1.0) for name in op_names],
        sampling=SAMPLING_RANDOM_N,
        num_ops=1,
        magnitude_sampling=MAGNITUDE_UNIFORM,
        name="trivial_augment",
    )


def _selection(policy: Policy, seed, batch_size) -> Optional[tf.Tensor]:
    """bool [B,K]: which ops each sample draws (None when all are eligible)."""
    if policy.sampling == SAMPLING_ALL:
        return None
    scores = seeds.uniform(seed, [batch_size, len(policy.ops)])
    chosen = tf.math.top_k(scores, k=policy.num_ops).indices  # [B,N], distinct
    return tf.reduce_any(tf.equal(chosen[:, :, None], tf.range(len(policy.ops))[None, None, :]), axis=1)


def sample_magnitudes(policy: Policy, seed, batch_size) -> list:
    """Per-op per-sample effective magnitudes (0 where a sample skips the op), K x [B]."""
    seed = seeds.as_seed(seed)
    selected = _selection(policy, seeds.derive(seed, "select"), batch_size)
    magnitudes = []
    for index, op in enumerate(policy.ops):
        op_seed = seeds.derive(seed, "op", index)
        magnitude = per_sample(op.magnitude, batch_size, "magnitude")
        if policy.magnitude_sampling == MAGNITUDE_UNIFORM:
            magnitude = magnitude * seeds.uniform(seeds.derive(op_seed, "magnitude"), [batch_size])
        active = seeds.bernoulli(seeds.derive(op_seed, "apply"), per_sample(op.probability, batch_size, "probability"))
        if selected is not None:
            active &= selected[:, index]
        magnitudes.append(tf.where(active, magnitude, 0.0))
    return magnitudes


def _run_policy(policy: Policy, batch, seed, options: AugmentOptions):
    batch = dict(batch)
    batch_size = tf.shape(batch[IMAGES])[0]
    magnitudes = sample_magnitudes(policy, seed, batch_size)
    specs = [registry.get_op(op.name) for op in policy.ops]
    op_seeds = [seeds.derive(seed, "run", index, op.name) for index, op in enumerate(policy.ops)]

    geometric_indices = [i for i, spec in enumerate(specs) if spec.family == registry.GEOMETRIC]
    if geometric_indices:
        height, width = image_size(batch[IMAGES])
        forward = geometric.identity(batch_size)
        for i in geometric_indices:
            forward = tf.matmul(specs[i].matrix(magnitudes[i], op_seeds[i], height, width), forward)
        batch = geometric.apply_matrices(batch, forward, options)
    others = [i for i, spec in enumerate(specs) if spec.family not in (registry.GEOMETRIC, registry.MIXING)]
    mixing = [i for i, spec in enumerate(specs) if spec.family == registry.MIXING]
    for i in others + mixing:
        batch = specs[i].apply(batch, magnitudes[i], op_seeds[i], options)
    return batch


@functools.lru_cache(maxsize=None)
def _compiled_policy(policy: Policy, options: AugmentOptions):
    """One XLA-compiled function per (policy, options): the whole policy fuses into one cluster.

    Traced per input shape (no reduce_retracing), for the reason given at registry._compiled_op.
    """
    return tf.function(
        lambda batch, seed: _run_policy(policy, batch, seed, options),
        jit_compile=True,
        autograph=False,
    )


# Nothing here branches on tensor values; skipping AutoGraph conversion makes
# tracing inside tf.function / Keras several times faster.
@tf.autograph.experimental.do_not_convert
def apply_policy(policy: Policy, inputs: Any, seed: Any, options: AugmentOptions = DEFAULT_OPTIONS) -> Any:
    """Runs a batch through a policy.

    Args:
      policy: the Policy.
      inputs: images [B,H,W,C] float in [0,1], or a batch dict (batch.py).
      seed: int, pair or int32 [2] tensor; the same seed gives the same output.
      options: box, mask, fill and XLA handling.

    Returns:
      Same structure as `inputs` (mixing ops make labels soft and boxes [B,2N,4]).
    """
    batch = as_batch(inputs)
    dtype = batch[IMAGES].dtype
    batch[IMAGES] = tf.cast(batch[IMAGES], tf.float32)
    seed = seeds.as_seed(seed)
    if options.xla and policy.supports_xla(options):
        batch = _compiled_policy(policy, options)(batch, seed)
    else:
        batch = _run_policy(policy, batch, seed, options)
    batch[IMAGES] = tf.cast(batch[IMAGES], dtype)
    return unwrap(batch, inputs)
