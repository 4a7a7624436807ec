"""augment_ops: image augmentations in pure TensorFlow, batched, box- and mask-aware.

Every op takes a batch [B,H,W,C] float in [0,1] (or a batch dict with
labels, boxes, box_labels, masks), a per-sample magnitude in [0,1] (identity
at 0) and a per-sample apply probability, and draws its randomness from an
explicit seed. Imports nothing from components/ or pipelines/.

    from augment_ops import apply_op, rand_augment, scaffold
    images = apply_op("rotate", images, magnitude=0.5, probability=0.8, seed=1)
    training_model, bare_model = scaffold(model, rand_augment(2, 0.3), seed=0)
"""

from augment_ops.batch import BATCH_KEYS, MASK_IGNORE_VALUE
from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy, PolicyOp, apply_policy, rand_augment, trivial_augment
from augment_ops.registry import FAMILIES, OPS, XLA_UNSUPPORTED_OPS, apply_op, get_op, op_names

# Keras pieces import keras; reach them as augment_ops.layers.AugmentationLayer / scaffold.

__all__ = [
    "BATCH_KEYS",
    "MASK_IGNORE_VALUE",
    "AugmentOptions",
    "Policy",
    "PolicyOp",
    "apply_policy",
    "rand_augment",
    "trivial_augment",
    "FAMILIES",
    "OPS",
    "XLA_UNSUPPORTED_OPS",
    "apply_op",
    "get_op",
    "op_names",
]
