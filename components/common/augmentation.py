"""What an AugmentationPolicy artifact means to a training loop: image ops and label-mixing ops.

A policy may hold label-mixing ops (mixup, cutmix), which need the targets
of the batch, next to ops that change images only. An augmentation layer
inside the model sees images only, so a policy is split in two:

- the image part: an augment_ops `AugmentationLayer` (in front of the model,
  active in training only);
- the mixing part: a policy of the mixing ops (sampling "all": each op is
  applied to a sample with its probability) that the trainer runs on
  (images, soft targets) in every train step, seeded by (seed, step).

The split keeps each op's per-sample rate. A "random_n" policy that draws n
of its K ops per sample uses each op at rate n/K x its probability; after the
split, the image part draws min(n, K_img) of its K_img ops with probabilities
scaled so each image op keeps that rate, and each mixing op is applied with
probability n/K x its own. What changes is only that a sample may now get an
image op and a mixing op together, where the joint policy drew one of them.
The augmentation search trains its trials through the same split
(`split_policy`, `mixing_seed`), so what it measured is what Training trains.

Order in a train step: mixing first (in the trainer's step), then the image
layer (in the model), as with the Training config's mixup/cutmix alphas.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Optional, Tuple

from components.common.artifact_io import read_text
from components.types import artifacts

logger = logging.getLogger(__name__)

MIXING_PART_SUFFIX = "_mixing"


@dataclasses.dataclass(frozen=True)
class SplitPolicy:
    """A policy as the two parts a trainer runs.

    Attributes:
      image: the image-only ops as a policy (None when the policy only mixes).
      mixing: the label-mixing ops as a sampling-"all" policy (None when it has none).
    """

    image: Optional[object]
    mixing: Optional[object]

    @property
    def mixing_ops(self) -> Tuple[str, ...]:
        return self.mixing.op_names if self.mixing is not None else ()


def _is_mixing(name: str) -> bool:
    from augment_ops import registry

    return registry.get_op(name).family == registry.MIXING


def split_policy(policy) -> SplitPolicy:
    """Splits an augment_ops Policy into its image part and its mixing part, keeping each op's per-sample rate.

    A policy without mixing ops comes back unchanged as the image part.
    """
    from augment_ops.policy import SAMPLING_ALL, SAMPLING_RANDOM_N, Policy, PolicyOp

    image_ops = [op for op in policy.ops if not _is_mixing(op.name)]
    mixing_ops = [op for op in policy.ops if _is_mixing(op.name)]
    if not mixing_ops:
        return SplitPolicy(policy, None)
    # Share of samples that draw a given op (1 under sampling "all").
    draw_rate = policy.num_ops / len(policy.ops) if policy.sampling == SAMPLING_RANDOM_N else 1.0
    image = None
    if image_ops:
        if policy.sampling == SAMPLING_RANDOM_N:
            image_draws = min(policy.num_ops, len(image_ops))
            scale = draw_rate / (image_draws / len(image_ops))
            image = Policy(
                tuple(PolicyOp(op.name, op.magnitude, min(1.0, op.probability * scale)) for op in image_ops),
                sampling=SAMPLING_RANDOM_N, num_ops=image_draws,
                magnitude_sampling=policy.magnitude_sampling, name=policy.name,
            )
        else:
            image = dataclasses.replace(policy, ops=tuple(image_ops))
    mixing = Policy(
        tuple(PolicyOp(op.name, op.magnitude, min(1.0, op.probability * draw_rate)) for op in mixing_ops),
        sampling=SAMPLING_ALL, magnitude_sampling=policy.magnitude_sampling,
        name=(policy.name or "policy") + MIXING_PART_SUFFIX,
    )
    return SplitPolicy(image, mixing)


def mixing_seed(seed: int, step):
    """The stateless seed of the mixing part at train step `step` (an int or an int tensor)."""
    from augment_ops import seeds

    return seeds.fold_in(seeds.derive(seeds.as_seed(int(seed)), "policy_mixing"), step)


def apply_mixing(mixing_policy, images, targets, seed: int, step):
    """Runs the mixing part on a batch: (images [B,H,W,C], soft targets [B,K]), seeded by (seed, step).

    Works eagerly and inside a traced train step (`step` may be a tensor).
    """
    import tensorflow as tf

    from augment_ops.policy import apply_policy

    batch = apply_policy(
        mixing_policy, {"images": images, "labels": tf.cast(targets, images.dtype)}, mixing_seed(seed, step)
    )
    return batch["images"], tf.cast(batch["labels"], targets.dtype)


def read_policy(policy_uri: str):
    """The augment_ops Policy in the policy.json under `policy_uri` (read through tf.io.gfile).

    Raises:
      FileNotFoundError: when the artifact holds no policy.json.
    """
    import tensorflow as tf

    from augment_ops import policy as policy_lib  # Only when a policy is wired in.

    path = os.path.join(policy_uri, artifacts.POLICY_FILE_NAME)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"AugmentationPolicy artifact at {policy_uri} has no {artifacts.POLICY_FILE_NAME}.")
    return policy_lib.Policy.from_json(read_text(path))


@dataclasses.dataclass(frozen=True)
class PolicyAugmentation:
    """A loaded policy for a trainer that mixes labels.

    Attributes:
      policy: the policy as written.
      layer: AugmentationLayer of the image part (None when the policy only mixes).
      mixing: the mixing part (None when the policy has no mixing ops); give it
        to `trainer.fit(mixing_policy=...)`.
    """

    policy: object
    layer: Optional[object]
    mixing: Optional[object]


def load_augmentation(policy_uri: str, seed: int) -> PolicyAugmentation:
    """The policy under `policy_uri` split for a trainer: image layer plus mixing part.

    Raises:
      FileNotFoundError: when the artifact holds no policy.json.
    """
    from augment_ops import layers

    policy = read_policy(policy_uri)
    parts = split_policy(policy)
    layer = layers.AugmentationLayer(parts.image, seed=seed) if parts.image is not None else None
    if parts.mixing is not None:
        logger.info(
            "policy %s: image ops %s in the augmentation layer; mixing ops %s mix images and soft labels in the train step",
            policy.name, parts.image.op_names if parts.image is not None else "()", parts.mixing_ops,
        )
    return PolicyAugmentation(policy, layer, parts.mixing)


def load_augmentation_layer(policy_uri: str, seed: int, consumer: str = "this component"):
    """An augment_ops AugmentationLayer of the policy's image ops (for consumers that feed images only).

    Mixing ops (mixup, cutmix) need the batch's labels; a layer in front of
    the model never sees them, so they are dropped here with a log line
    naming `consumer`. A policy that only mixes gives the identity layer.
    Trainers that mix labels use `load_augmentation` instead.

    Raises:
      FileNotFoundError: when the artifact holds no policy.json.
    """
    from augment_ops import layers
    from augment_ops.policy import Policy

    policy = read_policy(policy_uri)
    parts = split_policy(policy)
    if parts.mixing is None:
        return layers.AugmentationLayer(policy, seed=seed)
    image = parts.image or Policy.from_ops([("identity", 0.0, 1.0)], name=policy.name or "identity")
    logger.warning(
        "%s: policy %s: mixing ops %s dropped (they need labels; %s feeds its augmentation layer images only); "
        "kept image ops %s", consumer, policy.name, list(parts.mixing_ops), consumer, list(image.op_names),
    )
    return layers.AugmentationLayer(image, seed=seed)
