"""The calibration layer exported with a calibrated model.

Models in this suite output probabilities, so the layer works on their
logarithm (log-probabilities are logits up to a per-row constant, which
softmax ignores): `softmax(log p / T)` is temperature scaling of the model's
logits, and mixing with a class prior afterwards is MAP calibration.
Registered with Keras so `keras.saving.load_model` rebuilds it in any
process that has imported this module.
"""

from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import ops

# Probabilities are floored here before the log, as in evaluation.metrics.
PROBABILITY_FLOOR = 1e-12
SERIALIZATION_PACKAGE = "tfx_autofit"


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class CalibrationLayer(keras.layers.Layer):
    """`(1 - w) * softmax(log p / T) + w * prior`: temperature scaling, then a prior ensemble.

    Args:
      temperature: T > 0; above 1 softens overconfident predictions, 1 is the identity.
      prior: `[K]` class distribution (sums to 1); None with prior_weight 0.
      prior_weight: w in [0, 1); 0 is the identity.

    Input `[B, K]` probabilities, output `[B, K]` probabilities.
    """

    def __init__(
        self,
        temperature: float = 1.0,
        prior: Optional[Sequence[float]] = None,
        prior_weight: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"CalibrationLayer temperature must be > 0, got {temperature}.")
        if not 0.0 <= prior_weight < 1.0:
            raise ValueError(f"CalibrationLayer prior_weight must be in [0, 1), got {prior_weight}.")
        if prior_weight > 0 and prior is None:
            raise ValueError("CalibrationLayer needs a prior when prior_weight > 0.")
        self.temperature = float(temperature)
        self.prior = None if prior is None else [float(value) for value in prior]
        self.prior_weight = float(prior_weight)

    def build(self, input_shape):
        num_classes = input_shape[-1]
        if self.prior is not None and num_classes is not None and len(self.prior) != num_classes:
            raise ValueError(f"CalibrationLayer prior has {len(self.prior)} classes; the model outputs {num_classes}.")

    def call(self, probabilities):
        log_probabilities = ops.log(ops.clip(probabilities, PROBABILITY_FLOOR, 1.0))
        calibrated = ops.softmax(log_probabilities / self.temperature, axis=-1)
        if self.prior_weight > 0:
            prior = ops.convert_to_tensor(self.prior, dtype=calibrated.dtype)
            calibrated = (1.0 - self.prior_weight) * calibrated + self.prior_weight * prior
        return calibrated

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, prior=self.prior, prior_weight=self.prior_weight)
        return config


def calibrated_model(
    model: keras.Model,
    temperature: float = 1.0,
    prior: Optional[Sequence[float]] = None,
    prior_weight: float = 0.0,
) -> keras.Model:
    """The model with a CalibrationLayer on its probabilities (a normal single-input Keras model)."""
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    layer = CalibrationLayer(temperature, prior, prior_weight, name="calibration")
    return keras.Model(inputs, layer(model(inputs)), name=f"{model.name}_calibrated")
