"""load_segmentation_split: masks decoded with nearest-neighbour resizing; bad records named."""

import numpy as np
import pytest

from components.types.segmentation_io import load_segmentation_split
from tests.components.segmentation.scenes import shape_masks, write_segmentation_examples


def test_masks_round_trip_and_resize_without_blending(tmp_path):
    spec = write_segmentation_examples(str(tmp_path / "ex"), str(tmp_path / "ds"), {"train": 3}, size=32, seed=4)
    images, masks, sources = load_segmentation_split(str(tmp_path / "ex"), "train", spec)
    _, expected = shape_masks(3, 32, 4)
    np.testing.assert_array_equal(masks, expected)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.float32 and list(sources) == [
        b"train/0.png", b"train/1.png", b"train/2.png"
    ]
    _, small, _ = load_segmentation_split(str(tmp_path / "ex"), "train", spec, image_size=(16, 16))
    assert small.shape == (3, 16, 16) and set(np.unique(small)) <= {0, 1, 2}  # nearest: no blended ids


def test_missing_mask_and_wrong_task_are_named(tmp_path):
    spec = write_segmentation_examples(
        str(tmp_path / "ex"), str(tmp_path / "ds"), {"train": 2}, size=16, drop_mask_of="train/1.png"
    )
    with pytest.raises(ValueError, match="'train/1.png'.*no 'mask/encoded'"):
        load_segmentation_split(str(tmp_path / "ex"), "train", spec)
    spec.task = "detection"
    with pytest.raises(ValueError, match="reads segmentation data"):
        load_segmentation_split(str(tmp_path / "ex"), "train", spec)
