"""Detection: the box shape prior chosen by a pluggable held-out scorer."""

import math

import pytest

from components.augmentation_search.box_prior import choose_box_prior


def test_the_best_scoring_prior_is_chosen_and_cross_means_diamond():
    seen = []

    def scorer(options):
        seen.append(options.box_prior)
        return {"rectangle": 0.41, "ellipse": 0.38, "diamond": 0.47}[options.box_prior]

    choice = choose_box_prior(scorer)
    assert seen == ["rectangle", "ellipse", "diamond"]
    assert choice.prior == "cross" and choice.options.box_prior == "diamond"
    assert choice.scores == {"rectangle": 0.41, "ellipse": 0.38, "cross": 0.47}


def test_ties_keep_the_earlier_prior_and_other_options_are_kept():
    from augment_ops.options import AugmentOptions

    base = AugmentOptions(min_box_visibility=0.5)
    choice = choose_box_prior(lambda options: 1.0, ("ellipse", "rectangle"), base)
    assert choice.prior == "ellipse" and choice.options.min_box_visibility == 0.5


def test_bad_priors_and_scores_are_clear_errors():
    with pytest.raises(ValueError, match="Unknown box priors"):
        choose_box_prior(lambda options: 1.0, ("hexagon",))
    with pytest.raises(ValueError, match="at least one prior"):
        choose_box_prior(lambda options: 1.0, ())
    with pytest.raises(ValueError, match="non-finite score"):
        choose_box_prior(lambda options: math.nan)
