import pytest
import tensorflow as tf

from components.common import synthetic_blend as blend
from components.synthesis import blend_search
from components.synthesis.blend_search import RatioResult
from components.training import models
from components.training.spec import TrainingConfig
from tests.components.synthesis.tiny_data import stripe_arrays, stripe_data_spec


def _point(ratio, accuracy):
    return RatioResult(ratio, accuracy, 0.0, 1.0, [accuracy], 10)


def test_choose_ratio_prefers_accuracy_then_the_smaller_ratio():
    assert blend_search.choose_ratio([_point(0.0, 0.80), _point(0.5, 0.85), _point(1.0, 0.84)]) == 0.5
    assert blend_search.choose_ratio([_point(1.0, 0.85), _point(0.0, 0.80), _point(0.5, 0.85)]) == 0.5
    assert blend_search.choose_ratio([_point(0.0, 0.80), _point(0.5, 0.80)]) == 0.0
    assert blend_search.choose_ratio([_point(0.0, 0.90), _point(0.5, 0.70)]) == 0.0
    assert blend_search.choose_ratio([_point(0.0, 0.80), _point(0.5, 0.805)], min_improvement=0.01) == 0.0


def _search(synthetic_labels_shift: int):
    """Search over ratios with 6 real images and 90 synthetic ones (labels shifted by `shift` classes)."""
    real_images, real_labels = stripe_arrays(6, seed=0)
    synthetic_images, synthetic_labels = stripe_arrays(90, seed=1)
    synthetic_labels = (synthetic_labels + synthetic_labels_shift) % 3
    eval_images, eval_labels = stripe_arrays(60, seed=2)

    def one_hot(images, labels):
        return tf.data.Dataset.from_tensor_slices((images, tf.one_hot(labels, 3)))

    def train_dataset(ratio, seed):
        real = one_hot(real_images, real_labels).shuffle(6, seed=seed)
        return blend.blended_train_dataset(real, [one_hot(synthetic_images, synthetic_labels)], ratio, seed, 6, 8)

    config = TrainingConfig(architecture="tiny_cnn", epochs=8, batch_size=8, learning_rate=0.03, verbose=0)
    return blend_search.search_blend_ratio(
        lambda: models.build_architecture("tiny_cnn", stripe_data_spec(3), (12, 12)),
        train_dataset, one_hot(eval_images, eval_labels).batch(30), config, ratios=(0.0, 2.0, 8.0), seeds=(0,),
    )


@pytest.mark.slow
def test_search_keeps_ratio_zero_when_synthetic_labels_are_wrong_and_blends_when_they_help():
    harmful = _search(synthetic_labels_shift=1)
    assert harmful.chosen_ratio == 0.0
    assert harmful.point(8.0).eval_accuracy < harmful.point(0.0).eval_accuracy
    helpful = _search(synthetic_labels_shift=0)
    assert helpful.chosen_ratio > 0.0
    assert helpful.point(helpful.chosen_ratio).eval_accuracy > helpful.point(0.0).eval_accuracy
    assert [point.examples_per_epoch for point in helpful.curve] == [6, 18, 54]


def test_search_records_the_curve_and_returns_the_chosen_model():
    result = _search(synthetic_labels_shift=1)
    assert [point.ratio for point in result.curve] == [0.0, 2.0, 8.0]
    assert all(0.0 <= point.eval_accuracy <= 1.0 for point in result.curve)
    assert result.model.output_shape == (None, 3) and "loss" in result.history
    assert result.to_dict()["chosen_ratio"] == result.chosen_ratio
    png = blend_search.curve_png(result.curve, result.chosen_ratio)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    with pytest.raises(ValueError, match="at least one ratio"):
        blend_search.search_blend_ratio(None, None, None, TrainingConfig(), ratios=(), seeds=(0,))
