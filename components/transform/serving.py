"""The serving signatures of a model trained through a transform graph.

`model_io.export_serving(..., examples_signature=TransformedExamples(...))`
replaces the built-in decode of `serve_examples` with the transform graph
and adds two endpoints:

- `serve_image_bytes`: `[B]` encoded PNG/JPEG bytes -> the model's outputs;
- `transform_features`: `[B]` serialized tf.Examples -> `{"image": [B,H,W,C]}`,
  the tensor the model gets (the check of train/serve parity, as in TFX's
  `transform_features` signature).

The raw paths run tf.Transform's graph and then the trained model; the
`serving_default` float-image path runs the [0, 1] model (the same
constants in a Normalization layer).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import keras
import tensorflow as tf

from components.transform import preprocessing
from components.transform.transform_graph import ImageTransformGraph, trained_model

Infer = Callable[[keras.Model, tf.Tensor], Dict[str, tf.Tensor]]
STRING_BATCH = [tf.TensorSpec([None], tf.string)]


class TransformedExamples:
    """What `model_io.export_serving` needs to serve raw examples through the graph at `transform_graph_uri`.

    Args:
      model: the [0, 1] model (`ImageTransformGraph.model_on_unit_images`)
        or the bare model trained on transformed images.
    """

    def __init__(self, model: keras.Model, transform_graph_uri: str):
        self.graph = ImageTransformGraph(transform_graph_uri)
        self.model = trained_model(model)

    @property
    def resources(self) -> List[object]:
        """What the SavedModel must track beyond the exported model: the transform layer (its graph and assets)."""
        return [self.graph.layer()]

    def serve_examples(self, serialized: tf.Tensor, infer: Infer) -> Dict[str, tf.Tensor]:
        return infer(self.model, self.graph.transform_serialized(serialized)[preprocessing.IMAGE_KEY])

    def endpoints(self, infer: Infer) -> List[Tuple[str, Callable, list]]:
        """(name, function, input signature) of the extra endpoints."""

        def serve_image_bytes(encoded):
            return infer(self.model, self.graph.transform_encoded(encoded)[preprocessing.IMAGE_KEY])

        def transform_features(serialized):
            return {preprocessing.IMAGE_KEY: self.graph.transform_serialized(serialized)[preprocessing.IMAGE_KEY]}

        return [
            ("serve_image_bytes", serve_image_bytes, STRING_BATCH),
            ("transform_features", transform_features, STRING_BATCH),
        ]
