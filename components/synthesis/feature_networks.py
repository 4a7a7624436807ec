"""Feature networks available offline: a fixed random-weight CNN, VGG19 from weights on disk, a trained classifier.

Random-weight convolutional features capture texture statistics well enough
for style losses (Ustyuzhaninov et al. 2017, "What does it take to generate
natural textures?") and give a fixed, reproducible space for Frechet
distances when no trained network is at hand. Nothing here downloads weights.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

RANDOM_CNN = "random_cnn"
VGG19 = "vgg19"
FEATURE_NETWORKS = (RANDOM_CNN, VGG19)

RANDOM_CNN_WIDTHS = (32, 64, 128, 256)
# VGG19 layers for style (Gatys et al. 2016) and the one for content.
VGG_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")
VGG_CONTENT_LAYER = "block3_conv2"
VGG_MIN_SIDE = 64
# ImageNet BGR channel means that VGG weights were trained with (caffe preprocessing).
VGG_BGR_MEANS = (103.939, 116.779, 123.68)


def random_cnn(channels: int, seed: int = 0, widths: Sequence[int] = RANDOM_CNN_WIDTHS) -> keras.Model:
    """Fixed random-weight CNN: `[B,H,W,C]` in [0,1] -> one feature map per layer.

    Layer l has `widths[l]` channels at stride 2**l (first layer stride 1).
    Inputs are centered to [-1, 1] so ReLUs see both signs.
    """
    images = keras.Input(shape=(None, None, channels), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0)(images)
    outputs = []
    for index, width in enumerate(widths):
        x = keras.layers.Conv2D(
            width,
            3,
            strides=1 if index == 0 else 2,
            padding="same",
            activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=seed + index),
            bias_initializer="zeros",
            trainable=False,
            name=f"random_conv{index}",
        )(x)
        outputs.append(x)
    model = keras.Model(images, outputs, name="random_cnn")
    model.trainable = False
    return model


def vgg19_features(weights_path: str, layer_names: Sequence[str]) -> keras.Model:
    """VGG19 convolutional layers from a weights file on disk (no download)."""
    if not weights_path or not os.path.exists(weights_path):
        raise FileNotFoundError(
            f"VGG19 weights file {weights_path!r} does not exist; pass the path of a Keras VGG19 "
            "'notop' weights file (.h5 or .weights.h5) or use feature_network='random_cnn'."
        )
    base = keras.applications.VGG19(include_top=False, weights=weights_path, input_shape=(None, None, 3))
    model = keras.Model(base.input, [base.get_layer(name).output for name in layer_names], name="vgg19_features")
    model.trainable = False
    return model


def vgg_preprocess(images: tf.Tensor) -> tf.Tensor:
    """[B,H,W,1|3] in [0,1] -> caffe-style BGR minus means, upsampled to >= 64 px."""
    if images.shape[-1] == 1:
        images = tf.image.grayscale_to_rgb(images)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    scale = tf.maximum(1.0, VGG_MIN_SIDE / tf.cast(tf.minimum(height, width), tf.float32))
    size = tf.cast(tf.math.ceil(tf.cast(tf.stack([height, width]), tf.float32) * scale), tf.int32)
    images = tf.image.resize(images, size, method="bilinear")
    return images[..., ::-1] * 255.0 - tf.constant(VGG_BGR_MEANS, tf.float32)


class StyleFeatures:
    """Maps images to (style feature maps, content feature map) in one network pass."""

    def __init__(self, network: str, channels: int, seed: int = 0, vgg_weights_path: Optional[str] = None):
        if network not in FEATURE_NETWORKS:
            raise ValueError(f"Unknown feature network {network!r}; choose one of {FEATURE_NETWORKS}.")
        self.network = network
        if network == VGG19:
            self._model = vgg19_features(vgg_weights_path, (*VGG_STYLE_LAYERS, VGG_CONTENT_LAYER))
            self._preprocess = vgg_preprocess
            self._content_index = len(VGG_STYLE_LAYERS)
            self._style_indices = list(range(len(VGG_STYLE_LAYERS)))
        else:
            self._model = random_cnn(channels, seed)
            self._preprocess = lambda images: images
            self._content_index = 1
            self._style_indices = list(range(len(RANDOM_CNN_WIDTHS)))

    def __call__(self, images: tf.Tensor) -> Tuple[List[tf.Tensor], tf.Tensor]:
        maps = self._model(self._preprocess(images), training=False)
        return [maps[i] for i in self._style_indices], maps[self._content_index]


def pooled_random_features(images: np.ndarray, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """`[N, 256]` spatial means of the random CNN's last layer (the fixed Frechet distance space)."""
    model = random_cnn(images.shape[-1], seed)
    rows = []
    for start in range(0, len(images), batch_size):
        maps = model(tf.convert_to_tensor(images[start : start + batch_size]), training=False)
        rows.append(tf.reduce_mean(maps[-1], axis=[1, 2]).numpy())
    return np.concatenate(rows).astype(np.float64)


def classifier_embedding(model: keras.Model) -> keras.Model:
    """The classifier's penultimate layer: the input of its final (probabilities) layer."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, model.layers[-1].input, name=f"{model.name}_penultimate")


def classifier_features(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """`[N, D]` penultimate-layer features of a trained classifier (inference mode)."""
    embedding = classifier_embedding(model)
    rows = [
        np.asarray(embedding(images[i : i + batch_size], training=False)).reshape(min(batch_size, len(images) - i), -1)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(rows).astype(np.float64)
