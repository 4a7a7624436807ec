"""Blending synthetic examples into a real training set at a given ratio.

Per epoch the model sees every real example once plus `round(ratio x real
count)` synthetic ones, drawn afresh each epoch from the synthetic pool(s)
and interleaved at random with the real ones. Ravuri & Vinyals (2019) showed
that generated images do not replace real ones, so the ratio is a searched
hyperparameter (blend_search), and only the `train` split is ever blended.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import tensorflow as tf

from components.types import examples_io, features
from components.types.data_spec import DataSpecContent


def synthetic_count(ratio: float, real_count: int) -> int:
    """Synthetic examples per epoch for `ratio` of `real_count` real ones."""
    if ratio < 0:
        raise ValueError(f"The synthetic ratio must be >= 0; got {ratio}.")
    return int(round(ratio * real_count))


def _unbatched(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Unbatches a `(images [B,H,W,C], targets, ...)` dataset; leaves `[H,W,C]` elements alone."""
    images_spec = tf.nest.flatten(dataset.element_spec)[0]
    return dataset.unbatch() if images_spec.shape.rank == 4 else dataset


def _batched(dataset: tf.data.Dataset, batch_size: int, count: int) -> tf.data.Dataset:
    """Batches; a finite dataset gets its known length so Keras sizes epochs without hitting the end."""
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    batches = -(-count // batch_size)
    dataset = dataset.batch(batch_size).apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def blended_train_dataset(
    real_dataset: tf.data.Dataset,
    synthetic_datasets: Sequence[tf.data.Dataset],
    ratio: float,
    seed: int,
    real_count: int,
    batch_size: int,
) -> Tuple[tf.data.Dataset, int]:
    """Real plus synthetic examples, batched; returns (dataset, examples per epoch).

    Args:
      real_dataset: `(images, targets)` batched `[B,H,W,C]` or not, already
        shuffled; finite (one epoch) or repeated (`steps_per_epoch` training).
      synthetic_datasets: datasets with the same element structure (same image
        size and target encoding); each epoch's draw is spread evenly over them.
      ratio: synthetic examples per real example (0 disables blending).
      seed: seeds the synthetic shuffles and the interleaving.
      real_count: real examples per epoch (the size of `real_dataset`).
      batch_size: output batch size.

    Returns:
      (batched dataset of the same structure, real + synthetic examples per epoch).
      With a repeated real dataset the output is infinite and each example is
      synthetic with probability ratio / (1 + ratio).
    """
    real = _unbatched(real_dataset)
    extra = synthetic_count(ratio, real_count)
    if extra == 0:
        return _batched(real, batch_size, real_count), real_count
    if not synthetic_datasets:
        raise ValueError(f"Synthetic ratio {ratio} > 0 but no synthetic examples were given.")
    pools = [
        _unbatched(dataset).shuffle(10_000, seed=seed + index, reshuffle_each_iteration=True).repeat()
        for index, dataset in enumerate(synthetic_datasets)
    ]
    synthetic = pools[0] if len(pools) == 1 else tf.data.Dataset.sample_from_datasets(pools, seed=seed)
    if real.cardinality() == tf.data.INFINITE_CARDINALITY:
        weights = [1.0 / (1.0 + ratio), ratio / (1.0 + ratio)]
        blended = tf.data.Dataset.sample_from_datasets([real, synthetic], weights=weights, seed=seed + 7919)
        return blended.batch(batch_size).prefetch(tf.data.AUTOTUNE), real_count + extra
    total = real_count + extra
    blended = tf.data.Dataset.sample_from_datasets(
        [real, synthetic.take(extra)],
        weights=[real_count / total, extra / total],
        seed=seed + 7919,
        stop_on_empty_dataset=False,
    )
    return _batched(blended, batch_size, total), total


def train_dataset_with_synthetic(
    examples_uri: str,
    synthetic_uris: Sequence[str],
    data_spec: DataSpecContent,
    batch_size: int,
    image_size: Tuple[int, int],
    ratio: float,
    seed: int,
    repeat: bool = False,
    real_count: Optional[int] = None,
) -> Tuple[tf.data.Dataset, int]:
    """The real `train` split blended with the `train` split of each synthetic Examples URI.

    Labels are int class ids `[B]` (as `examples_io.load_split` gives them);
    synthetic images are decoded with the real DataSpec's channels and
    resized to `image_size`. Returns (batched dataset, examples per epoch).
    """
    if ratio > 0 and data_spec.task != features.TASK_CLASSIFICATION:
        raise ValueError(f"Synthetic blending supports classification data; the DataSpec's task is {data_spec.task!r}.")
    real_count = real_count or data_spec.split_count(features.TRAIN_SPLIT) or examples_io.count_records(
        examples_uri, features.TRAIN_SPLIT
    )
    real = examples_io.load_split(
        examples_uri, features.TRAIN_SPLIT, data_spec, batch_size, image_size, shuffle=True, seed=seed, repeat=repeat
    )
    synthetic = []
    if ratio > 0:
        synthetic = [
            examples_io.load_split(uri, features.TRAIN_SPLIT, data_spec, batch_size, image_size)
            for uri in synthetic_uris
        ]
    return blended_train_dataset(real, synthetic, ratio, seed, real_count, batch_size)
