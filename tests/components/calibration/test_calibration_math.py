"""Calibration math and layer: temperature scaling, MAP prior ensembling, export round trip."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.calibration import calibration
from components.calibration.calibration import CalibrationParameters
from components.calibration.layers import CalibrationLayer, calibrated_model
from components.calibration.spec import CalibrationConfig
from components.common import model_io
from components.training import models
from components.types.data_spec import DataSpecContent, SplitStats


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def random_probabilities(rows=64, classes=5, seed=0, scale=3.0):
    return softmax(np.random.default_rng(seed).normal(size=(rows, classes)) * scale).astype("float32")


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5, 10.0])
def test_temperature_scaling_leaves_argmax_unchanged(temperature):
    probabilities = random_probabilities()
    calibrated = CalibrationLayer(temperature=temperature)(probabilities)
    np.testing.assert_array_equal(np.argmax(calibrated, axis=1), np.argmax(probabilities, axis=1))
    np.testing.assert_allclose(np.sum(calibrated, axis=1), 1.0, atol=1e-5)
    if temperature > 1:  # softer: the top probability drops
        assert np.all(np.max(calibrated, axis=1) <= np.max(probabilities, axis=1) + 1e-6)


def test_prior_weight_zero_is_the_identity():
    probabilities = random_probabilities()
    prior = [0.6, 0.1, 0.1, 0.1, 0.1]
    np.testing.assert_allclose(CalibrationLayer(1.0, prior, 0.0)(probabilities), probabilities, atol=1e-6)
    identity = calibration.apply_calibration(probabilities, CalibrationParameters(1.0, prior, 0.0))
    np.testing.assert_allclose(identity, probabilities, atol=1e-6)


def test_prior_ensembling_is_a_convex_mix_with_the_prior():
    probabilities = random_probabilities()
    prior = np.array([0.6, 0.1, 0.1, 0.1, 0.1])
    mixed = np.asarray(CalibrationLayer(1.0, prior.tolist(), 0.3)(probabilities))
    np.testing.assert_allclose(mixed, 0.7 * probabilities + 0.3 * prior, atol=1e-6)
    assert mixed.min() >= 0.3 * prior.min() - 1e-7  # no class is ever below w * prior


def test_layer_matches_numpy_twin():
    probabilities = random_probabilities(seed=3, scale=6.0)
    parameters = CalibrationParameters(1.7, [0.1, 0.2, 0.3, 0.2, 0.2], 0.15)
    layer = CalibrationLayer(parameters.temperature, parameters.prior, parameters.prior_weight)
    expected = calibration.apply_calibration(probabilities, parameters)
    np.testing.assert_allclose(layer(probabilities), expected, atol=1e-5)


def test_layer_rejects_bad_parameters():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        CalibrationLayer(temperature=0.0)
    with pytest.raises(ValueError, match="needs a prior"):
        CalibrationLayer(prior_weight=0.2)
    with pytest.raises(ValueError, match="prior has 2 classes"):
        CalibrationLayer(1.0, [0.5, 0.5], 0.1)(random_probabilities(classes=3))


def overconfident_sample(rows=4000, classes=4, factor=3.0, seed=0):
    """Labels drawn from softmax(z); the 'model' reports softmax(factor * z), overconfident by `factor`."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(rows, classes)) * 2.0
    true = softmax(logits)
    labels = np.array([rng.choice(classes, p=row) for row in true])
    return labels, softmax(logits * factor)


def test_fitted_temperature_undoes_overconfidence():
    labels, probabilities = overconfident_sample(factor=3.0)
    temperature = calibration.fit_temperature(labels, probabilities)
    assert temperature == pytest.approx(3.0, rel=0.1)
    calibrated = calibration.apply_calibration(probabilities, CalibrationParameters(temperature))
    assert calibration.mean_nll(labels, calibrated) < calibration.mean_nll(labels, probabilities)


def test_map_weight_reduces_nll_of_confident_mistakes_and_vanishes_without_them():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=2000)
    predicted = np.where(rng.uniform(size=2000) < 0.8, labels, (labels + 1) % 4)
    confident = np.full((2000, 4), 0.001)
    confident[np.arange(2000), predicted] = 0.997
    prior = [0.25] * 4
    parameters = calibration.fit_calibration(labels, confident, calibration.MAP, prior)
    assert 0.05 < parameters.prior_weight < calibration.MAX_PRIOR_WEIGHT
    calibrated = calibration.apply_calibration(confident, parameters)
    assert calibration.mean_nll(labels, calibrated) < 0.6 * calibration.mean_nll(labels, confident)
    np.testing.assert_array_equal(np.argmax(calibrated, 1), predicted)  # a uniform prior keeps decisions
    perfect = np.eye(4)[labels] * 0.999 + 0.00025
    assert calibration.fit_prior_weight(labels, perfect, prior) == pytest.approx(0.0, abs=1e-3)


