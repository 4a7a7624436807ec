"""Mixing ops (soft labels): mixup and cutmix.

Each sample is mixed with a partner from the same batch (a random
permutation drawn from the seed). Labels [B,K] are mixed in proportion to the
partner's share of the image. Boxes of the partner are appended after the
sample's own, so both ops return boxes [B,2N,4] and box_labels [B,2N]
(rows of inactive samples and dropped boxes are -1).
"""

import tensorflow as tf

from augment_ops import boxes as boxes_lib
from augment_ops import seeds
from augment_ops.batch import BOX_LABELS, BOX_PADDING_VALUE, BOXES, IMAGES, LABELS, MASKS, Batch, with_updates
from augment_ops.options import AugmentOptions

MAX_MIXUP_WEIGHT = 0.5  # partner weight drawn from U(0, 0.5 m)
MAX_CUTMIX_AREA = 0.5  # patch area fraction drawn from U(0, 0.5 m)


def _column(values):
    return tf.reshape(values, [-1, 1, 1, 1])


def _mixed_boxes(batch, partner, own_kept, partner_boxes, partner_kept):
    """Boxes [B,2N,4] and box labels [B,2N] after mixing with `partner`."""
    own = tf.cast(batch[BOXES], tf.float32)
    updates = {
        BOXES: tf.concat(
            [
                tf.where(own_kept[..., None], own, BOX_PADDING_VALUE),
                tf.where(partner_kept[..., None], partner_boxes, BOX_PADDING_VALUE),
            ],
            axis=1,
        )
    }
    if BOX_LABELS in batch:
        labels = batch[BOX_LABELS]
        minus_one = tf.cast(-1, labels.dtype)
        updates[BOX_LABELS] = tf.concat(
            [tf.where(own_kept, labels, minus_one), tf.where(partner_kept, tf.gather(labels, partner), minus_one)],
            axis=1,
        )
    return updates


def mixup(batch: Batch, magnitude, seed, options: AugmentOptions) -> Batch:
    """Blends each image with its partner by a weight drawn from U(0, 0.5 m).

    Masks keep the sample's own classes: the partner's weight is below one
    half, so the sample stays the dominant content at every pixel.
    """
    del options
    images = batch[IMAGES]
    batch_size = tf.shape(images)[0]
    partner = seeds.partners(seeds.derive(seed, "partner"), batch_size)
    weight = magnitude * MAX_MIXUP_WEIGHT * seeds.uniform(seeds.derive(seed, "weight"), [batch_size])
    updates = {IMAGES: images + _column(weight) * (tf.gather(images, partner) - images)}
    if LABELS in batch:
        labels = batch[LABELS]
        updates[LABELS] = labels + weight[:, None] * (tf.gather(labels, partner) - labels)
    if BOXES in batch:
        own_kept = boxes_lib.valid_boxes(tf.cast(batch[BOXES], tf.float32))
        partner_boxes = tf.gather(tf.cast(batch[BOXES], tf.float32), partner)
        partner_kept = tf.gather(own_kept, partner) & (weight > 0)[:, None]
        updates.update(_mixed_boxes(batch, partner, own_kept, partner_boxes, partner_kept))
    return with_updates(batch, **updates)


def _patch(magnitude, seed, height, width):
    """Per-sample patch (top, left, bottom, right) normalized, clipped to the image."""
    batch_size = tf.shape(magnitude)[0]
    draws = seeds.uniform(seed, [3, batch_size])
    area = magnitude * MAX_CUTMIX_AREA * draws[0]
    side = tf.sqrt(area)  # a square in normalized units
    center_y, center_x = draws[1], draws[2]
    top = tf.clip_by_value(center_y - side / 2.0, 0.0, 1.0)
    bottom = tf.clip_by_value(center_y + side / 2.0, 0.0, 1.0)
    left = tf.clip_by_value(center_x - side / 2.0, 0.0, 1.0)
    right = tf.clip_by_value(center_x + side / 2.0, 0.0, 1.0)
    # Snap to the pixel grid so the label weight equals the pasted pixel share.
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    top, bottom = tf.round(top * h) / h, tf.round(bottom * h) / h
    left, right = tf.round(left * w) / w, tf.round(right * w) / w
    return top, left, bottom, right


