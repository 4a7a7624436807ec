"""Drop-in architecture changes by graph surgery: each rebuilt model runs and differs as intended."""

import numpy as np
import pytest
import keras

from components.training import backbones, fine_tuning, models, surgery, training
from components.training.spec import TrainingConfig
from components.types import config_json
from components.types.data_spec import DataSpecContent
from tests.support.canonical import artifact_pair

DATA_SPEC = DataSpecContent(task="classification", class_names=["a", "b", "c"], channels=1, source_format="synthetic")


def _images(size=12, count=4, seed=0):
    return np.random.default_rng(seed).uniform(size=(count, size, size, 1)).astype("float32")


def _counts(model):
    names = [layer.__class__.__name__ for layer in model.layers]
    return {name: names.count(name) for name in set(names)}


def _resnet():
    keras.utils.set_random_seed(0)
    return models.build_architecture("small_resnet", DATA_SPEC, (12, 12))


def _predict(model, images, training=False):
    return keras.ops.convert_to_numpy(model(images, training=training))


def test_group_norm_replaces_every_batch_norm_and_keeps_gamma_beta():
    model = _resnet()
    model.get_layer(index=2).gamma.assign(np.linspace(0.5, 1.5, 16))  # A recognizable gamma to follow.
    rebuilt = surgery.apply_changes(model, ["group_norm"])
    assert "BatchNormalization" not in _counts(rebuilt)
    assert _counts(rebuilt)["GroupNormalization"] == _counts(model)["BatchNormalization"] == 9
    group_norm = rebuilt.get_layer(model.get_layer(index=2).name)
    assert group_norm.groups == 16  # 16 channels: largest divisor <= 32.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(group_norm.gamma), np.linspace(0.5, 1.5, 16), rtol=1e-6)
    # Per-sample normalization: a sample's output no longer depends on the rest of the batch in training.
    images = _images(count=4)
    alone = _predict(rebuilt, images[:1], training=True)
    in_batch = _predict(rebuilt, images, training=True)[:1]
    np.testing.assert_allclose(alone, in_batch, atol=1e-5)
    assert not np.allclose(_predict(model, images[:1], True), _predict(model, images, True)[:1], atol=1e-5)


@pytest.mark.parametrize("activation", ["silu", "gelu"])
def test_activation_swap_replaces_relu_and_keeps_weights(activation):
    model = _resnet()
    rebuilt = surgery.apply_changes(model, [activation])
    assert "ReLU" not in _counts(rebuilt)
    swapped = [layer for layer in rebuilt.layers if isinstance(layer, keras.layers.Activation)]
    assert len(swapped) == _counts(model)["ReLU"] and all(layer.get_config()["activation"] == activation for layer in swapped)
    for left, right in zip(model.get_weights(), rebuilt.get_weights()):
        np.testing.assert_array_equal(left, right)
    assert not np.allclose(_predict(model, _images()), _predict(rebuilt, _images()), atol=1e-6)
    # Dense(activation="relu") layers are swapped too.
    dense = surgery.swap_activations(models.build_architecture("small_cnn", DATA_SPEC, (12, 12)), activation)
    assert dense.get_layer("embedding").get_config()["activation"] == activation


def test_blur_pool_keeps_shapes_and_adds_fixed_binomial_filters():
    model = _resnet()
    rebuilt = surgery.apply_changes(model, ["blur_pool"])
    blurs = [layer for layer in rebuilt.layers if layer.name.endswith(surgery.BLUR_SUFFIX)]
    strided = [layer for layer in model.layers if surgery._strided(layer)]
    assert len(blurs) == len(strided) == 4  # Two stride-2 stages, each a 3x3 conv and a 1x1 shortcut.
    for layer in rebuilt.layers:
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.DepthwiseConv2D):
            assert tuple(layer.strides) == (1, 1)
    kernel = keras.ops.convert_to_numpy(blurs[0].kernel)[:, :, 0, 0]
    np.testing.assert_allclose(kernel, np.outer([1, 2, 1], [1, 2, 1]) / 16.0)
    assert not blurs[0].trainable_weights
    # Same output shape at every stage; a one-pixel shift changes the blurred model's features less.
    images = _images()
    assert _predict(rebuilt, images).shape == (4, 3)
    features = lambda m: keras.Model(m.input, m.get_layer("embedding").output)  # noqa: E731
    shifted = np.roll(images, 1, axis=2)
    change = lambda m: np.abs(_predict(features(m), images) - _predict(features(m), shifted)).mean()  # noqa: E731
    assert change(rebuilt) < change(model)