def test_temperature_map_fits_both():
    labels, probabilities = overconfident_sample(factor=2.0, seed=2)
    parameters = calibration.fit_calibration(labels, probabilities, calibration.TEMPERATURE_MAP, [0.25] * 4)
    assert parameters.temperature > 1.3
    base = calibration.mean_nll(labels, probabilities)
    assert calibration.mean_nll(labels, calibration.apply_calibration(probabilities, parameters)) < base


def test_fit_calibration_errors_are_clear():
    labels, probabilities = np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match="Unknown calibration method"):
        calibration.fit_calibration(labels, probabilities, "platt")
    with pytest.raises(ValueError, match="needs a class prior"):
        calibration.fit_calibration(labels, probabilities, calibration.MAP)
    with pytest.raises(ValueError, match="no|none"):
        calibration.fit_calibration(np.array([], int), np.zeros((0, 2)), calibration.TEMPERATURE)


def test_class_prior_from_data_spec():
    spec = DataSpecContent(
        task="classification", class_names=["a", "b"], channels=1, source_format="x",
        splits={"train": SplitStats(4, {"a": 3, "b": 1})},
    )
    assert calibration.class_prior(spec, "uniform") == [0.5, 0.5]
    assert calibration.class_prior(spec, "train") == [0.75, 0.25]
    with pytest.raises(ValueError, match="per-class train counts"):
        calibration.class_prior(dataclasses.replace(spec, splits={}), "train")


def test_config_is_validated_at_construction():
    with pytest.raises(ValueError, match="method"):
        CalibrationConfig(method="isotonic")
    with pytest.raises(ValueError, match="prior"):
        CalibrationConfig(prior="zipf")
    with pytest.raises(ValueError, match="labeled split"):
        CalibrationConfig(fit_split="unlabeled")


def test_calibrated_model_exports_and_reloads(tmp_path):
    spec = DataSpecContent(task="classification", class_names=["a", "b", "c"], channels=1, source_format="x")
    base = models.tiny_cnn(spec, (12, 12))
    model = calibrated_model(base, temperature=2.0, prior=[0.2, 0.3, 0.5], prior_weight=0.1)
    model_io.save_model_artifact(model, str(tmp_path))
    images = np.random.default_rng(0).uniform(size=(4, 12, 12, 1)).astype("float32")
    parameters = CalibrationParameters(2.0, [0.2, 0.3, 0.5], 0.1)
    expected = calibration.apply_calibration(base.predict(images, verbose=0), parameters)
    reloaded = model_io.load_model(str(tmp_path))
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, atol=1e-5)
    serving = tf.saved_model.load(model_io.serving_path(str(tmp_path)))
    served = serving.signatures["serving_default"](tf.constant(images))["probabilities"]
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert isinstance(reloaded.get_layer("calibration"), CalibrationLayer)
    assert keras.saving.get_registered_name(CalibrationLayer) == "tfx_autofit>CalibrationLayer"


def _drawn(count, sharpen, seed=0):
    """Labels drawn from true class probabilities, and a model's probabilities: the truth sharpened by `sharpen`."""
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet(np.full(4, 0.7), size=count)
    labels = np.array([rng.choice(4, p=row) for row in truth])
    logits = sharpen * np.log(np.clip(truth, 1e-9, 1.0))
    model = np.exp(logits - logits.max(axis=1, keepdims=True))
    return labels, model / model.sum(axis=1, keepdims=True)


def test_calibration_is_kept_only_when_it_lowers_nll_out_of_fold_beyond_the_noise():
    from components.calibration.executor import out_of_fold_check
    from components.calibration.spec import CalibrationConfig

    config = CalibrationConfig(method="temperature", check_folds=5)
    overconfident = out_of_fold_check(*_drawn(300, sharpen=3.0), config, None)
    assert overconfident["kept"] and overconfident["low"] > 0 and "lower beyond the noise" in overconfident["text"]
    calibrated = out_of_fold_check(*_drawn(100, sharpen=1.0, seed=1), config, None)
    assert not calibrated["kept"] and "not lower beyond the noise" in calibrated["text"]
    gain = calibration.out_of_fold_nll_gain(*_drawn(300, sharpen=3.0), "temperature", None, folds=5)
    assert gain.shape == (300,) and gain.mean() == pytest.approx(overconfident["delta"])
    assert out_of_fold_check(*_drawn(100, 1.0), CalibrationConfig(check_folds=0), None) is None
    with pytest.raises(ValueError, match="check_folds must be 0"):
        CalibrationConfig(check_folds=1)
