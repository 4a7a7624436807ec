"""The augmentation layer an AugmentationPolicy artifact describes."""

from __future__ import annotations

import os

import tensorflow as tf

from components.common.artifact_io import read_text
from components.types import artifacts


def load_augmentation_layer(policy_uri: str, seed: int):
    """An augment_ops AugmentationLayer from the policy.json under `policy_uri` (read through tf.io.gfile).

    Raises:
      FileNotFoundError: when the artifact holds no policy.json.
    """
    from augment_ops import layers, policy  # Only when a policy is wired in.

    path = os.path.join(policy_uri, artifacts.POLICY_FILE_NAME)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"AugmentationPolicy artifact at {policy_uri} has no {artifacts.POLICY_FILE_NAME}.")
    loaded = policy.Policy.from_json(read_text(path))
    return layers.AugmentationLayer(loaded, seed=seed)
