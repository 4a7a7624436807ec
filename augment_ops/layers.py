"""Keras 3 integration: an augmentation layer and the scaffold training model.

The layer runs a policy inside the model graph, so augmentation happens on
the accelerator next to the model; at inference it is the identity. The
scaffold wraps a user's model for training and hands back the bare model
for export, so no augmentation code ships with the serving model.
"""

from typing import Any, Optional, Tuple, Union

import keras

from augment_ops.batch import BATCH_KEYS, IMAGES, LABELS
from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions
from augment_ops.policy import Policy, apply_policy

PolicyLike = Union[Policy, dict, str]


def _as_policy(policy: PolicyLike) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, dict):
        return Policy.from_dict(policy)
    if isinstance(policy, str):
        return Policy.from_json(policy)
    raise TypeError(f"policy must be a Policy, dict or JSON string; got {type(policy).__name__}.")


@keras.saving.register_keras_serializable(package="augment_ops")
class AugmentationLayer(keras.layers.Layer):
    """Applies a Policy in training; the identity at inference.

    Inputs are images [B,H,W,C] float in [0,1] or a batch dict (batch.py).
    Each training call draws a fresh seed from a Keras SeedGenerator started
    at `seed`, so runs repeat exactly. `supports_jit` is False only when an
    op cannot compile (geometric ops with options.warp="projective"), which
    tells Keras not to XLA-compile the train step.

    Example:
      >>> layer = AugmentationLayer(rand_augment(2, 0.3), seed=1)
      >>> augmented = layer(images, training=True)
    """

    def __init__(
        self,
        policy: PolicyLike,
        seed: int = 0,
        options: Optional[Union[AugmentOptions, dict]] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.policy = _as_policy(policy)
        self.seed = int(seed)
        if isinstance(options, dict):
            options = AugmentOptions.from_dict(options)
        self.options = options or DEFAULT_OPTIONS
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_jit = self.policy.supports_xla(self.options)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        if self.policy.uses_labels and not (isinstance(inputs, dict) and LABELS in inputs):
            raise ValueError(
                f"Policy {self.policy.name or self.policy.op_names} mixes samples and needs labels: pass "
                f"a dict with {LABELS!r}, or train through scaffold(), which feeds the labels."
            )
        return apply_policy(self.policy, inputs, self.seed_generator.next(), self.options)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"policy": self.policy.to_dict(), "seed": self.seed, "options": self.options.to_dict()})
        return config


@keras.saving.register_keras_serializable(package="augment_ops")
class AugmentedModel(keras.Model):
    """The scaffold training model: augments each training batch, then trains `model`.

    Augmentation happens in `train_step`, inside the compiled training
    function, so it sees the labels (for mixing ops) and the targets that
    must move with the pixels (masks, boxes). `call`, evaluation and
    prediction use the bare model unchanged.

    Args:
      model: the user's Keras model (weights are shared, not copied).
      augmentation: an AugmentationLayer.
      target_key: what a tensor `y` is, as a batch key: "labels" (default;
        only passed through ops when the policy mixes), "masks" (moved and
        occluded with the images) or "boxes". A dict `y` with batch keys is
        used as is.
    """

    def __init__(self, model: keras.Model, augmentation: AugmentationLayer, target_key: str = LABELS, **kwargs):
        super().__init__(**kwargs)
        if target_key not in BATCH_KEYS or target_key == IMAGES:
            raise ValueError(f"target_key must be one of {BATCH_KEYS[1:]}; got {target_key!r}.")
        self.model = model
        self.augmentation = augmentation
        self.target_key = target_key

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def augment(self, x, y) -> Tuple[Any, Any]:
        """Runs the policy on a (x, y) training pair; returns the new pair."""
        batch = {IMAGES: x}
        if isinstance(y, dict):
            batch.update(y)
        elif y is not None and (self.target_key != LABELS or self.augmentation.policy.uses_labels):
            if self.target_key == LABELS and (y.shape.rank != 2 or not y.dtype.is_floating):
                raise ValueError(
                    f"Policy {self.augmentation.policy.op_names} mixes samples, so labels must be one-hot or soft "
                    f"float [B,K]; got {y.dtype.name} {y.shape}. One-hot encode them and use a categorical loss."
                )
            batch[self.target_key] = y
        out = self.augmentation(batch, training=True)
        new_x = out.pop(IMAGES)
        if isinstance(y, dict):
            return new_x, out
        return new_x, out.get(self.target_key, y)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, y = self.augment(x, y)
        return super().train_step((x, y, sample_weight))

    def get_config(self):
        return {
            "model": keras.saving.serialize_keras_object(self.model),
            "augmentation": keras.saving.serialize_keras_object(self.augmentation),
            "target_key": self.target_key,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        augmentation = keras.saving.deserialize_keras_object(config.pop("augmentation"))
        return cls(model, augmentation, **config)


def scaffold(
    model: keras.Model,
    policy: PolicyLike,
    seed: int = 0,
    options: Optional[AugmentOptions] = None,
    target_key: str = LABELS,
) -> Tuple[AugmentedModel, keras.Model]:
    """Wraps `model` for augmented training.

    Returns:
      (training_model, bare_model): compile and fit the first; export the
      second (the same object as `model`, sharing the trained weights).

    Example:
      >>> training_model, bare_model = scaffold(build_model(), rand_augment(), seed=0)
      >>> training_model.compile("adam", "sparse_categorical_crossentropy")
      >>> training_model.fit(dataset, epochs=1)
      >>> bare_model.save("model.keras")
    """
    layer = AugmentationLayer(policy, seed=seed, options=options, name="augmentation")
    return AugmentedModel(model, layer, target_key=target_key, name=f"{model.name}_scaffold"), model


def has_augmentation(model: keras.Model) -> bool:
    """True if any layer of `model` is an AugmentationLayer (a check before export)."""
    return any(isinstance(layer, AugmentationLayer) for layer in model._flatten_layers())

