"""Weak and strong views of a batch, from augment_ops policies, in-graph.

FixMatch pseudo-labels the weak view (a flip and a small translation) and
trains the strong view (RandAugment with random magnitudes, then Cutout) to
predict it. When the augmentation search's policy is given:

* the weak view uses only ops the policy contains (with probability > 0),
  so a policy without `flip_left_right` (digits, text) gets no mirroring,
  and its translation never exceeds the policy's translate magnitude;
* the strong view draws from the policy's label-free ops (not from the
  generic RandAugment list), each magnitude uniform in [0, the policy's].

Cutout follows the strong view always (FixMatch's choice: it only hides
pixels, never moves or recolours the object).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional

import tensorflow as tf

from augment_ops import policy as policy_lib
from augment_ops import registry, seeds

logger = logging.getLogger(__name__)

FLIP = "flip_left_right"
TRANSLATE_OPS = ("translate_x", "translate_y")
CUTOUT = "cutout"
# augment_ops translates by magnitude * MAX_TRANSLATION (0.3) of the side: 0.125 / 0.3 is FixMatch's 12.5%.
WEAK_TRANSLATE_FRACTION = 0.125
_SKIPPED_IN_STRONG = ("identity", CUTOUT)


def translate_magnitude(fraction: float) -> float:
    """The augment_ops translate magnitude that shifts by up to `fraction` of the image side."""
    from augment_ops.geometric import MAX_TRANSLATION

    return min(1.0, float(fraction) / MAX_TRANSLATION)


def weak_policy(
    policy: Optional[policy_lib.Policy], flip: bool = True, translate: float = WEAK_TRANSLATE_FRACTION
) -> Optional[policy_lib.Policy]:
    """FixMatch's weak view restricted to what `policy` allows; None when nothing is left (identity).

    Args:
      policy: the augmentation search's policy, or None (then the method's
        weak view: flip with probability 1/2 and translate up to `translate`).
      flip: mirror left-right when allowed.
      translate: the largest shift as a fraction of the side (uniform per sample and axis).
    """
    magnitudes = {name: translate_magnitude(translate) for name in TRANSLATE_OPS}
    use_flip = flip
    if policy is not None:
        allowed = {op.name: op for op in policy.ops if op.probability > 0}
        use_flip = flip and FLIP in allowed
        magnitudes = {
            name: min(value, allowed[name].magnitude) for name, value in magnitudes.items() if name in allowed
        }
    ops = [(FLIP, 1.0, 0.5)] if use_flip else []
    ops += [(name, magnitude, 1.0) for name, magnitude in magnitudes.items() if magnitude > 0]
    if not ops:
        logger.warning("consistency: the augmentation policy allows no weak-view op (flip/translate); "
                       "the weak view is the unaugmented image")
        return None
    return policy_lib.Policy.from_ops(ops, magnitude_sampling=policy_lib.MAGNITUDE_UNIFORM, name="fixmatch_weak")


def strong_policy(
    policy: Optional[policy_lib.Policy], num_ops: int = 2, magnitude: float = 1.0
) -> Optional[policy_lib.Policy]:
    """RandAugment with per-sample random magnitudes: `num_ops` distinct ops per image.

    From the policy's label-free ops at up to their magnitudes when a policy
    is given, else from augment_ops' RandAugment list at up to `magnitude`.
    None when the policy has no such op (the strong view is then Cutout only).
    """
    if policy is None:
        ops = [(name, magnitude, 1.0) for name in policy_lib.RAND_AUGMENT_OPS]
    else:
        ops = [
            (op.name, op.magnitude, 1.0) for op in policy.ops
            if op.probability > 0 and op.magnitude > 0 and op.name not in _SKIPPED_IN_STRONG
            and registry.get_op(op.name).family != registry.MIXING
        ]
    if not ops:
        return None
    return policy_lib.Policy.from_ops(
        ops, sampling=policy_lib.SAMPLING_RANDOM_N, num_ops=min(num_ops, len(ops)),
        magnitude_sampling=policy_lib.MAGNITUDE_UNIFORM, name="fixmatch_strong",
    )


@dataclasses.dataclass(frozen=True)
class Views:
    """The two views of FixMatch as augment_ops policies.

    Attributes:
      weak: the weak-view policy (None = identity).
      strong: the strong-view policy before Cutout (None = Cutout only).
      cutout: Cutout magnitude (1.0 = a square of half the shorter side; 0 = off).
    """

    weak: Optional[policy_lib.Policy]
    strong: Optional[policy_lib.Policy]
    cutout: float = 1.0

    def weak_view(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Weak view of `[B,H,W,C]` float images in [0,1] for an int32 [2] seed."""
        if self.weak is None:
            return images
        return tf.clip_by_value(policy_lib.apply_policy(self.weak, images, seeds.derive(seed, "weak")), 0.0, 1.0)

    def strong_view(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Strong view (RandAugment, then Cutout) of `[B,H,W,C]` float images in [0,1]."""
        if self.strong is not None:
            images = policy_lib.apply_policy(self.strong, images, seeds.derive(seed, "strong"))
        if self.cutout > 0:
            images = registry.apply_op(CUTOUT, images, self.cutout, 1.0, seeds.derive(seed, CUTOUT))
        return tf.clip_by_value(images, 0.0, 1.0)

    def describe(self) -> dict:
        """JSON-ready description for the summary and the report."""
        return {
            "weak": self.weak.to_dict() if self.weak else None,
            "strong": self.strong.to_dict() if self.strong else None,
            "cutout": self.cutout,
        }


def make_views(
    policy: Optional[policy_lib.Policy],
    flip: bool = True,
    translate: float = WEAK_TRANSLATE_FRACTION,
    strong_num_ops: int = 2,
    strong_magnitude: float = 1.0,
    cutout: float = 1.0,
) -> Views:
    """Weak and strong views, restricted by the augmentation search's policy when there is one."""
    if policy is not None and policy.uses_labels:
        logger.info("consistency: the policy's mixing ops are not used in the views (they need labels)")
    return Views(weak_policy(policy, flip, translate), strong_policy(policy, strong_num_ops, strong_magnitude), cutout)
