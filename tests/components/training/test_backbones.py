"""Library backbones: any size and channel count, DataSpec heads, local pretrained weights."""

import numpy as np
import pytest
import keras

from components.training import backbones, models
from components.training.spec import TrainingConfig
from components.types import config_json, features
from components.types.data_spec import DataSpecContent

# MobileNetV3-Small builds in about a second; the others run in the slow suite.
FAST = ["mobilenet_v3_small"]
LARGE = sorted(set(backbones.BACKBONES) - set(FAST))


def _data_spec(channels: int, num_classes: int = 3, task: str = features.TASK_CLASSIFICATION) -> DataSpecContent:
    names = [f"class_{index}" for index in range(num_classes)]
    return DataSpecContent(task=task, class_names=names, channels=channels, source_format="synthetic")


def _images(size: int, channels: int, count: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(count, size, size, channels)).astype("float32")


def _check_forward(name: str, size: int, channels: int) -> keras.Model:
    model = models.build_architecture(name, _data_spec(channels), (size, size))
    assert model.input_shape == (None, size, size, channels)
    probabilities = keras.ops.convert_to_numpy(model(_images(size, channels)))
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    assert backbones.find_backbone(model) is not None
    # Grouped convs run as nested XLA functions on the CPU: every backbone is built with plain depthwise ones.
    assert not [layer.name for layer in backbones.find_backbone(model).layers
                if type(layer) is keras.layers.Conv2D and layer.groups > 1]
    return model


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("size,channels", [(28, 1), (64, 3)])
def test_fast_backbone_runs_at_small_gray_and_rgb_sizes(name, size, channels):
    model = _check_forward(name, size, channels)
    layer_names = {layer.name for layer in model.layers}
    # 28 px is below the 32 px minimum: upsampled inside the model; 64 px runs as is.
    assert ("backbone_resize" in layer_names) == (size < 32)
    assert ("gray_to_rgb" in layer_names) == (channels == 1)
    assert backbones.find_backbone(model).input_shape == (None, max(size, 32), max(size, 32), 3)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE)
@pytest.mark.parametrize("size,channels", [(28, 1), (64, 3)])
def test_large_backbones_run_at_small_gray_and_rgb_sizes(name, size, channels):
    _check_forward(name, size, channels)


def test_every_backbone_is_a_registered_architecture_and_config_name():
    for name in backbones.BACKBONES:
        assert name in models.ARCHITECTURES
        assert TrainingConfig(architecture=name).architecture == name


def test_multilabel_head_is_sigmoid_and_other_channel_counts_are_projected():
    data_spec = _data_spec(4, num_classes=5, task=features.TASK_MULTILABEL)
    model = models.build_architecture("mobilenet_v3_small", data_spec, (40, 40))
    assert model.get_layer("probabilities").get_config()["activation"] == "sigmoid"
    assert model.get_layer("channel_adapter").kernel.shape == (1, 1, 4, 3)
    probabilities = keras.ops.convert_to_numpy(model(_images(40, 4)))
    assert probabilities.shape == (2, 5)
    assert not np.allclose(probabilities.sum(axis=-1), 1.0)  # Independent sigmoids.


def test_vit_input_is_rounded_to_its_patch_grid():
    vit = backbones.BACKBONES["vit_tiny"]
    assert backbones.backbone_input_size(vit, (28, 30)) == ((32, 32), 4)
    assert backbones.backbone_input_size(vit, (126, 200)) == ((128, 200), 4)
    assert backbones.backbone_input_size(vit, (224, 230)) == ((224, 240), 16)
    cnn = backbones.BACKBONES["resnet50"]
    assert backbones.backbone_input_size(cnn, (28, 100)) == ((32, 100), 1)


def test_caffe_preprocessing_flips_to_bgr_and_subtracts_the_imagenet_mean():
    inputs = keras.Input((4, 4, 3))
    preprocess = keras.Model(inputs, backbones._preprocess(inputs, "caffe"))
    pixel = np.array([0.1, 0.5, 0.9], np.float32)
    out = keras.ops.convert_to_numpy(preprocess(np.tile(pixel, (1, 4, 4, 1))))[0, 0, 0]
    np.testing.assert_allclose(out, pixel[::-1] * 255 - np.array(backbones.CAFFE_BGR_MEAN), rtol=1e-5)


def _backbone_weights(model):
    return [keras.ops.convert_to_numpy(w) for w in backbones.find_backbone(model).weights]


def _assert_same(left, right):
    assert len(left) == len(right)
    for a, b in zip(left, right):
        np.testing.assert_array_equal(a, b)


