"""Library backbones (keras.applications, keras-hub) as built-in architectures.

Every backbone classifier follows the suite's model convention: it takes
`[B,H,W,C]` float images in [0,1] at the pipeline's image size and channel
count and returns class probabilities (softmax, or sigmoid for multilabel)
from a head built from the DataSpec. Inside the model, in this order:

    image [B,H,W,C] in [0,1]
      -> channel adapter   1 channel: repeated to 3; other counts: a learned
                           1x1 conv to 3 (the stems, and ImageNet weights,
                           want RGB)
      -> resize            only when H or W is below the backbone's minimum
                           (32 px for the CNNs) or not a multiple of the ViT
                           patch size
      -> preprocessing     what the backbone was trained with: [0,255] into the
                           application's own preprocessing layers (MobileNetV3,
                           EfficientNetV2, ConvNeXt), caffe BGR mean
                           subtraction (ResNet50), [-1,1] (ViT)
      -> `backbone`        the library network, no top, global-average pooled
                           (ViT: class token), a nested model named "backbone"
      -> dropout -> `probabilities` head

Weights are random (`weights=None`): nothing is ever downloaded. Pretrained
weights come from a local file given as `TrainingConfig.pretrained_weights`
(see `load_pretrained_weights`): the backbone's own weights, so the head is
always new and sized by the DataSpec. Because the backbone always sees 3
channels at its native value range, ImageNet files for keras.applications
(`*_notop.h5`) load unchanged, also for grayscale data.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import re
from typing import Callable, Dict, Optional, Tuple

import keras
import tensorflow as tf

from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

BACKBONE_LAYER_NAME = "backbone"
BATCH_NORM_MOMENTUM = 0.9
WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".keras")
# A keras-hub preset directory holds the backbone's weights under this name.
PRESET_WEIGHTS_FILE_NAME = "model.weights.h5"
# Attribute of a backbone rebuilt by `plain_depthwise`: builds the library's own network, for its weight files.
LIBRARY_LAYOUT_TWIN = "_library_layout_twin"

# caffe-style preprocessing (ResNet50): BGR channel order, ImageNet mean per channel on the 0-255 scale.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@dataclasses.dataclass(frozen=True)
class Backbone:
    """How to build one library network and feed it.

    Attributes:
      name: the `TrainingConfig.architecture` name.
      make: `(input_shape (H, W, 3), size_multiple) -> keras.Model` mapping
        preprocessed images to features `[B, F]` (or tokens `[B, T, F]`).
      minimum_size: smallest height/width the network accepts; smaller
        images are upsampled inside the model.
      preprocessing: `imagenet_255` (the application's own preprocessing
        layers on [0,255]), `caffe` (BGR, mean subtracted) or `symmetric`
        ([-1, 1]).
      size_multiple: `(height, width) -> int`; height and width are rounded
        up to a multiple of it (the ViT patch size); None: any size.
      token_output: the network returns tokens; the class token is used.
      library: where the network comes from (for the docs and errors).
    """

    name: str
    make: Callable[[Tuple[int, int, int], int], keras.Model]
    minimum_size: int = 32
    preprocessing: str = "imagenet_255"
    size_multiple: Optional[Callable[[Tuple[int, int]], int]] = None
    token_output: bool = False
    library: str = "keras.applications"


def _application(constructor_name: str, **kwargs) -> Callable[[Tuple[int, int, int], int], keras.Model]:
    def make(input_shape, size_multiple):
        del size_multiple  # The CNNs take any size from their minimum up.
        constructor = getattr(keras.applications, constructor_name)
        network = constructor(include_top=False, weights=None, input_shape=input_shape, pooling="avg", **kwargs)
        network.name = BACKBONE_LAYER_NAME  # After building: EfficientNetV2 looks its block table up by name.
        for layer in network.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                # MobileNetV3 ships 0.999, ResNet50 0.99: after the few hundred steps of a small-data run their
                # moving statistics are still near the initial 0/1 and inference breaks. 0.9 as in the toy CNNs.
                layer.momentum = BATCH_NORM_MOMENTUM
        rebuilt = plain_depthwise(network)
        if rebuilt is not network:  # Weight files of the library's layout load into the network as built.
            setattr(rebuilt, LIBRARY_LAYOUT_TWIN, lambda: constructor(
                include_top=False, weights=None, input_shape=input_shape, pooling="avg", **kwargs))
        return rebuilt

    return make


def plain_depthwise(network: keras.Model) -> keras.Model:
    """ConvNeXt's depthwise convs (Conv2D with groups=C) as DepthwiseConv2D: the same function, trains faster.

    Keras' TensorFlow backend runs grouped Conv2D on the CPU as nested XLA
    functions (benchmarks/results/backbones.md: ConvNeXt-Tiny at 32 px, 86 and
    55 ms per image and train step as built, 23 ms after the rewrite, in two
    side-by-side runs).
    Weight files in the library's grouped layout still load
    (`load_pretrained_weights` transposes the kernels). Networks without such
    convs are returned as they are.
    """
    from components.training import surgery

    rebuilt = surgery.grouped_conv_to_depthwise(network)
    if rebuilt is not network:
        rebuilt.name = BACKBONE_LAYER_NAME
    return rebuilt


def vit_patch_size(image_size: Tuple[int, int]) -> int:
    """Patch 4 below 128 px (an 8x8 token grid at 32 px), the usual 16 from 128 px up."""
    return 16 if min(image_size) >= 128 else 4


def _vit_tiny(input_shape: Tuple[int, int, int], patch_size: int) -> keras.Model:
    """ViT-Ti dimensions (12 layers, 3 heads, width 192) from keras-hub."""
    try:
        import keras_hub
    except ImportError as error:  # pragma: no cover - keras-hub is installed by `make install`.
        raise ImportError("architecture 'vit_tiny' needs the keras-hub package (pip install keras-hub).") from error
    return keras_hub.models.ViTBackbone(
        image_shape=input_shape,
        patch_size=patch_size,
        num_layers=12,
        num_heads=3,
        hidden_dim=192,
        mlp_dim=768,
        name=BACKBONE_LAYER_NAME,
    )


BACKBONES: Dict[str, Backbone] = {
    spec.name: spec
    for spec in (
        Backbone("resnet50", _application("ResNet50"), preprocessing="caffe"),
        Backbone("efficientnet_v2_b0", _application("EfficientNetV2B0", include_preprocessing=True)),
        Backbone("mobilenet_v3_small", _application("MobileNetV3Small", include_preprocessing=True)),
        Backbone("convnext_tiny", _application("ConvNeXtTiny", include_preprocessing=True)),
        Backbone(
            "vit_tiny",
            _vit_tiny,
            preprocessing="symmetric",
            size_multiple=vit_patch_size,
            token_output=True,
            library="keras-hub",
        ),
    )
}


def backbone_input_size(backbone: Backbone, image_size: Tuple[int, int]) -> Tuple[Tuple[int, int], int]:
    """((height, width) the backbone runs at, size multiple): at least its minimum, rounded up to the multiple."""
    at_least = tuple(max(int(side), backbone.minimum_size) for side in image_size)
    multiple = backbone.size_multiple(at_least) if backbone.size_multiple else 1
    return tuple(int(math.ceil(side / multiple) * multiple) for side in at_least), multiple


def _adapt_channels(images, channels: int):
    """`[B,H,W,C]` -> `[B,H,W,3]`: repeat a gray channel; project other counts with a learned 1x1 conv."""
    if channels == 3:
        return images
    if channels == 1:
        return keras.layers.Concatenate(axis=-1, name="gray_to_rgb")([images, images, images])
    return keras.layers.Conv2D(3, 1, name="channel_adapter")(images)


def _preprocess(images, mode: str):
    """[0,1] RGB -> the value range and channel order the backbone was trained with."""
    if mode == "imagenet_255":
        return keras.layers.Rescaling(255.0, name="to_255")(images)
    if mode == "caffe":
        scaled = keras.layers.Rescaling(255.0, name="to_255")(images)
        bgr = keras.ops.flip(scaled, axis=-1)
        return keras.layers.Normalization(mean=list(CAFFE_BGR_MEAN), variance=[1.0, 1.0, 1.0], name="caffe_mean")(bgr)
    if mode == "symmetric":
        return keras.layers.Rescaling(2.0, offset=-1.0, name="to_symmetric")(images)
    raise ValueError(f"Unknown backbone preprocessing {mode!r}.")


def build_backbone_classifier(
    name: str,
    data_spec: DataSpecContent,
    image_size: Tuple[int, int],
    dropout_rate: float = 0.2,
) -> keras.Model:
    """A classifier on the named backbone with random weights.

    Args:
      name: a key of `BACKBONES`.
      data_spec: sets the channel count, the number of classes and the head
        activation (softmax, sigmoid for multilabel).
      image_size: (height, width) of the model's input.
      dropout_rate: dropout before the head.

    Returns:
      `[B,H,W,C]` in [0,1] -> probabilities `[B,K]`; the library network is
      the nested layer named `backbone`.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; known ones are {sorted(BACKBONES)}.")
    from components.training.models import _head  # models imports this module to register the backbones.

    backbone = BACKBONES[name]
    height, width = int(image_size[0]), int(image_size[1])
    inputs = keras.Input(shape=(height, width, data_spec.channels), name="image")
    x = _adapt_channels(inputs, data_spec.channels)
    target, multiple = backbone_input_size(backbone, (height, width))
    if target != (height, width):
        x = keras.layers.Resizing(*target, interpolation="bilinear", name="backbone_resize")(x)
    x = _preprocess(x, backbone.preprocessing)
    network = backbone.make((*target, 3), multiple)
    x = network(x)
    if backbone.token_output:
        x = x[:, 0]  # The class token.
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name="head_dropout")(x)
    return keras.Model(inputs, _head(data_spec)(x), name=name)


