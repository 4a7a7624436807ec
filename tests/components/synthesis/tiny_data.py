"""Tiny in-memory stripe images (the canonical test patterns) for the synthesis math tests."""

from __future__ import annotations

import numpy as np

from components.types import features
from components.types.data_spec import DataSpecContent, SizeStats
from tests.support.canonical import class_image


def stripe_arrays(count: int, size: int = 12, num_classes: int = 3, seed: int = 0, channels: int = 1):
    """(images `[N,size,size,C]` float32 in [0,1], labels `[N]` int32), labels cycling over classes."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % num_classes).astype(np.int32)
    images = np.stack([class_image(int(label), num_classes, size, rng, channels) for label in labels])
    return images.astype(np.float32) / 255.0, labels


def stripe_data_spec(num_classes: int = 3, size: int = 12, channels: int = 1) -> DataSpecContent:
    return DataSpecContent(
        task=features.TASK_CLASSIFICATION,
        class_names=[f"class_{index}" for index in range(num_classes)],
        channels=channels,
        source_format="synthetic",
        height=SizeStats(size, size, float(size)),
        width=SizeStats(size, size, float(size)),
    )
