"""Keras layers the detector adds to keras-hub's RetinaNet (registered for `model.keras` loading).

`ForceMatchingLabelEncoder`: RetinaNet's IoU matcher leaves a ground-truth
box without any positive anchor when no anchor reaches IoU 0.5 with it
(small, thin or odd-shaped objects), so such objects are never learned.
Detectors since Faster R-CNN also match every box to its best anchor.
keras-hub 0.25.1 has a flag for that (`box_matcher_force_match_for_each_col`)
but it force-matches its own padding column too and then gathers out of
range; this matcher does the force match on the real columns only
(ground-truth boxes with some overlap, so padded -1 boxes are skipped).
"""

from __future__ import annotations

import keras
from keras import ops
from keras_hub.src.layers.modeling.box_matcher import BoxMatcher
from keras_hub.src.models.retinanet.retinanet_label_encoder import RetinaNetLabelEncoder

POSITIVE_MATCH = 1


class ForceMatchingBoxMatcher(BoxMatcher):
    """BoxMatcher whose every real column (ground-truth box) gets at least its best row (anchor)."""

    def call(self, similarity_matrix):
        """Args: similarity_matrix `[B, anchors, boxes]` IoU. Returns (matched box index, match value) `[B, anchors]`."""
        matched_columns, matched_values = super().call(similarity_matrix)
        num_rows = ops.shape(similarity_matrix)[1]
        best_rows = ops.argmax(similarity_matrix, axis=1)  # [B, boxes]
        real = ops.cast(ops.max(similarity_matrix, axis=1) > 0.0, similarity_matrix.dtype)  # [B, boxes]
        mapping = ops.one_hot(best_rows, num_rows, dtype=similarity_matrix.dtype) * real[..., None]  # [B, boxes, anchors]
        forced = ops.max(mapping, axis=1) > 0.0  # [B, anchors]
        forced_columns = ops.cast(ops.argmax(mapping, axis=1), "int32")
        matched_columns = ops.where(forced, forced_columns, ops.cast(matched_columns, "int32"))
        matched_values = ops.where(forced, POSITIVE_MATCH, matched_values)
        return matched_columns, matched_values


@keras.saving.register_keras_serializable(package="tfx_autofit")
class ForceMatchingLabelEncoder(RetinaNetLabelEncoder):
    """RetinaNetLabelEncoder with `ForceMatchingBoxMatcher` (same config, same targets otherwise)."""

    def __init__(self, *args, **kwargs):
        kwargs.pop("box_matcher_force_match_for_each_col", None)
        super().__init__(*args, **kwargs)
        self.box_matcher = ForceMatchingBoxMatcher(
            thresholds=[self.negative_threshold, self.positive_threshold],
            match_values=[-1, -2, POSITIVE_MATCH],
            force_match_for_each_col=False,
        )