def architecture_builders() -> Dict[str, Callable[..., keras.Model]]:
    """`{name: builder(data_spec, image_size)}` for models.ARCHITECTURES."""
    return {name: functools.partial(build_backbone_classifier, name) for name in BACKBONES}


def find_backbone(model: keras.Model) -> Optional[keras.Model]:
    """The nested layer named `backbone`, searched through wrapper models (scaffold, soft-target wrapper)."""
    pending = [model]
    while pending:
        layer = pending.pop(0)
        if layer is not model and layer.name == BACKBONE_LAYER_NAME:
            return layer
        pending.extend(getattr(layer, "layers", []) or [])
        inner = getattr(layer, "inner", None)  # trainer.SoftTargetModel keeps the model as `inner`.
        if isinstance(inner, keras.layers.Layer):
            pending.append(inner)
    return None


class MissingWeightsError(FileNotFoundError, ValueError):
    """`pretrained_weights` names no file: a FileNotFoundError that is also the config ValueError callers catch."""


def check_weights_path(path: str) -> None:
    """Raises ValueError unless `path` names a weights file type we load (a config-time check, no I/O)."""
    if not path:
        raise ValueError("pretrained_weights is empty.")
    if not path.endswith(WEIGHT_FILE_SUFFIXES) and os.path.splitext(path)[1]:
        raise ValueError(
            f"pretrained_weights {path!r}: expected a {' / '.join(WEIGHT_FILE_SUFFIXES)} file or a keras-hub preset "
            "directory."
        )


