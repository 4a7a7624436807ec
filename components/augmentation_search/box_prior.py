"""Detection: choosing the box shape prior by held-out score.

When a geometric op moves a box, augment_ops needs an assumption about the
object's shape inside it (AugmentOptions.box_prior): the rectangle's corners,
the inscribed ellipse, or the edge midpoints (a cross / diamond). The right
one depends on the objects, so pass 2 trains with the chosen policy under
each prior and keeps the best.

The suite has no detection training yet, so the score comes from a
pluggable `scorer(options) -> held-out score`; a detection trainer plugs in
there, tests plug in a stub.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Dict, Sequence

from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions
from components.augmentation_search.spec import BOX_PRIOR_ALIASES

logger = logging.getLogger(__name__)

BoxPriorScorer = Callable[[AugmentOptions], float]


@dataclasses.dataclass(frozen=True)
class BoxPriorChoice:
    """The chosen prior (the name the user gave, e.g. 'cross') and every prior's score."""

    prior: str
    options: AugmentOptions
    scores: Dict[str, float]


def choose_box_prior(
    scorer: BoxPriorScorer,
    priors: Sequence[str] = ("rectangle", "ellipse", "cross"),
    base_options: AugmentOptions = DEFAULT_OPTIONS,
) -> BoxPriorChoice:
    """Scores each prior once and keeps the best (ties go to the earlier prior).

    Args:
      scorer: trains/evaluates with the given options; higher is better
        (e.g. held-out mAP of a short detection training).
      priors: names from spec.BOX_PRIOR_ALIASES ('cross' is augment_ops' 'diamond').
      base_options: every other option is kept from here.

    Raises:
      ValueError: on unknown prior names, an empty list or a non-finite score.
    """
    if not priors:
        raise ValueError("choose_box_prior needs at least one prior.")
    unknown = [prior for prior in priors if prior not in BOX_PRIOR_ALIASES]
    if unknown:
        raise ValueError(f"Unknown box priors {unknown}; known: {sorted(BOX_PRIOR_ALIASES)}.")
    scores: Dict[str, float] = {}
    for prior in dict.fromkeys(priors):
        options = dataclasses.replace(base_options, box_prior=BOX_PRIOR_ALIASES[prior])
        score = float(scorer(options))
        if score != score or score in (float("inf"), float("-inf")):
            raise ValueError(f"Box prior {prior!r} got a non-finite score {score}.")
        scores[prior] = score
        logger.info("box prior %s: held-out score %.4f", prior, score)
    best = max(scores, key=lambda name: (scores[name], -list(scores).index(name)))
    return BoxPriorChoice(best, dataclasses.replace(base_options, box_prior=BOX_PRIOR_ALIASES[best]), scores)
