import os

import numpy as np
import pytest
import tensorflow as tf

from components.synthesis import feature_networks, style_transfer
from tests.components.synthesis.tiny_data import stripe_arrays


def _checkerboard(size=48, channels=3):
    rows, cols = np.mgrid[0:size, 0:size]
    board = (((rows // 3) + (cols // 3)) % 2).astype(np.float32)
    image = np.stack([board, 1 - board, 0.5 * np.ones_like(board)], axis=-1)
    return image[..., :channels] if channels == 3 else board[..., None]


@pytest.fixture(scope="module")
def transfer():
    network = feature_networks.StyleFeatures("random_cnn", channels=1, seed=0)
    return style_transfer.StyleTransfer(network, [_checkerboard(channels=1), np.full((40, 40, 1), 0.5, np.float32)],
                                        content_size=(12, 12))


def test_stylize_keeps_the_image_size_and_changes_the_image(transfer):
    content, _ = stripe_arrays(5, size=12)
    stylized, stats = transfer.stylize(content, np.array([0, 1, 0, 1, 0]), style_weight=5.0, steps=30,
                                       learning_rate=0.05, batch_size=4)
    assert stylized.shape == content.shape and stylized.dtype == np.float32
    assert 0.0 <= stylized.min() and stylized.max() <= 1.0
    assert np.mean(np.abs(stylized - content)) > 0.01
    assert stats["final_style_loss"] < 1.0  # Normalized: 1.0 is where the content image starts.
    assert stats["seconds"] > 0 and stats["images_per_second"] > 0


def test_zero_style_weight_returns_the_content_image(transfer):
    content, _ = stripe_arrays(3, size=12)
    stylized, stats = transfer.stylize(content, np.array([0, 1, 1]), style_weight=0.0, steps=10, learning_rate=0.05)
    np.testing.assert_allclose(stylized, content, atol=1e-6)
    assert stats["final_content_loss"] < 1e-8


def test_more_style_weight_moves_further_from_the_content(transfer):
    content, _ = stripe_arrays(2, size=12)
    ids = np.array([0, 0])
    light, _ = transfer.stylize(content, ids, style_weight=0.2, steps=20, learning_rate=0.05)
    heavy, _ = transfer.stylize(content, ids, style_weight=20.0, steps=20, learning_rate=0.05)
    assert np.mean(np.abs(heavy - content)) > np.mean(np.abs(light - content))


def test_stylize_rejects_bad_style_ids(transfer):
    content, _ = stripe_arrays(2, size=12)
    with pytest.raises(ValueError, match="Style ids must be in"):
        transfer.stylize(content, np.array([0, 2]))
    with pytest.raises(ValueError, match="2 content images but 1 style ids"):
        transfer.stylize(content, np.array([0]))


def test_default_styles_are_shipped_photos_converted_to_grayscale_for_gray_data():
    paths = style_transfer.default_style_paths()
    names = [os.path.basename(path) for path in paths]
    assert "china.jpg" in names and "flower.jpg" in names
    gray = style_transfer.load_style_image(paths[0], channels=1)
    color = style_transfer.load_style_image(paths[0], channels=3)
    assert gray.shape[-1] == 1 and color.shape[-1] == 3 and gray.shape[:2] == color.shape[:2]
    np.testing.assert_allclose(gray, tf.image.rgb_to_grayscale(color).numpy(), atol=1e-5)


def test_style_folder_errors_name_the_folder_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no images"):
        style_transfer.style_paths_in(str(tmp_path))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert style_transfer.style_paths_in(str(tmp_path)) == [str(broken)]
    with pytest.raises(ValueError, match="broken.png cannot be decoded"):
        style_transfer.load_style_image(str(broken), channels=3)
    with pytest.raises(ValueError, match="1- or 3-channel"):
        style_transfer.load_style_image(str(broken), channels=4)


def test_assign_styles_is_seeded_balanced_and_distinct_per_image():
    ids = style_transfer.assign_styles(10, num_styles=3, renders_per_image=2, seed=4)
    assert ids.shape == (10, 2)
    assert all(row[0] != row[1] for row in ids)
    counts = np.bincount(ids[:, 0], minlength=3)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(ids, style_transfer.assign_styles(10, 3, 2, seed=4))
    with pytest.raises(ValueError, match="renders_per_image"):
        style_transfer.assign_styles(4, num_styles=2, renders_per_image=3, seed=0)


def test_vgg19_weights_from_disk_drive_the_same_transfer(tmp_path):
    import keras

    weights = str(tmp_path / "vgg19_notop.weights.h5")
    keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3)).save_weights(weights)
    network = feature_networks.StyleFeatures("vgg19", channels=1, vgg_weights_path=weights)
    transfer = style_transfer.StyleTransfer(network, [_checkerboard(channels=1)], content_size=(12, 12))
    content, _ = stripe_arrays(2, size=12)
    stylized, _ = transfer.stylize(content, np.array([0, 0]), style_weight=1.0, steps=2, learning_rate=0.05)
    assert stylized.shape == content.shape
    with pytest.raises(FileNotFoundError, match="VGG19 weights file"):
        feature_networks.StyleFeatures("vgg19", channels=3, vgg_weights_path=str(tmp_path / "missing.h5"))