def test_pretrained_weights_file_loads_into_backbone_and_keeps_a_fresh_head(tmp_path):
    keras.utils.set_random_seed(1)
    source = models.build_architecture("mobilenet_v3_small", _data_spec(1, num_classes=3), (28, 28))
    path = str(tmp_path / "mobilenet.weights.h5")
    backbones.save_backbone_weights(source, path)

    keras.utils.set_random_seed(2)  # Other random weights, another head size and image size.
    target = models.build_architecture("mobilenet_v3_small", _data_spec(1, num_classes=7), (48, 48))
    before = _backbone_weights(target)
    loaded = backbones.load_pretrained_weights(target, path)
    assert loaded == len(before)
    _assert_same(_backbone_weights(target), _backbone_weights(source))
    assert not np.array_equal(before[0], _backbone_weights(target)[0])
    assert target.get_layer("probabilities").kernel.shape[-1] == 7


def test_pretrained_weights_from_a_saved_keras_model(tmp_path):
    keras.utils.set_random_seed(3)
    source = models.build_architecture("mobilenet_v3_small", _data_spec(3, num_classes=2), (32, 32))
    path = str(tmp_path / "model.keras")
    source.save(path)
    keras.utils.set_random_seed(4)
    target = models.build_architecture("mobilenet_v3_small", _data_spec(1, num_classes=4), (28, 28))
    backbones.load_pretrained_weights(target, path)
    _assert_same(_backbone_weights(target), _backbone_weights(source))


def _library_grouped_network(include_top=False, weights=None, input_shape=None, pooling="avg"):
    """A keras.applications stand-in with ConvNeXt's depthwise conv as Conv2D(groups=C) (ConvNeXt-Tiny is slow)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 4, strides=4, name="stem")(inputs)
    x = keras.layers.Conv2D(8, 7, padding="same", groups=8, name="depthwise")(x)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name="library_network")


@pytest.fixture
def grouped_backbone(monkeypatch):
    monkeypatch.setattr(keras.applications, "GroupedStandIn", _library_grouped_network, raising=False)
    monkeypatch.setitem(backbones.BACKBONES, "grouped_stand_in",
                        backbones.Backbone("grouped_stand_in", backbones._application("GroupedStandIn")))
    return lambda channels, classes, size: backbones.build_backbone_classifier(
        "grouped_stand_in", _data_spec(channels, num_classes=classes), (size, size))


def _library_features(network, images):
    return keras.ops.convert_to_numpy(network(images, training=False))


def test_grouped_depthwise_convs_are_built_as_depthwise_and_library_weight_files_still_load(tmp_path, grouped_backbone):
    keras.utils.set_random_seed(7)
    model = grouped_backbone(1, 3, 32)
    layers = {layer.name: layer for layer in backbones.find_backbone(model).layers}
    assert type(layers["depthwise"]) is keras.layers.DepthwiseConv2D and backbones.find_backbone(model).name == "backbone"
    assert type(layers["stem"]) is keras.layers.Conv2D
    # A weights file of the library's own network (grouped kernels [7, 7, 1, 8]) loads, in both file formats.
    library = _library_grouped_network(input_shape=(32, 32, 3))
    images = _images(32, 3, count=4)
    for path in (str(tmp_path / "library.weights.h5"), str(tmp_path / "library_notop.h5")):
        keras.utils.set_random_seed(8)
        library = _library_grouped_network(input_shape=(32, 32, 3))
        library.get_layer("norm").moving_mean.assign(np.arange(8, dtype="float32"))
        if path.endswith(".weights.h5"):
            library.save_weights(path)
        else:
            import h5py
            from keras.src.legacy.saving import legacy_h5_format

            with h5py.File(path, "w") as handle:
                legacy_h5_format.save_weights_to_hdf5_group(handle, library)
        target = grouped_backbone(1, 5, 32)
        backbones.load_pretrained_weights(target, path)
        np.testing.assert_allclose(_library_features(backbones.find_backbone(target), images),
                                   _library_features(library, images), atol=1e-5)
    # What our trained models save (depthwise layout) loads back directly, and from a saved .keras model.
    saved = str(tmp_path / "ours.weights.h5")
    backbones.save_backbone_weights(target, saved)
    again = grouped_backbone(1, 2, 32)
    backbones.load_pretrained_weights(again, saved)
    _assert_same(_backbone_weights(again), _backbone_weights(target))


def test_assign_weights_transposes_grouped_kernels_only():
    inputs = keras.Input((8, 8, 4))
    network = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, use_bias=False)(inputs))
    grouped = np.random.default_rng(0).normal(size=(3, 3, 1, 4)).astype("float32")
    backbones.assign_weights(network, [grouped])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(network.weights[0]), grouped.transpose(0, 1, 3, 2))
    with pytest.raises(ValueError):
        backbones.assign_weights(network, [np.zeros((3, 3, 2, 2), "float32")])


def test_pretrained_weights_errors_name_the_file(tmp_path):
    target = models.build_architecture("mobilenet_v3_small", _data_spec(1), (28, 28))
    with pytest.raises(FileNotFoundError, match="missing.weights.h5") as missing:
        backbones.load_pretrained_weights(target, str(tmp_path / "missing.weights.h5"))
    assert isinstance(missing.value, ValueError)  # The config-error type callers catch, too.
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name=backbones.BACKBONE_LAYER_NAME)
    wrong = str(tmp_path / "other.weights.h5")
    other.save_weights(wrong)
    with pytest.raises(ValueError, match="other.weights.h5") as mismatch:
        backbones.load_pretrained_weights(target, wrong)
    assert "\n" not in str(mismatch.value) and len(str(mismatch.value)) < 600
    with pytest.raises(ValueError, match="no nested layer named 'backbone'"):
        backbones.load_pretrained_weights(models.build_architecture("tiny_cnn", _data_spec(1), (12, 12)), wrong)


def test_config_checks_pretrained_weights_and_fine_tune_options():
    with pytest.raises(ValueError, match="needs a backbone architecture"):
        TrainingConfig(architecture="small_cnn", pretrained_weights="/weights/x.weights.h5")
    with pytest.raises(ValueError, match="pretrained_weights"):
        TrainingConfig(architecture="resnet50", pretrained_weights="/weights/resnet.pt")
    with pytest.raises(ValueError, match="warmup_epochs"):
        TrainingConfig(architecture="resnet50", fine_tune={"warmup_epochs": 0})
    with pytest.raises(ValueError, match="Unknown fine_tune option"):
        TrainingConfig(architecture="resnet50", fine_tune={"warmup": 1})
    config = TrainingConfig(
        architecture="convnext_tiny",
        pretrained_weights="/weights/convnext_tiny.weights.h5",
        fine_tune={"warmup_epochs": 2, "unfreeze_learning_rate_factor": 0.05},
    )
    assert config.fine_tune.warmup_epochs == 2
    assert config_json.config_from_json(TrainingConfig, config_json.config_to_json(config)) == config


def test_keras_applications_imagenet_file_format_loads_for_gray_input(tmp_path):
    """The legacy H5 layout of keras.applications' `*_notop.h5` ImageNet files (written here, not downloaded)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(5)
    imagenet_like = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(224, 224, 3), include_preprocessing=True
    )
    path = str(tmp_path / "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5")
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, imagenet_like)
    target = models.build_architecture("mobilenet_v3_small", _data_spec(1, num_classes=10), (28, 28))
    backbones.load_pretrained_weights(target, path)
    _assert_same(_backbone_weights(target), [keras.ops.convert_to_numpy(w) for w in imagenet_like.weights])


