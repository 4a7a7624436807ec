"""Bounding-box formats, converted through one pivot: normalized (ymin, xmin, ymax, xmax).

Every format has one entry in `_TO_PIVOT` and one in `_FROM_PIVOT`, so adding a
format is two functions, and any pair converts in two steps with no
N-squared table. All functions are vectorized over leading axes: boxes are
`[..., 4]`, and they work on NumPy arrays (NumPy in, NumPy out, no TensorFlow
import, cheap inside Beam workers) and on TF tensors (graph- and XLA-safe).

Formats (coordinates in the last axis):
  tf              ymin, xmin, ymax, xmax   normalized to [0, 1] (the pivot; TF-OD API)
  voc             xmin, ymin, xmax, ymax   pixels (Pascal VOC)
  coco            xmin, ymin, width, height pixels (COCO)
  yolo            x_center, y_center, width, height normalized (YOLO)
  albumentations  xmin, ymin, xmax, ymax   normalized (albumentations "albumentations")
  anchor_encoded  ty, tx, th, tw relative to anchors (Faster R-CNN box coder)

Pixel formats need `image_size=(height, width)`; each entry may be a scalar or
an array broadcastable against `boxes[..., 0]` (one size per image).
`anchor_encoded` needs `anchors` `[..., 4]` in pivot form and takes
`scale_factors` (default (10, 10, 5, 5), the TF-OD Faster R-CNN setting).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

TF = "tf"
VOC = "voc"
COCO = "coco"
YOLO = "yolo"
ALBUMENTATIONS = "albumentations"
ANCHOR_ENCODED = "anchor_encoded"
PIVOT = TF

PIXEL_FORMATS = (VOC, COCO)
DEFAULT_SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)
# Keeps log() finite for zero-size boxes, as the TF-OD box coder does.
_EPSILON = 1e-8


class _NumpyOps:
    stack = staticmethod(lambda parts: np.stack(parts, axis=-1))
    log = staticmethod(np.log)
    exp = staticmethod(np.exp)

    @staticmethod
    def cast(value, like):
        return np.asarray(value, dtype=like.dtype)


class _TensorflowOps:
    def __init__(self):
        import tensorflow as tf  # Imported only for tensor inputs.

        self.tf = tf

    def stack(self, parts):
        return self.tf.stack(parts, axis=-1)

    def log(self, value):
        return self.tf.math.log(value)

    def exp(self, value):
        return self.tf.math.exp(value)

    def cast(self, value, like):
        return self.tf.cast(value, like.dtype)


def _is_numpy(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic, list, tuple, float, int))


def _prepare(boxes):
    """Returns (boxes, ops): NumPy float arrays stay NumPy, everything else is TF."""
    if _is_numpy(boxes):
        boxes = np.asarray(boxes)
        if not np.issubdtype(boxes.dtype, np.floating):
            boxes = boxes.astype(np.float32)
        return boxes, _NumpyOps
    ops = _TensorflowOps()
    boxes = ops.tf.convert_to_tensor(boxes)
    if not boxes.dtype.is_floating:
        boxes = ops.tf.cast(boxes, ops.tf.float32)
    return boxes, ops


def _split(boxes) -> Tuple[Any, Any, Any, Any]:
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def _size(image_size, boxes, ops, fmt: str):
    if image_size is None:
        raise ValueError(f"Box format {fmt!r} is in pixels: pass image_size=(height, width).")
    height, width = image_size
    return ops.cast(height, boxes), ops.cast(width, boxes)


# --- to pivot -------------------------------------------------------------------------------


def _tf_to_pivot(boxes, ops, **_):
    return boxes


def _voc_to_pivot(boxes, ops, image_size=None, **_):
    height, width = _size(image_size, boxes, ops, VOC)
    xmin, ymin, xmax, ymax = _split(boxes)
    return ops.stack([ymin / height, xmin / width, ymax / height, xmax / width])


def _coco_to_pivot(boxes, ops, image_size=None, **_):
    height, width = _size(image_size, boxes, ops, COCO)
    xmin, ymin, box_width, box_height = _split(boxes)
    return ops.stack([ymin / height, xmin / width, (ymin + box_height) / height, (xmin + box_width) / width])


def _yolo_to_pivot(boxes, ops, **_):
    x_center, y_center, box_width, box_height = _split(boxes)
    return ops.stack(
        [y_center - box_height / 2, x_center - box_width / 2, y_center + box_height / 2, x_center + box_width / 2]
    )


def _albumentations_to_pivot(boxes, ops, **_):
    xmin, ymin, xmax, ymax = _split(boxes)
    return ops.stack([ymin, xmin, ymax, xmax])


def _centers(boxes):
    """Pivot boxes -> (y_center, x_center, height, width)."""
    ymin, xmin, ymax, xmax = _split(boxes)
    return (ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin


def _anchors_and_scales(boxes, ops, anchors, scale_factors):
    if anchors is None:
        raise ValueError(f"Box format {ANCHOR_ENCODED!r} needs anchors=[..., 4] (normalized yxyx).")
    anchors = ops.cast(anchors, boxes)
    scales = [float(value) for value in (scale_factors or DEFAULT_SCALE_FACTORS)]
    if len(scales) != 4 or min(scales) <= 0:
        raise ValueError(f"scale_factors must be 4 positive numbers, got {scale_factors!r}.")
    return anchors, scales


def _anchor_encoded_to_pivot(boxes, ops, anchors=None, scale_factors=None, **_):
    """Decodes (ty, tx, th, tw) offsets: the inverse of `_pivot_to_anchor_encoded`."""
    anchors, scales = _anchors_and_scales(boxes, ops, anchors, scale_factors)
    anchor_y, anchor_x, anchor_height, anchor_width = _centers(anchors)
    anchor_height, anchor_width = anchor_height + _EPSILON, anchor_width + _EPSILON
    ty, tx, th, tw = _split(boxes)
    height = ops.exp(th / scales[2]) * anchor_height - _EPSILON
    width = ops.exp(tw / scales[3]) * anchor_width - _EPSILON
    y_center = ty / scales[0] * anchor_height + anchor_y
    x_center = tx / scales[1] * anchor_width + anchor_x
    return ops.stack([y_center - height / 2, x_center - width / 2, y_center + height / 2, x_center + width / 2])


# --- from pivot -----------------------------------------------------------------------------


def _pivot_to_voc(boxes, ops, image_size=None, **_):
    height, width = _size(image_size, boxes, ops, VOC)
    ymin, xmin, ymax, xmax = _split(boxes)
    return ops.stack([xmin * width, ymin * height, xmax * width, ymax * height])


def _pivot_to_coco(boxes, ops, image_size=None, **_):
    height, width = _size(image_size, boxes, ops, COCO)
    ymin, xmin, ymax, xmax = _split(boxes)
    return ops.stack([xmin * width, ymin * height, (xmax - xmin) * width, (ymax - ymin) * height])


def _pivot_to_yolo(boxes, ops, **_):
    y_center, x_center, height, width = _centers(boxes)
    return ops.stack([x_center, y_center, width, height])


def _pivot_to_albumentations(boxes, ops, **_):
    ymin, xmin, ymax, xmax = _split(boxes)
    return ops.stack([xmin, ymin, xmax, ymax])


def _pivot_to_anchor_encoded(boxes, ops, anchors=None, scale_factors=None, **_):
    """Faster R-CNN box coder: center offsets in anchor units, log size ratios, times scales."""
    anchors, scales = _anchors_and_scales(boxes, ops, anchors, scale_factors)
    anchor_y, anchor_x, anchor_height, anchor_width = _centers(anchors)
    anchor_height, anchor_width = anchor_height + _EPSILON, anchor_width + _EPSILON
    y_center, x_center, height, width = _centers(boxes)
    height, width = height + _EPSILON, width + _EPSILON
    return ops.stack(
        [
            (y_center - anchor_y) / anchor_height * scales[0],
            (x_center - anchor_x) / anchor_width * scales[1],
            ops.log(height / anchor_height) * scales[2],
            ops.log(width / anchor_width) * scales[3],
        ]
    )


Converter = Callable[..., Any]

_TO_PIVOT: Dict[str, Converter] = {
    TF: _tf_to_pivot,
    VOC: _voc_to_pivot,
    COCO: _coco_to_pivot,
    YOLO: _yolo_to_pivot,
    ALBUMENTATIONS: _albumentations_to_pivot,
    ANCHOR_ENCODED: _anchor_encoded_to_pivot,
}

_FROM_PIVOT: Dict[str, Converter] = {
    TF: _tf_to_pivot,
    VOC: _pivot_to_voc,
    COCO: _pivot_to_coco,
    YOLO: _pivot_to_yolo,
    ALBUMENTATIONS: _pivot_to_albumentations,
    ANCHOR_ENCODED: _pivot_to_anchor_encoded,
}

FORMATS = tuple(sorted(_TO_PIVOT))


def _lookup(table: Dict[str, Converter], fmt: str) -> Converter:
    try:
        return table[fmt]
    except KeyError:
        raise ValueError(f"Unknown box format {fmt!r}; expected one of {FORMATS}.") from None


def to_pivot(
    boxes,
    fmt: str,
    image_size: Optional[Sequence[Any]] = None,
    anchors=None,
    scale_factors: Optional[Sequence[float]] = None,
):
    """Converts `[..., 4]` boxes in `fmt` to normalized (ymin, xmin, ymax, xmax)."""
    converter = _lookup(_TO_PIVOT, fmt)
    boxes, ops = _prepare(boxes)
    return converter(boxes, ops, image_size=image_size, anchors=anchors, scale_factors=scale_factors)


def from_pivot(
    boxes,
    fmt: str,
    image_size: Optional[Sequence[Any]] = None,
    anchors=None,
    scale_factors: Optional[Sequence[float]] = None,
):
    """Converts `[..., 4]` normalized (ymin, xmin, ymax, xmax) boxes to `fmt`."""
    converter = _lookup(_FROM_PIVOT, fmt)
    boxes, ops = _prepare(boxes)
    return converter(boxes, ops, image_size=image_size, anchors=anchors, scale_factors=scale_factors)


def convert(
    boxes,
    source: str,
    target: str,
    image_size: Optional[Sequence[Any]] = None,
    anchors=None,
    scale_factors: Optional[Sequence[float]] = None,
):
    """Converts `[..., 4]` boxes between any two formats through the pivot."""
    pivot = to_pivot(boxes, source, image_size=image_size, anchors=anchors, scale_factors=scale_factors)
    return from_pivot(pivot, target, image_size=image_size, anchors=anchors, scale_factors=scale_factors)


def encode_with_anchors(boxes, anchors, scale_factors: Sequence[float] = DEFAULT_SCALE_FACTORS):
    """Pivot boxes `[..., 4]` -> (ty, tx, th, tw) regression targets against `anchors` `[..., 4]`."""
    return from_pivot(boxes, ANCHOR_ENCODED, anchors=anchors, scale_factors=scale_factors)


def decode_with_anchors(encoded, anchors, scale_factors: Sequence[float] = DEFAULT_SCALE_FACTORS):
    """(ty, tx, th, tw) `[..., 4]` predicted against `anchors` -> pivot boxes."""
    return to_pivot(encoded, ANCHOR_ENCODED, anchors=anchors, scale_factors=scale_factors)