def test_stochastic_depth_drops_residual_branches_in_training_only():
    model = _resnet()
    rebuilt = surgery.apply_changes(model, ["stochastic_depth"], seed=3)
    drops = [layer for layer in rebuilt.layers if isinstance(layer, keras.layers.Dropout)]
    assert [round(layer.rate, 4) for layer in drops] == [round(0.1 * k / 3, 4) for k in (1, 2, 3)]
    assert all(layer.noise_shape[1:] == (1, 1, 1) for layer in drops)
    images = _images(count=16)
    np.testing.assert_allclose(_predict(rebuilt, images), _predict(model, images), atol=1e-6)  # Inference: identity.
    # The branch (not the shortcut) is dropped: each Dropout's input comes from a BatchNorm of the residual path.
    for drop in drops:
        assert isinstance(drop._inbound_nodes[0].input_tensors[0]._keras_history[0], keras.layers.BatchNormalization)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", pytest.param("resnet50", marks=pytest.mark.slow)])
def test_backbone_changes_recurse_into_the_nested_model_and_save(name, tmp_path):
    model = models.build_architecture(name, DATA_SPEC, (28, 28))
    original = backbones.find_backbone(model)
    residual_adds = surgery._count_residual_adds(original)
    strided = sum(surgery._strided(layer) for layer in original.layers)
    assert residual_adds > 0 and strided > 0
    rebuilt = surgery.apply_changes(model, ["blur_pool", "stochastic_depth", "silu"])
    backbone = backbones.find_backbone(rebuilt)
    assert _counts(backbone)["Dropout"] == residual_adds
    assert sum(layer.name.endswith(surgery.BLUR_SUFFIX) for layer in backbone.layers) == strided
    assert _predict(rebuilt, _images(28, 2)).shape == (2, 3)
    path = str(tmp_path / "rebuilt.keras")
    rebuilt.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_predict(loaded, _images(28, 2)), _predict(rebuilt, _images(28, 2)), atol=1e-5)
    # The fine-tuning unfreeze leaves the fixed blur filters frozen.
    fine_tuning.set_backbone_trainable(backbones.find_backbone(loaded), True, keep_batch_norm_frozen=True)
    assert all(not layer.trainable for layer in backbones.find_backbone(loaded).layers
               if layer.name.endswith(surgery.BLUR_SUFFIX))


def test_config_option_validates_and_training_applies_it(tmp_path):
    with pytest.raises(ValueError, match="Unknown architecture_changes"):
        TrainingConfig(architecture_changes=("blur",))
    with pytest.raises(ValueError, match="silu or gelu"):
        TrainingConfig(architecture_changes=("silu", "gelu"))
    config = TrainingConfig(architecture="small_resnet", architecture_changes=["group_norm", "blur_pool"], epochs=1,
                            batch_size=16, verbose=0)
    assert config.architecture_changes == ("group_norm", "blur_pool")
    assert config_json.config_from_json(TrainingConfig, config_json.config_to_json(config)) == config
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 32, "eval": 16})
    model, history, _ = training.train_classifier(examples.uri, data_spec, config)
    assert len(history["loss"]) == 1
    assert "BatchNormalization" not in _counts(model) and _counts(model)["DepthwiseConv2D"] == 4


def test_grouped_conv_becomes_depthwise_with_the_same_function():
    keras.utils.set_random_seed(2)
    inputs = keras.Input((10, 10, 6))
    x = keras.layers.Conv2D(6, 3, padding="same", groups=6, name="grouped")(inputs)
    x = keras.layers.Conv2D(4, 1, groups=2, name="two_groups")(x)  # Two input channels per group: kept.
    model = keras.Model(inputs, x)
    rebuilt = surgery.grouped_conv_to_depthwise(model)
    assert isinstance(rebuilt.get_layer("grouped"), keras.layers.DepthwiseConv2D)
    assert type(rebuilt.get_layer("two_groups")) is keras.layers.Conv2D
    images = np.random.default_rng(0).uniform(size=(2, 10, 10, 6)).astype("float32")
    np.testing.assert_allclose(_predict(rebuilt, images), _predict(model, images), atol=1e-5)
    plain = keras.Model(inputs, keras.layers.Conv2D(3, 3)(inputs))
    assert surgery.grouped_conv_to_depthwise(plain) is plain


def test_input_standardization_makes_predictions_invariant_to_brightness_and_contrast(tmp_path):
    model = _resnet()
    rebuilt = surgery.apply_changes(model, ["input_standardization"])
    assert rebuilt.layers[1].name == "input_standardization" and len(rebuilt.layers) == len(model.layers) + 1
    images = _images()
    night = 0.3 * images + 0.05  # darker, lower contrast, lifted black level
    assert not np.allclose(_predict(model, images), _predict(model, night), atol=1e-3)
    np.testing.assert_allclose(_predict(rebuilt, images), _predict(rebuilt, night), atol=2e-3)
    path = str(tmp_path / "standardized.keras")
    rebuilt.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(_predict(loaded, images), _predict(rebuilt, images), atol=1e-6)
