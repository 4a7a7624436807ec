"""Pass 1 on tiny data: Frechet distance, identity at zero, monotone growth with magnitude."""

import keras
import numpy as np
import pytest

from components.augmentation_search import candidates, distances
from tests.support.canonical import class_image


def test_frechet_distance_is_zero_for_identical_sets_and_the_mean_shift_for_a_translate():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(200, 6))
    assert distances.frechet_distance(embeddings, embeddings) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([3.0, 0, 0, 4.0, 0, 0])
    assert distances.frechet_distance(embeddings, embeddings + shift) == pytest.approx(25.0, rel=1e-6)
    other = rng.normal(scale=2.0, size=(200, 6))
    assert distances.frechet_distance(embeddings, other) == pytest.approx(distances.frechet_distance(other, embeddings), rel=1e-6)


def test_frechet_distance_of_scaled_gaussians_matches_the_closed_form():
    # N(0, I) vs N(0, 4I) in d dims: Tr(I + 4I - 2*2I) = d.
    rng = np.random.default_rng(1)
    first = rng.normal(size=(20000, 3))
    assert distances.frechet_distance(first, 2.0 * first) == pytest.approx(3.0 * np.var(first, ddof=1), rel=0.02)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\[N,D\] with N >= 2"):
        distances.frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="widths differ"):
        distances.frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


def _probe(count=48, size=12, num_classes=3):
    rng = np.random.default_rng(0)
    labels = np.arange(count) % num_classes
    images = np.stack([class_image(int(label), num_classes, size, rng) for label in labels]).astype("float32") / 255.0
    return images, np.eye(num_classes, dtype="float32")[labels]


def _model(size=12, num_classes=3):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def test_identity_has_zero_effect_and_blur_distance_grows_with_magnitude():
    images, targets = _probe()
    space = [candidates.Candidate("identity", 0.0), *[candidates.Candidate("gaussian_blur", m) for m in (0.25, 0.5, 1.0)]]
    reported = []
    effects = distances.measure_candidates(_model(), images, targets, space, seed=0, progress=lambda i, n, e: reported.append(i))
    assert reported == [0, 1, 2, 3]
    identity, *blurs = effects
    assert identity.frechet == pytest.approx(0.0, abs=1e-9)
    assert identity.loss_change == pytest.approx(0.0, abs=1e-9) and identity.label_change == 0.0
    distances_by_magnitude = [effect.relative_frechet for effect in blurs]
    assert distances_by_magnitude == sorted(distances_by_magnitude)
    assert distances_by_magnitude[0] > 1e-6 and distances_by_magnitude[-1] > 2 * distances_by_magnitude[0]


def test_same_seed_same_table_and_mixing_ops_are_measured_with_soft_labels():
    images, targets = _probe()
    space = [candidates.Candidate("mixup", 1.0), candidates.Candidate("translate_x", 0.6)]
    first = distances.measure_candidates(_model(), images, targets, space, seed=3)
    second = distances.measure_candidates(_model(), images, targets, space, seed=3)
    assert [e.to_dict() for e in first] == [e.to_dict() for e in second]
    assert first[0].frechet > 0 and 0.0 <= first[0].accuracy <= 1.0


def test_feature_extractor_needs_a_functional_model():
    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="functional"):
        distances.feature_extractor(Subclassed())
    model = _model()
    embedding, probabilities = distances.feature_extractor(model)(np.zeros((2, 12, 12, 1), "float32"))
    assert embedding.shape == (2, 8) and probabilities.shape == (2, 3)
