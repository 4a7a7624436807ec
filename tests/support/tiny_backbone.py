"""A module-file classifier with a nested `backbone` model, small enough for pretrained-weights tests.

`pretrained_weights` and `fine_tune` work on any model with a nested layer
named `backbone` (components/training/backbones.py); this one trains in
milliseconds where a library backbone takes seconds. Its backbone is a conv,
a BatchNorm (to see that fine-tuning keeps its statistics frozen) and a
global pooling, so the head reads a flat embedding (what contrastive
pretraining needs).
"""

from __future__ import annotations

import pathlib

import keras

from components.training import backbones, module_file

MODULE_FILE = '''
import keras

def build_model(data_spec, image_size):
    backbone_input = keras.Input(shape=(*image_size, data_spec.channels))
    x = keras.layers.Conv2D({filters}, 3, strides=2, padding="same", name="conv")(backbone_input)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.ReLU()(x))
    backbone = keras.Model(backbone_input, x, name="backbone")
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    outputs = keras.layers.Dense(data_spec.num_classes, activation="softmax", name="probabilities")(backbone(inputs))
    return keras.Model(inputs, outputs, name="user_model")
'''


def write_module_file(directory: pathlib.Path, filters: int = 8) -> str:
    """Writes the module file (its conv has `filters` channels: another count is another architecture)."""
    path = directory / f"tiny_backbone_{filters}.py"
    path.write_text(MODULE_FILE.format(filters=filters))
    return str(path)


def save_pretrained(directory: pathlib.Path, path: str, data_spec, image_size, seed: int = 123,
                    name: str = "pretrained.weights.h5") -> tuple:
    """Builds the module file's model with `seed`, saves its backbone weights; returns (weights path, arrays)."""
    keras.utils.set_random_seed(seed)
    model = module_file.build_model_from_module_file(path, data_spec, image_size)
    backbone = backbones.find_backbone(model)
    # Non-trivial BatchNorm statistics, so a loaded file is told apart from a fresh layer (zeros and ones).
    norm = backbone.get_layer("norm")
    norm.moving_mean.assign(norm.moving_mean + 0.25)
    norm.moving_variance.assign(norm.moving_variance * 2.0)
    weights_path = str(directory / name)
    backbones.save_backbone_weights(model, weights_path)
    return weights_path, [keras.ops.convert_to_numpy(w).copy() for w in backbone.weights]


def backbone_arrays(model: keras.Model) -> list:
    """Copies of every backbone weight (kernels and BatchNorm statistics), in the backbone's order."""
    return [keras.ops.convert_to_numpy(w).copy() for w in backbones.find_backbone(model).weights]
