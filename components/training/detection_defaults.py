"""Small-data defaults of detection training: augmentation without a searched policy, batch size, epochs.

Users train detectors from scratch on a few hundred to a few thousand
scenes, on CPU. What makes such a detector generalize is standard in the
single-stage detection literature and owes nothing to a dataset:
  * box-aware augmentation on every batch (scale and translation jitter,
    photometric jitter; SSD, YOLO, Detectron's RetinaNet recipes), used
    when the augmentation search handed no policy. No mirroring: it is
    label-preserving for most objects but not for text, digits or signs,
    and a default must never be wrong; the search adds flips when the
    held-out data shows they help (segmentation's default makes the same
    choice);
  * enough optimizer steps: TrainingConfig's defaults (a few epochs of 64
    images) are sized for classifiers and amount to a few dozen steps on
    a few hundred scenes; RetinaNet trains with 16 images per step.
Values the user set (YAML keys in `explicit_fields`, or anything but the
TrainingConfig default) are never changed.
"""

from __future__ import annotations

import math

from augment_ops.options import AugmentOptions
from augment_ops.policy import MAGNITUDE_UNIFORM, Policy
from components.training.spec import TrainingConfig

# Augmentation when no searched policy is given, magnitudes drawn per image from U(0, m): zoom in / out by up to 1.5x (scale jitter, the augmentation detectors gain most from on small data;
# SSD's expand + crop, YOLO's scale 0.5), shifts of up to 15% of the side, and brightness / contrast /
# saturation jitter (SSD's photometric distortions). Boxes follow the pixels (augment_ops' fused warp) and boxes
# pushed mostly out of the image are dropped (AugmentOptions.min_box_visibility).
DEFAULT_POLICY = Policy.from_ops(
    [
        ("zoom_in", 0.5, 0.5),
        ("zoom_out", 0.5, 0.5),
        ("translate_x", 0.5, 1.0),
        ("translate_y", 0.5, 1.0),
        ("brightness", 0.3, 0.5),
        ("contrast", 0.3, 0.5),
        ("saturation", 0.3, 0.5),
    ],
    magnitude_sampling=MAGNITUDE_UNIFORM,
    name="detection_default",
)
# Fewest optimizer steps of a training left at TrainingConfig's default epochs (planned_epochs), and the batch
# size used in place of its default batch (planned_batch_size): RetinaNet's 16 images per step. Detectors
# trained from scratch need on the order of a thousand steps even on a few hundred scenes.
MIN_TRAINING_STEPS = 1000
DEFAULT_BATCH_SIZE = 16
# Options for DEFAULT_POLICY and for a searched policy given without options: rectangle prior, no XLA (the
# tf.data map runs the policy; XLA clusters there recompile per batch shape).
DEFAULT_OPTIONS = AugmentOptions(xla=False)


def planned_batch_size(config: TrainingConfig) -> int:
    """TrainingConfig's default batch (sized for classifiers) becomes DEFAULT_BATCH_SIZE; any other is kept."""
    return config.batch_size if config.user_set("batch_size") else DEFAULT_BATCH_SIZE


def planned_epochs(config: TrainingConfig, steps_per_epoch: int) -> int:
    """Epochs to train: TrainingConfig's default epochs become enough epochs for MIN_TRAINING_STEPS steps.

    A detector learns from optimizer steps, not epochs: TrainingConfig's
    default of a few epochs (sized for classifiers) is a few dozen steps on
    a few hundred scenes, far too few for a detector trained from scratch.
    Only the untouched default is raised: epochs named in
    `config.explicit_fields` (set in the YAML) or set to anything else (in
    Python, or learned by OptimizationParams) are kept as given.
    """
    if config.user_set("epochs"):
        return config.epochs
    return max(config.epochs, int(math.ceil(MIN_TRAINING_STEPS / max(1, steps_per_epoch))))
