"""Choosing among pass-2 trials: the search's candidate, then the final choice beyond the noise.

The final choice (`final_choice`) follows the suite's rule for decisions
made from held-out data: the searched policy replaces the simpler options
(no augmentation, then RandAugment) only when a one-sided 95% lower bound
of its paired per-image accuracy gain is above 0 (paired bootstrap, and the
exact bound on the images the two disagree on;
components/common/paired_stats.py, shared with champion selection). On a
60-image eval split a one-to-three-image lead does not pass.

Inside the search (which cluster setting to try further, which searched
trial is the candidate) a one-standard-error rule applies:

Short trainings underrate augmentation: its benefit (invariance, less
overfitting) grows with training length while its cost (harder batches)
shows at once. So among the trials whose accuracy is within one paired
standard error of the best (the noise of a 500-image comparison), the
strongest augmentation is chosen, as the one-standard-error rule picks the
most regularized model that is not measurably worse (Breiman et al. 1984;
Hastie et al., Elements of Statistical Learning, 7.10). Differences larger
than the noise are respected: mirroring digits loses tens of points and is
never chosen.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from components.augmentation_search.search_policy import NO_AUGMENTATION_NAME
from components.augmentation_search.trials import BASELINE, CLUSTER, TrialResult
from components.common import paired_stats

# Roles of the options the final choice compares, simplest first.
NONE_ROLE, RANDAUGMENT_ROLE, SEARCHED_ROLE = "none", "randaugment", "searched"
RANDAUGMENT_PREFIX = "rand_augment"  # augment_ops' rand_augment() names its policies rand_augment_n<N>_m<M>.


def paired_standard_error(first: TrialResult, second: TrialResult) -> float:
    """Standard error of the accuracy difference of two trials scored on the same examples."""
    if first.correct.shape != second.correct.shape or first.correct.size < 2:
        raise ValueError(
            f"Trials {first.name!r} and {second.name!r} were not scored on the same held-out examples "
            f"({first.correct.shape} vs {second.correct.shape})."
        )
    difference = first.correct.astype(np.float64) - second.correct.astype(np.float64)
    return float(np.std(difference, ddof=1) / math.sqrt(difference.size))


def within_noise(candidate: TrialResult, best: TrialResult, tolerance: float = 1.0) -> bool:
    """True when `candidate` is not worse than `best` by more than `tolerance` paired standard errors."""
    return candidate.accuracy >= best.accuracy - tolerance * paired_standard_error(candidate, best)


def strongest_within_noise(trials: Sequence[TrialResult], tolerance: float = 1.0) -> TrialResult:
    """The most augmenting trial among those within noise of the most accurate one."""
    if not trials:
        raise ValueError("No trials to choose from.")
    best = max(trials, key=lambda t: t.accuracy)
    close = [t for t in trials if within_noise(t, best, tolerance)]
    return max(close, key=lambda t: (round(t.strength, 9), t.accuracy))


def cluster_choices(trials: Sequence[TrialResult], tolerance: float = 1.0) -> Dict[int, TrialResult]:
    """Per cluster, its chosen single-cluster trial (magnitude and probability)."""
    by_cluster: Dict[int, List[TrialResult]] = {}
    for trial in trials:
        if trial.kind == CLUSTER:
            by_cluster.setdefault(trial.cluster, []).append(trial)
    return {cluster: strongest_within_noise(group, tolerance) for cluster, group in sorted(by_cluster.items())}


def helpful(choice: TrialResult, no_augmentation: TrialResult, tolerance: float = 1.0) -> bool:
    """A cluster helps unless it is measurably worse than no augmentation."""
    return within_noise(choice, no_augmentation, tolerance)


def searched_pick(trials: Sequence[TrialResult], tolerance: float = 1.0) -> Optional[TrialResult]:
    """The search's candidate: the strongest searched policy within noise of the best searched one (None if none)."""
    searched = [t for t in trials if t.kind != BASELINE]
    return strongest_within_noise(searched, tolerance) if searched else None


@dataclasses.dataclass
class FinalChoice:
    """The output policy and the evidence for it.

    Attributes:
      chosen: the trial whose policy is output.
      role: "none", "randaugment" or "searched".
      searched: the search's own candidate (None when pass 2 trained no searched policy).
      decisions: the comparisons made, simplest option first (see `final_choice`).
      rule: the rule applied, in words.
    """

    chosen: TrialResult
    role: str
    searched: Optional[TrialResult]
    decisions: List[paired_stats.PairedDecision]
    rule: str

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen.name,
            "role": self.role,
            "searched": self.searched.name if self.searched is not None else None,
            "rule": self.rule,
            "decisions": [decision.to_dict() for decision in self.decisions],
        }


def options_by_complexity(trials: Sequence[TrialResult], searched: Optional[TrialResult]) -> List[Tuple[str, TrialResult]]:
    """(role, trial) simplest first: no augmentation, the RandAugment baseline, the searched policy (those present)."""
    options = []
    none = next((t for t in trials if t.kind == BASELINE and t.name == NO_AUGMENTATION_NAME), None)
    randaugment = next((t for t in trials if t.kind == BASELINE and t.name.startswith(RANDAUGMENT_PREFIX)), None)
    for role, trial in ((NONE_ROLE, none), (RANDAUGMENT_ROLE, randaugment), (SEARCHED_ROLE, searched)):
        if trial is not None:
            options.append((role, trial))
    return options


def final_choice(
    trials: Sequence[TrialResult],
    choose_baselines: bool = True,
    tolerance: float = 1.0,
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> FinalChoice:
    """The output policy: a more complex option replaces a simpler one only beyond the noise of the held-out split.

    Options in order of complexity: no augmentation, the RandAugment
    baseline, the searched policy (`searched_pick`). The champion starts as
    the simplest; each next option replaces it only when the one-sided
    `confidence` lower bound of the paired difference of their per-image
    correctness is above 0 (`paired_stats.compare`: the more cautious of the
    paired bootstrap and the exact bound on the disagreeing images).
    With choose_baselines=False the searched policy is output whatever the
    comparisons say (they are still recorded).

    Raises:
      ValueError: when there is no trial, or trials were scored on different examples.
    """
    pick = searched_pick(trials, tolerance)
    options = options_by_complexity(trials, pick)
    if not options:
        raise ValueError("No pass-2 trial to choose from (no 'none', RandAugment or searched trial).")
    rule = paired_stats.rule_text(confidence, num_resamples)
    champion_role, champion = options[0]
    decisions = []
    for index, (role, trial) in enumerate(options[1:], start=1):
        if trial.correct.shape != champion.correct.shape:
            raise ValueError(
                f"Trials {trial.name!r} and {champion.name!r} were not scored on the same held-out examples "
                f"({trial.correct.shape} vs {champion.correct.shape})."
            )
        decision = paired_stats.compare(
            champion_role, champion.correct, role, trial.correct, num_resamples, seed + index, confidence
        )
        decisions.append(decision)
        if decision.kept:
            champion_role, champion = role, trial
    if not choose_baselines and pick is not None:
        champion_role, champion = SEARCHED_ROLE, pick
        rule = "choose_baselines=false: the searched policy is output; comparisons recorded only"
    return FinalChoice(champion, champion_role, pick, decisions, rule)


def no_augmentation_trial(trials: Sequence[TrialResult], name: str) -> Optional[TrialResult]:
    return next((t for t in trials if t.kind == BASELINE and t.name == name), None)