def _intersection_area(boxes, top, left, bottom, right):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    inter_h = tf.maximum(tf.minimum(ymax, bottom[:, None]) - tf.maximum(ymin, top[:, None]), 0.0)
    inter_w = tf.maximum(tf.minimum(xmax, right[:, None]) - tf.maximum(xmin, left[:, None]), 0.0)
    return inter_h * inter_w


def cutmix(batch: Batch, magnitude, seed, options: AugmentOptions) -> Batch:
    """Pastes a square patch of the partner (area up to 0.5 m of the image).

    Labels mix by the pasted pixel share. Masks take the partner's classes
    inside the patch. Own boxes are kept unless less than
    `options.min_box_visibility` of their area stays uncovered; partner boxes
    are clipped to the patch and kept if that much of them lies inside it.
    """
    images = batch[IMAGES]
    shape = tf.shape(images)
    batch_size, height, width = shape[0], shape[1], shape[2]
    partner = seeds.partners(seeds.derive(seed, "partner"), batch_size)
    top, left, bottom, right = _patch(magnitude, seeds.derive(seed, "patch"), height, width)
    rows = tf.reshape((tf.cast(tf.range(height), tf.float32) + 0.5) / tf.cast(height, tf.float32), [1, -1, 1, 1])
    cols = tf.reshape((tf.cast(tf.range(width), tf.float32) + 0.5) / tf.cast(width, tf.float32), [1, 1, -1, 1])
    inside = (rows >= _column(top)) & (rows < _column(bottom)) & (cols >= _column(left)) & (cols < _column(right))
    updates = {IMAGES: tf.where(inside, tf.gather(images, partner), images)}
    share = (bottom - top) * (right - left)
    if LABELS in batch:
        labels = batch[LABELS]
        updates[LABELS] = labels + share[:, None] * (tf.gather(labels, partner) - labels)
    if MASKS in batch:
        updates[MASKS] = tf.where(inside, tf.gather(batch[MASKS], partner), batch[MASKS])
    if BOXES in batch:
        own = tf.cast(batch[BOXES], tf.float32)
        own_valid = boxes_lib.valid_boxes(own)
        own_area = (own[..., 2] - own[..., 0]) * (own[..., 3] - own[..., 1])
        covered = _intersection_area(own, top, left, bottom, right)
        own_kept = own_valid & (own_area - covered >= options.min_box_visibility * own_area - 1e-6)
        partner_boxes = tf.gather(own, partner)
        clipped = tf.stack(
            [
                tf.maximum(partner_boxes[..., 0], top[:, None]),
                tf.maximum(partner_boxes[..., 1], left[:, None]),
                tf.minimum(partner_boxes[..., 2], bottom[:, None]),
                tf.minimum(partner_boxes[..., 3], right[:, None]),
            ],
            axis=-1,
        )
        partner_valid = tf.gather(own_valid, partner) & (share > 0)[:, None]
        clipped, partner_kept = boxes_lib.clip_and_filter(
            tf.where(partner_valid[..., None], clipped, BOX_PADDING_VALUE),
            partner_valid,
            height,
            width,
            options.min_box_visibility,
            options.min_box_size,
        )
        # Visibility of a partner box is its share inside the patch.
        partner_area = (partner_boxes[..., 2] - partner_boxes[..., 0]) * (partner_boxes[..., 3] - partner_boxes[..., 1])
        inside_area = _intersection_area(partner_boxes, top, left, bottom, right)
        partner_kept &= inside_area >= options.min_box_visibility * partner_area - 1e-6
        updates.update(_mixed_boxes(batch, partner, own_kept, clipped, partner_kept))
    return with_updates(batch, **updates)


MIXING_OPS = {"mixup": mixup, "cutmix": cutmix}
