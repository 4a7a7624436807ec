"""The op registry: every op by name, its family, and one way to apply it.

Other packages (augmentation search, training) enumerate `op_names()` and
build policies by name; `apply_op` runs any op with per-sample magnitudes
and apply probabilities.
"""

import dataclasses
import functools
from typing import Any, Callable, Dict, List, Optional

import tensorflow as tf

from augment_ops import color, filters, geometric, histogram, mixing, occlusion, seeds
from augment_ops.batch import IMAGES, Batch, as_batch, image_size, per_sample, unwrap, with_updates
from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions

GEOMETRIC = "geometric"
COLOR = "color"
FILTER = "filter"
HISTOGRAM = "histogram"
OCCLUSION = "occlusion"
MIXING = "mixing"
FAMILIES = (GEOMETRIC, COLOR, FILTER, HISTOGRAM, OCCLUSION, MIXING)

# Ops that use tf.raw_ops.ImageProjectiveTransformV3 when options.warp is
# "projective"; that kernel has no XLA lowering, so they cannot run under
# jit_compile=True then. With the default "gather" warp every op compiles.
# The test suite checks both directions for both backends.
XLA_UNSUPPORTED_REASONS = {
    name: "with warp='projective': tf.raw_ops.ImageProjectiveTransformV3 has no XLA kernel"
    for name in geometric.GEOMETRIC_MATRICES
}


def xla_unsupported_ops(options: AugmentOptions = DEFAULT_OPTIONS) -> frozenset:
    """Names of the ops that cannot be compiled with XLA under `options`."""
    return frozenset(XLA_UNSUPPORTED_REASONS) if options.warp == "projective" else frozenset()


XLA_UNSUPPORTED_OPS = xla_unsupported_ops(DEFAULT_OPTIONS)

# Ops whose output at magnitude > 0 does not depend on the magnitude's size.
BINARY_OPS = frozenset({"flip_left_right", "flip_up_down", "invert"})

# Ops whose output is fixed by the magnitude alone (no random direction,
# position or partner drawn from the seed).
DETERMINISTIC_OPS = frozenset(
    {
        "identity",
        "flip_left_right",
        "flip_up_down",
        "rot90",
        "zoom_in",
        "zoom_out",
        "grayscale",
        "invert",
        "solarize",
        "posterize",
        "equalize",
        "autocontrast",
        "gaussian_blur",
    }
)


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """One registered op.

    Attributes:
      name: registry name.
      family: one of FAMILIES.
      apply: fn(batch, magnitude [B], seed [2], options) -> batch, applied to
        every sample (magnitude 0 = identity).
      matrix: geometric ops only: fn(magnitude [B], seed, height, width) ->
        forward [B,3,3], so policies can fuse several into one warp.
      pointwise: each output pixel depends only on the same input pixel.
      binary: any magnitude > 0 gives the same full effect.
      stochastic: draws from the seed besides the magnitude.
    """

    name: str
    family: str
    apply: Callable[..., Batch]
    matrix: Optional[Callable[..., tf.Tensor]] = None
    pointwise: bool = False
    binary: bool = False
    stochastic: bool = True


def _image_op(fn):
    def apply(batch, magnitude, seed, options):
        del options
        return with_updates(batch, **{IMAGES: fn(batch[IMAGES], magnitude, seed)})

    return apply


def _geometric_op(matrix_fn):
    def apply(batch, magnitude, seed, options):
        height, width = image_size(batch[IMAGES])
        return geometric.apply_matrices(batch, matrix_fn(magnitude, seed, height, width), options)

    return apply


def _build() -> Dict[str, OpSpec]:
    ops = {}
    exact = {
        "flip_left_right": functools.partial(geometric.apply_flip, axis=2),
        "flip_up_down": functools.partial(geometric.apply_flip, axis=1),
        "rot90": geometric.apply_rot90,
    }
    for name, fn in geometric.GEOMETRIC_MATRICES.items():
        # Alone, flips and quarter turns permute pixels exactly; in a policy
        # their matrices fuse with the other geometric ops into one warp.
        ops[name] = OpSpec(name, GEOMETRIC, exact.get(name, _geometric_op(fn)), matrix=fn)
    for name, fn in color.COLOR_OPS.items():
        ops[name] = OpSpec(name, COLOR, _image_op(fn), pointwise=name not in ("contrast",))
    for name, fn in histogram.HISTOGRAM_OPS.items():
        ops[name] = OpSpec(name, HISTOGRAM, _image_op(fn))
    for name, fn in filters.FILTER_OPS.items():
        ops[name] = OpSpec(name, FILTER, _image_op(fn), pointwise=name == "gaussian_noise")
    for name, fn in occlusion.OCCLUSION_OPS.items():
        ops[name] = OpSpec(name, OCCLUSION, fn)
    for name, fn in mixing.MIXING_OPS.items():
        ops[name] = OpSpec(name, MIXING, fn)
    return {
        name: dataclasses.replace(
            spec,
            binary=name in BINARY_OPS,
            stochastic=name not in DETERMINISTIC_OPS,
        )
        for name, spec in ops.items()
    }


