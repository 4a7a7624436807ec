"""Moved to components.common.synthetic_blend (Training blends synthetic data too); kept for old imports."""

from components.common.synthetic_blend import (  # noqa: F401
    blended_train_dataset,
    synthetic_count,
    train_dataset_with_synthetic,
)
