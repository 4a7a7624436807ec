import numpy as np
import pytest
import tensorflow as tf

from components.common import synthetic_blend as blend
from components.types import features
from tests.support.canonical import write_classification_examples


def _dataset(values, batch=None):
    """Scalar 'images' tagged by value: real ones are >= 0, synthetic pools negative."""
    images = tf.reshape(tf.constant(values, tf.float32), [-1, 1, 1, 1])
    labels = tf.zeros([len(values)], tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return dataset.batch(batch) if batch else dataset


def _epoch(dataset):
    return np.concatenate([images.numpy().reshape(-1) for images, _ in dataset])


def test_each_epoch_has_all_real_and_ratio_times_real_synthetic_examples():
    real = _dataset(np.arange(40), batch=8)
    synthetic = _dataset(-1 - np.arange(100))
    dataset, per_epoch = blend.blended_train_dataset(real, [synthetic], ratio=0.5, seed=0, real_count=40, batch_size=16)
    assert per_epoch == 60
    first, second = _epoch(dataset), _epoch(dataset)
    for epoch in (first, second):
        assert len(epoch) == 60
        assert sorted(epoch[epoch >= 0]) == list(range(40))
        assert np.sum(epoch < 0) == 20 and len(set(epoch[epoch < 0])) == 20
    assert set(first[first < 0]) != set(second[second < 0])  # Fresh synthetic draw each epoch.
    assert np.any(np.where(first < 0)[0] < 30)  # Interleaved, not appended.


def test_blend_is_deterministic_for_a_seed():
    def run(seed):
        dataset, _ = blend.blended_train_dataset(
            _dataset(np.arange(20)), [_dataset(-1 - np.arange(50))], ratio=1.0, seed=seed, real_count=20, batch_size=8
        )
        return _epoch(dataset)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_ratio_zero_is_the_real_data_and_needs_no_synthetic():
    dataset, per_epoch = blend.blended_train_dataset(_dataset(np.arange(10), batch=4), [], 0.0, 0, 10, batch_size=5)
    assert per_epoch == 10 and list(_epoch(dataset)) == list(range(10))
    with pytest.raises(ValueError, match="no synthetic examples"):
        blend.blended_train_dataset(_dataset(np.arange(10)), [], 0.5, 0, 10, batch_size=5)
    with pytest.raises(ValueError, match=">= 0"):
        blend.synthetic_count(-0.1, 10)


def test_several_synthetic_pools_share_the_draw():
    pools = [_dataset(-1 - np.arange(50)), _dataset(-1000 - np.arange(50))]
    dataset, per_epoch = blend.blended_train_dataset(_dataset(np.arange(100)), pools, 1.0, 0, 100, batch_size=32)
    epoch = _epoch(dataset)
    assert per_epoch == 200 and len(epoch) == 200
    from_first, from_second = np.sum((epoch < 0) & (epoch > -1000)), np.sum(epoch <= -1000)
    assert from_first + from_second == 100 and 30 < from_first < 70


def test_repeated_real_data_mixes_at_the_ratio():
    real = _dataset(np.arange(50)).repeat()
    dataset, _ = blend.blended_train_dataset(real, [_dataset(-1 - np.arange(50))], 0.25, 0, 50, batch_size=100)
    values = np.concatenate([images.numpy().reshape(-1) for images, _ in dataset.take(20)])
    assert np.mean(values < 0) == pytest.approx(0.2, abs=0.03)


def test_examples_blend_reads_only_the_train_split_of_synthetic_artifacts(tmp_path):
    real_spec = write_classification_examples(str(tmp_path / "real"), str(tmp_path / "spec"), {"train": 12, "eval": 6})
    write_classification_examples(str(tmp_path / "synthetic"), str(tmp_path / "spec2"), {"train": 30}, seed=1)
    dataset, per_epoch = blend.train_dataset_with_synthetic(
        str(tmp_path / "real"), [str(tmp_path / "synthetic")], real_spec, batch_size=8, image_size=(12, 12),
        ratio=1.0, seed=0,
    )
    images = np.concatenate([batch.numpy() for batch, _ in dataset])
    assert per_epoch == 24 and images.shape == (24, 12, 12, 1)
    eval_only = tmp_path / "eval_only"
    write_classification_examples(str(eval_only), str(tmp_path / "spec3"), {features.EVAL_SPLIT: 4})
    with pytest.raises(FileNotFoundError, match="no files for split 'train'"):
        blend.train_dataset_with_synthetic(
            str(tmp_path / "real"), [str(eval_only)], real_spec, 8, (12, 12), ratio=0.5, seed=0
        )
