"""Plots render to valid, non-empty PNGs in the edge cases that matter."""

import io

import numpy as np
from PIL import Image

from components.evaluation import metrics, plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _open(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _is_not_blank(image: Image.Image) -> bool:
    return len(set(np.asarray(image.convert("L")).ravel().tolist())) > 10


def test_confusion_matrix_png(tmp_path):
    png = plots.confusion_matrix_png([[5, 1], [0, 3]], ["cat", "dog"])
    image = _open(png)
    assert image.width > 100 and image.height > 100 and _is_not_blank(image)
    path = tmp_path / "confusion_matrix.png"
    path.write_bytes(png)
    assert path.stat().st_size > 1000


def test_confusion_matrix_with_many_classes_and_an_empty_row():
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 5, size=(80, 80))
    matrix[3] = 0  # A class with no examples must not divide by zero.
    image = _open(plots.confusion_matrix_png(matrix, [f"class_{i}" for i in range(80)]))
    assert _is_not_blank(image)


def test_reliability_diagram_with_empty_bins():
    bins = metrics.reliability_bins(np.array([0.95, 0.9, 0.55]), np.array([True, False, True]), 15)
    assert any(count == 0 for count in bins["count"])
    image = _open(plots.reliability_diagram_png(bins, 0.3))
    assert image.height > image.width * 0.8 and _is_not_blank(image)


def test_multilabel_confusion_png():
    stack = [[[3, 1], [0, 2]], [[6, 0], [0, 0]]]
    assert _is_not_blank(_open(plots.multilabel_confusion_png(stack, ["a", "b"])))

