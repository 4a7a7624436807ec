"""The policies pass 2 trains with, as augment_ops `Policy` objects (what Training loads).

A cluster at magnitude m and probability p is a RandAugment-style policy over
the cluster's ops: each sample draws one op of the cluster and applies it
with probability p at magnitude m. Several helpful clusters combine into one
policy over the union of their ops (each op keeps its cluster's magnitude
and probability), still drawing one op per sample: on small data two ops per
sample (RandAugment's N=2) trained worse than one in our MNIST runs.
"""

from __future__ import annotations

from typing import Optional, Sequence

from augment_ops import registry
from augment_ops.policy import SAMPLING_RANDOM_N, Policy, PolicyOp, rand_augment, trivial_augment

NO_AUGMENTATION_NAME = "none"
# Policy needs at least one op: "no augmentation" is written as the identity op.
IDENTITY_POLICY = Policy.from_ops([("identity", 0.0, 1.0)], name=NO_AUGMENTATION_NAME)
RANDAUGMENT_MAX_LEVEL = 30.0  # augment_ops reads RandAugment's M on torchvision's 0..30 scale (M=9 -> 0.3).


def cluster_policy(ops: Sequence[str], magnitude: float, probability: float, name: str) -> Policy:
    """One op per sample drawn from `ops`, applied with `probability` at `magnitude`."""
    return Policy(
        tuple(PolicyOp(op, magnitude, probability) for op in ops), sampling=SAMPLING_RANDOM_N, num_ops=1, name=name
    )


def combined_policy(parts: Sequence[Policy], name: str, num_ops: int = 1) -> Policy:
    """The union of single-cluster policies, drawing `num_ops` ops per sample from it."""
    ops = tuple(op for part in parts for op in part.ops)
    return Policy(ops, sampling=SAMPLING_RANDOM_N, num_ops=num_ops, name=name)


def with_probability(policy: Policy, probability: float) -> Policy:
    return Policy(
        tuple(PolicyOp(op.name, op.magnitude, probability) for op in policy.ops),
        sampling=policy.sampling,
        num_ops=policy.num_ops,
        magnitude_sampling=policy.magnitude_sampling,
        name=policy.name,
    )


def randaugment_baseline(num_ops: int = 2, magnitude: int = 9) -> Policy:
    """RandAugment(N, M) as augment_ops defines it."""
    return rand_augment(num_ops, magnitude / RANDAUGMENT_MAX_LEVEL)


def trivial_augment_baseline() -> Policy:
    return trivial_augment()


def without_mixing(ops: Sequence[str]) -> tuple:
    """Ops minus the label-mixing ones (for consumers that feed images only)."""
    return tuple(op for op in ops if registry.get_op(op).family != registry.MIXING)


def describe(policy: Optional[Policy]) -> str:
    """One line for logs and reports."""
    if policy is None or policy.name == NO_AUGMENTATION_NAME:
        return "none: no augmentation"
    magnitudes = sorted({op.magnitude for op in policy.ops})
    probabilities = sorted({op.probability for op in policy.ops})
    scale = "U(0, m)" if policy.magnitude_sampling != "fixed" else "m"
    draw = f"{policy.num_ops} of" if policy.sampling == SAMPLING_RANDOM_N else "all of"
    return (
        f"{policy.name}: {draw} [{', '.join(policy.op_names)}], {scale} in {[round(m, 3) for m in magnitudes]}, "
        f"p in {[round(p, 3) for p in probabilities]}"
    )