def test_pretrained_weights_from_a_remote_filesystem_path(tmp_path):
    """gs:// and other tf.io.gfile URIs are copied to local scratch (ram:// stands in for gs:// here)."""
    import tensorflow as tf

    keras.utils.set_random_seed(6)
    source = models.build_architecture("mobilenet_v3_small", _data_spec(1), (28, 28))
    local = str(tmp_path / "source.weights.h5")
    backbones.save_backbone_weights(source, local)
    remote = "ram://pretrained/source.weights.h5"
    tf.io.gfile.makedirs("ram://pretrained")
    tf.io.gfile.copy(local, remote, overwrite=True)
    keras.utils.set_random_seed(7)
    target = models.build_architecture("mobilenet_v3_small", _data_spec(1), (28, 28))
    backbones.load_pretrained_weights(target, remote)
    _assert_same(_backbone_weights(target), _backbone_weights(source))


def test_batch_norm_momentum_suits_short_trainings(tmp_path):
    """MobileNetV3 ships momentum 0.999; the backbone uses 0.9 (kept through save and load)."""
    model = models.build_architecture("mobilenet_v3_small", _data_spec(1), (28, 28))
    norms = [layer for layer in backbones.find_backbone(model).layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == backbones.BATCH_NORM_MOMENTUM for layer in norms)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = backbones.find_backbone(keras.saving.load_model(path))
    assert all(layer.momentum == backbones.BATCH_NORM_MOMENTUM for layer in loaded.layers
               if isinstance(layer, keras.layers.BatchNormalization))
