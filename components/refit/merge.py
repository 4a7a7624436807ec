"""Train + held-out splits as one training split: the Examples and DataSpec a refit trains on."""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, Sequence

import tensorflow as tf

from components.types import examples_io, features
from components.types.data_spec import DataSpecContent, SplitStats


def merged_data_spec(data_spec: DataSpecContent, merge_splits: Sequence[str]) -> DataSpecContent:
    """The DataSpec with `merge_splits` counted into `train` (per class too); other splits unchanged.

    Raises:
      ValueError: a merge split the DataSpec does not have, or one without images.
    """
    splits = dict(data_spec.splits)
    train = splits.get(features.TRAIN_SPLIT)
    if train is None:
        raise ValueError("Refit needs a train split; the DataSpec has none.")
    count, per_class = train.count, dict(train.per_class)
    for split in merge_splits:
        stats = splits.get(split)
        if stats is None or stats.count == 0:
            raise ValueError(f"refit.merge_splits names {split!r}, but the data has no images in that split "
                             f"(splits: {sorted(splits)}).")
        count += stats.count
        for name, value in stats.per_class.items():
            per_class[name] = per_class.get(name, 0) + value
    splits[features.TRAIN_SPLIT] = SplitStats(count=count, per_class=per_class)
    return dataclasses.replace(data_spec, splits=splits)


def write_merged_examples(
    examples_uri: str, merge_splits: Sequence[str], target_uri: str, keep_splits: Sequence[str]
) -> Dict[str, int]:
    """Copies train + `merge_splits` files into `target_uri`'s train split and `keep_splits` as they are.

    The held-out splits also stay under their own names (trainers still report on `eval`, now not held out).

    Returns:
      records per written split; `train` equals the sum of its parts (checked: nothing lost or duplicated).

    Raises:
      ValueError: when the merged train split's record count is not the sum of its parts.
    """
    counts: Dict[str, int] = {}
    expected = 0
    train_dir = examples_io.split_directory(target_uri, features.TRAIN_SPLIT)
    tf.io.gfile.makedirs(train_dir)
    for split in (features.TRAIN_SPLIT, *merge_splits):
        for index, path in enumerate(examples_io.split_files(examples_uri, split)):
            tf.io.gfile.copy(path, os.path.join(train_dir, f"{split}-{index:05d}-{os.path.basename(path)}"),
                             overwrite=True)
        expected += examples_io.count_records(examples_uri, split)
    counts[features.TRAIN_SPLIT] = examples_io.count_records(target_uri, features.TRAIN_SPLIT)
    if counts[features.TRAIN_SPLIT] != expected:
        raise ValueError(f"Refit examples at {target_uri}: train has {counts[features.TRAIN_SPLIT]} records, "
                         f"expected {expected} (train + {list(merge_splits)}).")
    for split in keep_splits:
        files = tf.io.gfile.glob(os.path.join(examples_io.split_directory(examples_uri, split), "*"))
        if not files:
            continue
        directory = examples_io.split_directory(target_uri, split)
        tf.io.gfile.makedirs(directory)
        for path in files:
            tf.io.gfile.copy(path, os.path.join(directory, os.path.basename(path)), overwrite=True)
        counts[split] = examples_io.count_records(target_uri, split)
    return counts
