"""Built-in architectures, picked by name in the training config.

Each builder returns a Keras 3 model mapping `[B,H,W,C]` float images in
[0,1] to class probabilities (softmax, or sigmoid for multilabel), the
suite-wide output convention.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import keras

from components.types import features
from components.types.data_spec import DataSpecContent


def _head(data_spec: DataSpecContent) -> keras.layers.Layer:
    activation = "sigmoid" if data_spec.task == features.TASK_MULTILABEL else "softmax"
    return keras.layers.Dense(data_spec.num_classes, activation=activation, name="probabilities")


def small_cnn(data_spec: DataSpecContent, image_size: Tuple[int, int], width: int = 32) -> keras.Model:
    """Two conv blocks and a dense layer: ~100k parameters at width 32 on 28x28."""
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    x = inputs
    for multiplier in (1, 2):
        x = keras.layers.Conv2D(width * multiplier, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(width * multiplier, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(width * 4, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, _head(data_spec)(x), name="small_cnn")


def _residual_block(x, filters: int, stride: int):
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = keras.layers.BatchNormalization(momentum=0.9)(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = keras.layers.BatchNormalization(momentum=0.9)(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = keras.layers.BatchNormalization(momentum=0.9)(shortcut)
    return keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))


def small_resnet(data_spec: DataSpecContent, image_size: Tuple[int, int], width: int = 16) -> keras.Model:
    """A ResNet-8-style network (three stages of one basic block)."""
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    for stage, multiplier in enumerate((1, 2, 4)):
        x = _residual_block(x, width * multiplier, stride=1 if stage == 0 else 2)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    return keras.Model(inputs, _head(data_spec)(x), name="small_resnet")


def tiny_cnn(data_spec: DataSpecContent, image_size: Tuple[int, int]) -> keras.Model:
    """Three strided conv blocks (8, 16, 32 channels), ~6k parameters: for tests and distillation students.

    Each conv is followed by BatchNorm. Without it the pooled features are
    averages of small ReLU activations (digits are mostly background), the
    head's logits start near zero, and Adam's fixed-size steps at the default
    rate 1e-3 barely move them: the former two-conv, BatchNorm-free version
    stayed at chance after 5 epochs of MNIST-5k. The third block widens the
    receptive field from 7 to 15 pixels before global pooling, which two
    blocks at any rate lacked (benchmarks/results/tiny_cnn.md).
    """
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    x = inputs
    for filters in (8, 16, 32):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    return keras.Model(inputs, _head(data_spec)(x), name="tiny_cnn")


ARCHITECTURES: Dict[str, Callable[..., keras.Model]] = {
    "small_cnn": small_cnn,
    "small_resnet": small_resnet,
    "tiny_cnn": tiny_cnn,
}

# Library backbones (resnet50, efficientnet_v2_b0, mobilenet_v3_small, convnext_tiny, vit_tiny).
from components.training import backbones  # noqa: E402  (backbones imports _head from here lazily)

ARCHITECTURES.update(backbones.architecture_builders())


def build_architecture(name: str, data_spec: DataSpecContent, image_size: Tuple[int, int]) -> keras.Model:
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}; built-in ones are {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name](data_spec, image_size)