def save_backbone_weights(model: keras.Model, path: str) -> None:
    """Writes the backbone's weights (`*.weights.h5`) for `pretrained_weights` of a later run."""
    backbone = _required_backbone(model, "save_backbone_weights")
    if not path.endswith(".weights.h5"):
        raise ValueError(f"save_backbone_weights writes a .weights.h5 file; got {path!r}.")
    backbone.save_weights(path)


def _required_backbone(model: keras.Model, purpose: str) -> keras.Model:
    backbone = find_backbone(model)
    if backbone is None:
        raise ValueError(
            f"{purpose}: model {model.name!r} has no nested layer named {BACKBONE_LAYER_NAME!r}; use a backbone "
            f"architecture ({sorted(BACKBONES)}) or name your base model {BACKBONE_LAYER_NAME!r} in the module file."
        )
    return backbone


def load_pretrained_weights(model: keras.Model, path: str) -> int:
    """Loads local weights into the model's backbone; the head keeps its fresh initialization.

    Accepted files (never downloaded from the internet; local paths, or
    tf.io.gfile URIs such as gs:// that are copied to local scratch first):
      - `*.weights.h5`: written by `save_backbone_weights` (same backbone,
        same input channel count 3, any image size and head).
      - `*.h5`: keras.applications ImageNet weights without top, e.g.
        `resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5` (legacy H5).
      - `*.keras`: a saved model that contains a layer named `backbone`, e.g.
        the `model.keras` of an earlier Model artifact of the same
        architecture (another dataset, other classes), or a bare backbone.
      - a keras-hub preset directory: its `model.weights.h5`.

    Returns:
      The number of weight tensors loaded.

    Raises:
      MissingWeightsError (a FileNotFoundError and a ValueError): the path does not exist.
      ValueError: the file does not fit the backbone (one line naming the file and why).
    """
    backbone = _required_backbone(model, "pretrained_weights")
    if not tf.io.gfile.exists(path):
        raise MissingWeightsError(f"pretrained_weights {path!r} does not exist.")
    if tf.io.gfile.isdir(path):
        path = os.path.join(path, PRESET_WEIGHTS_FILE_NAME)
        if not tf.io.gfile.exists(path):
            raise ValueError(f"pretrained_weights directory has no {PRESET_WEIGHTS_FILE_NAME} (keras-hub preset layout).")
    if "://" in path:  # h5py reads local files only: copy gs:// (or other remote) weights to local scratch first.
        return _load_remote(model, path)
    try:
        if path.endswith(".keras"):
            from components.common import model_io

            model_io.register_custom_layers()
            source = keras.saving.load_model(path, compile=False)
            source_backbone = source if source.name == BACKBONE_LAYER_NAME else find_backbone(source)
            if source_backbone is None:
                raise ValueError(f"the saved model {source.name!r} has no layer named {BACKBONE_LAYER_NAME!r}")
            assign_weights(backbone, source_backbone.get_weights())
        else:
            _load_weights_file(backbone, path)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"pretrained_weights {path!r} do not fit backbone of {model.name!r}: {_one_line(error)}"
        ) from error
    loaded = len(backbone.weights)
    logger.info("pretrained_weights: loaded %d backbone weight tensors from %s", loaded, path)
    return loaded


