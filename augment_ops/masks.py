"""Segmentation masks (class ids, [B,H,W,1]) under geometric ops and occlusion.

Masks move with the same matrices as images but with nearest-neighbour
sampling, so class ids are never blended; pixels with no source and occluded
pixels get MASK_IGNORE_VALUE.
"""

import tensorflow as tf

from augment_ops import warp
from augment_ops.batch import MASK_IGNORE_VALUE

_TRANSFORMABLE = (tf.uint8, tf.int32, tf.int64, tf.float16, tf.float32, tf.float64)


def warp_masks(masks: tf.Tensor, pixel_transforms: tf.Tensor, backend: str = "gather", per_image: bool = False):
    """Resamples masks with output->input pixel transforms.

    Args:
      masks: [B,H,W,1] class ids (uint8, int32, int64 or float).
      pixel_transforms: [B,8] ImageProjectiveTransformV3 parameters, the same
        ones used for the images.

    Returns:
      [B,H,W,1] masks of the input dtype; areas without a source pixel are
      MASK_IGNORE_VALUE.
    """
    dtype = masks.dtype
    work = masks if dtype in _TRANSFORMABLE else tf.cast(masks, tf.int32)
    warped = warp.warp(work, pixel_transforms, "nearest", MASK_IGNORE_VALUE, backend, per_image)
    return tf.cast(warped, dtype)


def occlude_masks(masks: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    """Marks occluded pixels as unknown.

    Args:
      masks: [B,H,W,1] class ids.
      keep: bool [B,H,W,1], False where the image was occluded.

    Returns:
      [B,H,W,1] masks with MASK_IGNORE_VALUE where `keep` is False.
    """
    return tf.where(keep, masks, tf.cast(MASK_IGNORE_VALUE, masks.dtype))
