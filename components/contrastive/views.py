"""Random augmented views from augment_ops ops, as a Keras layer that runs in-graph.

ADAPTER: augment_ops' policy/layer API (`augment_ops.policy`,
`augment_ops.layers`) was still being written when the semi-supervised
components were built, so this layer applies ops through the stable
`augment_ops.registry.apply_op`. When an AugmentationPolicy artifact is wired
into a component, the components use the training executor's
`load_augmentation_layer` instead; this layer is the built-in default.

A step is `(op_name, magnitude, probability)`: each sample applies the op at
`magnitude` with `probability` (magnitude 0 is the identity, so a skipped
sample costs no branch). Steps run in order.
"""

from __future__ import annotations

from typing import Iterable, Sequence, Tuple

import keras
import tensorflow as tf

from augment_ops import registry, seeds

Step = Tuple[str, float, float]

# SimCLR-style views for small grayscale or color images: crop, small warp,
# photometric jitter, blur/noise and occlusion (no flips: digits and text are
# not flip-invariant).
SIMCLR_VIEW_STEPS: Tuple[Step, ...] = (
    ("random_resized_crop", 0.5, 0.8),
    ("rotate", 0.4, 0.5),
    ("brightness", 0.4, 0.8),
    ("contrast", 0.4, 0.8),
    ("gaussian_blur", 0.5, 0.3),
    ("gaussian_noise", 0.3, 0.3),
    ("cutout", 0.4, 0.5),
)

# Strong noise for noisy-student students (RandAugment-like: ~2 of 8 ops per
# sample at a fixed magnitude, plus cutout).
STRONG_NOISE_STEPS: Tuple[Step, ...] = (
    ("rotate", 0.5, 0.25),
    ("shear_x", 0.5, 0.25),
    ("translate_x", 0.4, 0.25),
    ("translate_y", 0.4, 0.25),
    ("zoom_in", 0.3, 0.25),
    ("contrast", 0.5, 0.25),
    ("brightness", 0.5, 0.25),
    ("sharpness", 0.5, 0.25),
    ("cutout", 0.5, 0.5),
)


def validate_steps(steps: Iterable[Sequence]) -> Tuple[Step, ...]:
    """Checks op names (registered, label-free), magnitudes and probabilities.

    Raises:
      ValueError: naming the offending step.
    """
    checked = []
    for index, step in enumerate(steps):
        if len(step) != 3:
            raise ValueError(f"Augmentation step {index} must be (op_name, magnitude, probability); got {step!r}.")
        name, magnitude, probability = str(step[0]), float(step[1]), float(step[2])
        spec = registry.get_op(name)  # Raises with the list of known ops.
        if spec.family == registry.MIXING:
            raise ValueError(f"Augmentation step {index}: {name!r} mixes labels; views and noise take label-free ops.")
        if not 0.0 <= magnitude <= 1.0 or not 0.0 <= probability <= 1.0:
            raise ValueError(f"Augmentation step {index} ({name}): magnitude and probability must be in [0, 1].")
        checked.append((name, magnitude, probability))
    return tuple(checked)


class OpsAugmentation(keras.layers.Layer):
    """Applies augment_ops steps to a batch in training; identity at inference.

    Every call draws a fresh stateless seed from a Keras SeedGenerator seeded
    with `seed`, so two calls on the same batch give two different views, and
    the same seed gives the same sequence of views.

    Args:
      steps: `(op_name, magnitude, probability)` triples.
      seed: int seed of the view sequence.

    Call args:
      images: `[B,H,W,C]` float in [0,1].
      training: augment only when True.

    Returns:
      `[B,H,W,C]` float, clipped to [0,1].
    """

    def __init__(self, steps: Sequence[Sequence] = SIMCLR_VIEW_STEPS, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.steps = validate_steps(steps)
        self.seed = int(seed)
        self._seed_generator = keras.random.SeedGenerator(self.seed)

    def augment(self, images: tf.Tensor) -> tf.Tensor:
        """One random view of `images` (always augments)."""
        seed = seeds.as_seed(tf.cast(self._seed_generator.next(), tf.int64))
        for index, (name, magnitude, probability) in enumerate(self.steps):
            images = registry.apply_op(name, images, magnitude, probability, seeds.derive(seed, index))
        return tf.clip_by_value(images, 0.0, 1.0)

    def call(self, images, training=None):
        if not training:
            return images
        return self.augment(images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(steps=[list(step) for step in self.steps], seed=self.seed)
        return config
