"""The backbone shared by pretraining, fine-tuning and adaptation: which tensor is the embedding.

A classifier built by the suite's architectures (or a user's module file)
ends in a Dense head named `probabilities`; the backbone is everything up to
the head's input, or up to a layer the user names. Pretraining trains the
backbone inside the full classifier so the saved model has the same layer
names and shapes as the one the training component builds, which is what its
name-matched warm start needs.
"""

from __future__ import annotations

import logging
from typing import Optional, Tuple

import keras
import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDING_LAYER = "embedding"


def embedding_tensor(model: keras.Model, layer_name: Optional[str] = None):
    """The symbolic embedding tensor of a functional classifier.

    Args:
      model: functional Keras model ending in its classification head.
      layer_name: a layer whose output is the embedding; default: the layer
        named `embedding` when there is one, else the head's input.

    Raises:
      ValueError: when the named layer does not exist or the model is not
        functional (a subclassed model has no symbolic tensors).
    """
    if not model.inputs:
        raise ValueError(f"Model {model.name!r} is not a functional Keras model; its embedding cannot be found.")
    names = [layer.name for layer in model.layers]
    if layer_name is not None:
        if layer_name not in names:
            raise ValueError(f"Model {model.name!r} has no layer {layer_name!r}; its layers are {names}.")
        return model.get_layer(layer_name).output
    if DEFAULT_EMBEDDING_LAYER in names:
        return model.get_layer(DEFAULT_EMBEDDING_LAYER).output
    return head_layer(model).input


def head_layer(model: keras.Model) -> keras.layers.Layer:
    """The last layer (the classification head)."""
    return model.layers[-1]


def encoder_of(model: keras.Model, layer_name: Optional[str] = None) -> keras.Model:
    """A model sharing `model`'s layers: images `[B,H,W,C]` -> embeddings `[B, D]`."""
    embedding = embedding_tensor(model, layer_name)
    if len(embedding.shape) != 2:
        raise ValueError(
            f"The embedding of {model.name!r} has shape {embedding.shape}; pick a layer with a flat [B, D] output "
            "(e.g. after global pooling) through `embedding_layer`."
        )
    return keras.Model(model.inputs, embedding, name=f"{model.name}_encoder")


def head_reads_embedding(model: keras.Model, layer_name: Optional[str] = None) -> bool:
    """Whether the head sees the embedding unchanged at inference (directly or through Dropout only)."""
    embedding = embedding_tensor(model, layer_name)
    tensor = head_layer(model).input
    while tensor is not embedding:
        operation = tensor._keras_history.operation
        if not isinstance(operation, keras.layers.Dropout):
            return False
        tensor = operation.input
    return True


def set_linear_head(model: keras.Model, kernel: np.ndarray, bias: np.ndarray) -> bool:
    """Writes a linear classifier `[D, K]`, `[K]` into the head when shapes match; returns whether it did."""
    head = head_layer(model)
    shapes = [tuple(weight.shape) for weight in head.weights]
    if shapes != [tuple(kernel.shape), tuple(bias.shape)]:
        logger.warning("head %s has weights %s; linear probe %s not copied", head.name, shapes, kernel.shape)
        return False
    head.set_weights([kernel.astype("float32"), bias.astype("float32")])
    return True


def reset_layer_names() -> None:
    """Starts Keras's automatic layer names (conv2d, conv2d_1, ...) from zero.

    The training component's warm start copies weights by layer name, and
    Keras numbers unnamed layers per process. Executors that build models
    call this before building, so a backbone gets the names a fresh process
    gives, and after finishing, so the next component run in the same process
    (LocalDagRunner) builds with fresh names too.
    """
    keras.backend.clear_session()


def weighted_layer_shapes(model: keras.Model) -> dict:
    """{layer name: [weight shapes]} of layers that hold weights."""
    return {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}


def image_shape(model: keras.Model) -> Tuple[int, int, int]:
    """(height, width, channels) of the model's image input."""
    height, width, channels = model.input_shape[1:4]
    return int(height), int(width), int(channels)
