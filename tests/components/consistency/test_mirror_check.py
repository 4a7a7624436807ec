"""The mirror check: mirroring is switched off only when mirrored held-out images lose their labels beyond the noise."""

import keras
import numpy as np

from components.consistency import mirror_check


def _blob_images(classes: np.ndarray, side_of_class, size: int = 12, seed: int = 0) -> np.ndarray:
    """One bright 3x3 blob per image at a jittered spot; `side_of_class(label)` puts it left (0) or right (1)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.1, size=(len(classes), size, size, 1)).astype("float32")
    for index, label in enumerate(classes):
        row = rng.integers(2, size - 5)
        column = rng.integers(1, 3) if side_of_class(label) == 0 else rng.integers(size - 5, size - 3)
        images[index, row:row + 3, column:column + 3, 0] = 1.0
    return images


def _bar_images(classes: np.ndarray, size: int = 12, seed: int = 0) -> np.ndarray:
    """Class 0: a horizontal bar, class 1: a vertical one, anywhere: a mirror keeps the class."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.1, size=(len(classes), size, size, 1)).astype("float32")
    for index, label in enumerate(classes):
        row, column = rng.integers(1, size - 7, size=2)
        if label == 0:
            images[index, row + 3, column:column + 6, 0] = 1.0
        else:
            images[index, row:row + 6, column + 3, 0] = 1.0
    return images


def _model():
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def _labels(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=count)


def test_position_classes_change_label_when_mirrored_so_mirroring_is_switched_off():
    train_labels, eval_labels = _labels(96, 1), _labels(60, 2)
    side = lambda label: label  # noqa: E731  class 0 left, class 1 right: a mirror swaps the classes
    check = mirror_check.check_mirroring(
        _model, _blob_images(train_labels, side, seed=3), train_labels, _blob_images(eval_labels, side, seed=4),
        eval_labels, num_classes=2, seed=0, steps=120)
    assert check.accuracy > 0.9 and check.mirrored_accuracy < 0.2
    assert not check.mirror and "no mirroring" in check.reason and len(check.reason) <= 300
    assert check.lost_interval[0] > 0.5 and check.images == 60


def test_orientation_classes_keep_their_label_when_mirrored_so_mirroring_stays():
    train_labels, eval_labels = _labels(96, 5), _labels(60, 6)
    check = mirror_check.check_mirroring(
        _model, _bar_images(train_labels, seed=7), train_labels, _bar_images(eval_labels, seed=8), eval_labels,
        num_classes=2, seed=0, steps=120)
    assert check.accuracy > 0.9 and check.mirror and "keeps labels" in check.reason


def test_the_same_seed_gives_the_same_check():
    labels = _labels(64, 9)
    images = _bar_images(labels, seed=10)
    first = mirror_check.check_mirroring(_model, images, labels, images[:32], labels[:32], 2, seed=3, steps=20)
    second = mirror_check.check_mirroring(_model, images, labels, images[:32], labels[:32], 2, seed=3, steps=20)
    assert first == second


def test_decide_needs_a_large_loss_beyond_the_noise_and_a_model_above_chance():
    right = np.ones(100)
    # Lost 10 of 100 with a 95%-accurate model on 10 classes: within a fifth of the above-chance accuracy: kept.
    assert mirror_check.decide(right, np.r_[np.zeros(10), np.ones(90)], 10).mirror
    # Lost 40 of 100: mirroring relabels.
    assert not mirror_check.decide(right, np.r_[np.zeros(40), np.ones(60)], 10).mirror
    # A model at chance cannot tell; mirroring stays even though the mirrored images score 0.
    weak = np.r_[np.ones(10), np.zeros(90)]
    decided = mirror_check.decide(weak, np.zeros(100), 10)
    assert decided.mirror and "too weak" in decided.reason
    # 4 of 4 images lost: four coin flips landing one way are not beyond the noise (exact bound below 0): kept.
    few = mirror_check.decide(np.ones(4), np.zeros(4), 2)
    assert few.mirror and few.lost_interval[0] < 0 < few.lost_interval[1]


def test_mirrored_flips_the_width_axis():
    images = np.arange(2 * 2 * 3 * 1, dtype="float32").reshape(2, 2, 3, 1)
    np.testing.assert_array_equal(mirror_check.mirrored(images)[:, :, 0], images[:, :, 2])
