"""Image, mask and box validation for one record (PIL, NumPy, pycocotools; no Beam).

Every check raises `RecordError` with a reason a person can act on; the
decode stage turns it into a rejection of that record alone.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any, BinaryIO, Dict, Sequence, Tuple

import numpy as np
from PIL import Image

from augment_ops import box_formats
from components.types import features

# PIL modes kept as they are, and their channel counts.
CHANNELS_OF_MODE = {"L": 1, "RGB": 3, "RGBA": 4}
MODE_OF_CHANNELS = {channels: mode for mode, channels in CHANNELS_OF_MODE.items()}
# Modes converted before writing (alpha of LA dropped, palettes expanded).
_CONVERTED_MODES = {"1": "L", "LA": "L", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}
_KEPT_FORMATS = ("PNG", "JPEG")


class RecordError(ValueError):
    """One record is bad; the message is the reason in the rejected-records report."""


@dataclasses.dataclass(frozen=True)
class CheckedImage:
    encoded: bytes
    height: int
    width: int
    channels: int


def encode_png(array: np.ndarray) -> bytes:
    """`[H, W]` or `[H, W, C]` uint8 -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _open(data: bytes, what: str) -> Image.Image:
    if not data:
        raise RecordError(f"empty {what} file")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise RecordError(f"corrupt or truncated {what} ({type(error).__name__}: {error})") from None
    return image


def _written_mode(image: Image.Image) -> str:
    """The PIL mode the image is written in (L, RGB or RGBA); raises for other pixel types."""
    if image.mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
    else:
        mode = _CONVERTED_MODES.get(image.mode, image.mode)
    if mode not in CHANNELS_OF_MODE:
        raise RecordError(f"unsupported pixel type {image.mode!r} (8-bit L, RGB or RGBA images only)")
    return mode


def probe_channels(handle: BinaryIO) -> int:
    """Channels the image will have once written, from its header only (no pixels decoded).

    Raises:
      RecordError: the header is unreadable or the pixel type unsupported.
    """
    try:
        with Image.open(handle) as image:
            return CHANNELS_OF_MODE[_written_mode(image)]
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        if isinstance(error, RecordError):
            raise
        raise RecordError(f"unreadable image header ({type(error).__name__}: {error})") from None


def check_image(data: bytes) -> CheckedImage:
    """Decodes and validates an image; keeps PNG/JPEG bytes, re-encodes anything else to PNG."""
    image = _open(data, "image")
    mode = _written_mode(image)
    width, height = image.size
    if mode == image.mode and image.format in _KEPT_FORMATS:
        encoded = data
    else:
        encoded = encode_png(np.asarray(image.convert(mode)))
    return CheckedImage(encoded=encoded, height=height, width=width, channels=CHANNELS_OF_MODE[mode])


def convert_channels(encoded: bytes, channels: int) -> bytes:
    """Re-encodes an image as PNG with `channels` channels (1, 3 or 4)."""
    image = _open(encoded, "image")
    return encode_png(np.asarray(image.convert(MODE_OF_CHANNELS[channels])))


def check_mask(data: bytes, num_classes: int, size: Tuple[int, int]) -> Tuple[bytes, Tuple[int, ...]]:
    """Class-id PNG -> (grayscale PNG of class ids, classes present); 255 is 'ignore'."""
    image = _open(data, "mask")
    if image.mode not in ("P", "L"):
        raise RecordError(f"mask must be a palette or grayscale PNG of class ids, got mode {image.mode!r}")
    ids = np.asarray(image, dtype=np.uint8)
    if ids.shape != tuple(size):
        raise RecordError(f"mask is {ids.shape[1]}x{ids.shape[0]} but the image is {size[1]}x{size[0]}")
    present = [int(value) for value in np.unique(ids) if value != features.MASK_IGNORE_VALUE]
    unknown = [value for value in present if value >= num_classes]
    if unknown:
        raise RecordError(f"mask has unknown class ids {unknown} (class list has {num_classes} classes)")
    return encode_png(ids), tuple(present)


def _rle(segmentation: Any, size: Tuple[int, int]):
    from pycocotools import mask as mask_utils  # Imported where masks are made.

    height, width = size
    if isinstance(segmentation, list):
        if not segmentation or not all(
            isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0 for polygon in segmentation
        ):
            raise RecordError("malformed polygon segmentation (need lists of >= 3 x,y pairs)")
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        if list(segmentation["size"]) != [height, width]:
            raise RecordError(f"RLE size {segmentation['size']} differs from image size {[height, width]}")
        if isinstance(segmentation["counts"], list):
            return mask_utils.frPyObjects(segmentation, height, width)
        counts = segmentation["counts"]
        return {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    raise RecordError("malformed segmentation (expected polygons or RLE)")


def rasterize(
    polygons: Sequence[Tuple[str, Any]], class_index: Dict[str, int], size: Tuple[int, int]
) -> Tuple[bytes, Tuple[int, ...]]:
    """COCO segmentations -> (grayscale PNG of class ids `[H, W]`, classes present); later ones on top."""
    from pycocotools import mask as mask_utils

    ids = np.zeros(size, dtype=np.uint8)
    for index, (name, segmentation) in enumerate(polygons):
        if name not in class_index:
            raise RecordError(f"unknown class {name!r} (not in the class list)")
        try:
            binary = mask_utils.decode(_rle(segmentation, size))
        except (TypeError, ValueError) as error:
            raise RecordError(f"malformed segmentation {index}: {error}") from None
        ids[binary > 0] = class_index[name]
    present = tuple(int(value) for value in np.unique(ids))
    return encode_png(ids), present


def check_boxes(boxes: Sequence[Sequence[float]], fmt: str, size: Tuple[int, int], tolerance: float) -> np.ndarray:
    """Boxes in `fmt` -> `[N, 4]` normalized yxyx, clipped; raises on out-of-range or degenerate boxes."""
    source = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    for index in np.flatnonzero(~np.all(np.isfinite(source), axis=1)):
        raise RecordError(f"box {index} {source[index].tolist()} ({fmt}) has non-finite coordinates")
    pivot = np.asarray(box_formats.to_pivot(source, fmt, image_size=size))
    outside = np.any((pivot < -tolerance) | (pivot > 1 + tolerance), axis=1)
    for index in np.flatnonzero(outside):
        raise RecordError(
            f"box {index} {source[index].tolist()} ({fmt}) lies outside the {size[1]}x{size[0]} image"
        )
    pivot = np.clip(pivot, 0.0, 1.0)
    degenerate = (pivot[:, 2] <= pivot[:, 0]) | (pivot[:, 3] <= pivot[:, 1])
    for index in np.flatnonzero(degenerate):
        raise RecordError(f"box {index} {source[index].tolist()} ({fmt}) is degenerate (zero or negative size)")
    return pivot