OPS: Dict[str, OpSpec] = _build()


def op_names(family: Optional[str] = None) -> List[str]:
    """Registered op names, optionally of one family, in registry order."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"Unknown op family {family!r}; expected one of {FAMILIES}.")
    return [name for name, spec in OPS.items() if family is None or spec.family == family]


def get_op(name: str) -> OpSpec:
    """The OpSpec for `name`; a clear error listing the known names otherwise."""
    try:
        return OPS[name]
    except KeyError:
        raise ValueError(f"Unknown augmentation op {name!r}; known ops: {', '.join(OPS)}.") from None


def effective_magnitude(magnitude, probability, seed, batch_size) -> tf.Tensor:
    """Per-sample magnitude, zeroed for samples that skip the op, float32 [B].

    Folding the apply decision into the magnitude (identity at 0) means no
    op needs a separate select pass for skipped samples.
    """
    magnitude = tf.clip_by_value(per_sample(magnitude, batch_size, "magnitude"), 0.0, 1.0)
    probability = per_sample(probability, batch_size, "probability")
    return tf.where(seeds.bernoulli(seed, probability), magnitude, 0.0)


def supports_xla(name: str, options: AugmentOptions = DEFAULT_OPTIONS) -> bool:
    """Whether op `name` compiles under jit_compile=True with `options`."""
    get_op(name)
    return name not in xla_unsupported_ops(options)


def _run_op(spec: OpSpec, batch: Batch, magnitude, probability, seed, options: AugmentOptions) -> Batch:
    batch_size = tf.shape(batch[IMAGES])[0]
    magnitude = effective_magnitude(magnitude, probability, seeds.derive(seed, spec.name, "apply"), batch_size)
    return spec.apply(batch, magnitude, seeds.derive(seed, spec.name), options)


@functools.lru_cache(maxsize=None)
def _compiled_op(name: str, options: AugmentOptions):
    """One XLA-compiled function per (op, options), traced per input shape.

    Not reduce_retracing: a relaxed trace (unknown height/width after a second
    image size) loses the static-shape fast paths (rot90 by transposes,
    equalize's histogram stride) and ran 5x slower; XLA compiles per shape anyway.
    """
    spec = get_op(name)
    return tf.function(
        lambda batch, magnitude, probability, seed: _run_op(spec, batch, magnitude, probability, seed, options),
        jit_compile=True,
        autograph=False,
    )


# Nothing here branches on tensor values; skipping AutoGraph conversion makes
# tracing inside tf.function / Keras several times faster.
@tf.autograph.experimental.do_not_convert
def apply_op(
    name: str,
    inputs: Any,
    magnitude: Any,
    probability: Any = 1.0,
    seed: Any = 0,
    options: AugmentOptions = DEFAULT_OPTIONS,
) -> Any:
    """Applies one op by name to a batch.

    Args:
      name: a registered op name (see `op_names()`).
      inputs: images [B,H,W,C] float in [0,1], or a batch dict (see batch.py).
      magnitude: scalar or [B] in [0,1]; 0 is the identity.
      probability: scalar or [B]; each sample applies the op with it.
      seed: int, pair of ints or int32 [2] tensor; same seed, same output.
      options: box, mask, fill and XLA handling.

    Returns:
      Same structure as `inputs`: images, or the batch dict with transformed
      entries (mixing ops return soft labels and [B,2N] boxes).
    """
    spec = get_op(name)
    batch = as_batch(inputs)
    dtype = batch[IMAGES].dtype
    batch[IMAGES] = tf.cast(batch[IMAGES], tf.float32)
    seed = seeds.as_seed(seed)
    magnitude = tf.cast(magnitude, tf.float32)
    probability = tf.cast(probability, tf.float32)
    if options.xla and supports_xla(name, options):
        out = _compiled_op(name, options)(batch, magnitude, probability, seed)
    else:
        out = _run_op(spec, batch, magnitude, probability, seed, options)
    out[IMAGES] = tf.cast(out[IMAGES], dtype)
    return unwrap(out, inputs)