def _load_weights_file(backbone: keras.Model, path: str) -> None:
    """`backbone.load_weights(path)`; a file in the library's grouped-conv layout loads through a library-built twin."""
    try:
        backbone.load_weights(path)
    except ValueError:
        make_twin = getattr(backbone, LIBRARY_LAYOUT_TWIN, None)
        if make_twin is None:
            raise
        twin = make_twin()
        twin.load_weights(path)
        assign_weights(backbone, twin.get_weights())


def assign_weights(network: keras.Model, weights) -> None:
    """`network.set_weights(weights)`, also from the grouped layout of depthwise kernels ([kh, kw, 1, C]).

    `plain_depthwise` turns ConvNeXt's grouped convs into DepthwiseConv2D,
    whose kernels are [kh, kw, C, 1]: weights from the library's own network
    (an ImageNet file, a model saved before the rewrite) are transposed into
    place. Any other shape difference is left to set_weights' error.
    """
    fitted = []
    for value, variable in zip(weights, network.weights):
        target = tuple(variable.shape)
        shape = tuple(value.shape)
        if len(shape) == 4 and shape != target and shape[2] == 1 and target == (shape[0], shape[1], shape[3], 1):
            value = value.transpose(0, 1, 3, 2)
        fitted.append(value)
    network.set_weights(fitted + list(weights[len(fitted):]))


def _one_line(error: Exception, limit: int = 400) -> str:
    """Keras' load error on one line, without the variable values it prints (they can be megabytes)."""
    text = re.sub(r"<Variable [^>]*>", "<Variable>", " ".join(str(error).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_remote(model: keras.Model, path: str) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        local = os.path.join(directory, os.path.basename(path.rstrip("/")))
        tf.io.gfile.copy(path, local)
        return load_pretrained_weights(model, local)


def with_pretrained_weights(model: keras.Model, path: str) -> keras.Model:
    """`load_pretrained_weights(model, path)`, returning the model (for builder chains)."""
    load_pretrained_weights(model, path)
    return model
