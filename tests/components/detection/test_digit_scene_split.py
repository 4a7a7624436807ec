"""The detection benchmark's train and eval scenes draw on disjoint digit images that cover every class.

The MNIST-5k CSV is sorted by class, so halving it by position gave train
scenes digits 0-4 and eval scenes 5-9 (eval mAP@.5 0.018 for a detector
that fitted its train scenes); this guards the split that replaced it.
"""

import numpy as np
import pytest

from benchmarks.detection_segmentation_benchmark import split_digits


def test_every_class_in_both_pools_and_no_image_in_both():
    labels = np.repeat(np.arange(10), 50)  # sorted by class, like the CSV
    train, held_out = split_digits(labels, seed=0)
    assert not set(train) & set(held_out)
    assert len(train) + len(held_out) == len(labels)
    np.testing.assert_array_equal(np.bincount(labels[train]), np.full(10, 25))
    np.testing.assert_array_equal(np.bincount(labels[held_out]), np.full(10, 25))
    again, _ = split_digits(labels, seed=0)
    other, _ = split_digits(labels, seed=1)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)


def test_a_class_with_one_image_is_refused():
    with pytest.raises(ValueError, match="class 3"):
        split_digits(np.array([0, 0, 1, 1, 3]), seed=0)
