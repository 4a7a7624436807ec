import keras
import numpy as np
import pytest

from components.synthesis import feature_networks, frechet
from components.training import models
from tests.components.synthesis.tiny_data import stripe_arrays, stripe_data_spec


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    shift = np.array([1.0, -2.0, 0.5])
    b = rng.normal(size=(4000, 3)) * 2.0 + shift
    # ||shift||^2 + trace(I + 4I - 2 * 2I) = 5.25 + 3.
    assert frechet.frechet_distance(a, b) == pytest.approx(5.25 + 3.0, rel=0.05)
    assert frechet.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet.frechet_distance(a, b) == pytest.approx(frechet.frechet_distance(b, a), rel=1e-6)


def test_frechet_distance_rejects_mismatched_features():
    with pytest.raises(ValueError, match="equal D"):
        frechet.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_random_cnn_space_separates_image_sets_and_is_fixed_by_the_seed():
    real, _ = stripe_arrays(60, size=12, seed=0)
    more_real, _ = stripe_arrays(60, size=12, seed=1)
    noise = np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)
    result = frechet.image_set_distances(noise, real, reference=more_real)
    assert result["feature_space"] == frechet.RANDOM_CNN_SPACE
    assert result["frechet_distance"] > 5 * result["frechet_distance_real_reference"]
    first = feature_networks.pooled_random_features(real[:4], seed=3)
    np.testing.assert_array_equal(first, feature_networks.pooled_random_features(real[:4], seed=3))
    assert not np.allclose(first, feature_networks.pooled_random_features(real[:4], seed=4))


def test_classifier_space_is_the_penultimate_layer():
    classifier = models.build_architecture("small_cnn", stripe_data_spec(3), (12, 12))
    images, _ = stripe_arrays(6, size=12)
    features = feature_networks.classifier_features(classifier, images)
    assert features.shape == (6, classifier.layers[-1].input.shape[-1])
    result = frechet.image_set_distances(images, images, classifier=classifier)
    assert result["feature_space"] == frechet.CLASSIFIER_SPACE
    assert result["frechet_distance"] == pytest.approx(0.0, abs=1e-4)
    assert isinstance(classifier.layers[-1], keras.layers.Dense)
