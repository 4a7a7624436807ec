"""Augmentation search component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.augmentation_search.candidates import DEFAULT_MAGNITUDES
from components.types import artifacts

# Input keys.
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
MODEL_KEY = "model"
# Output keys.
AUGMENTATION_POLICY_KEY = "augmentation_policy"
REPORT_KEY = "report"
# Exec property keys.
CONFIG_KEY = "config"
# Next to policy.json in the AugmentationPolicy artifact: the final choice and its paired comparisons.
DECISION_FILE_NAME = "decision.json"

BOX_PRIOR_ALIASES = {"rectangle": "rectangle", "ellipse": "ellipse", "cross": "diamond", "diamond": "diamond"}


@dataclasses.dataclass(frozen=True)
class AugmentationSearchConfig:
    """How to search.

    Attributes:
      architecture, module_file, image_size: the model to search for (as in
        TrainingConfig); its briefly trained copy is the proxy.
      batch_size: of the proxy and of every pass-2 trial.
      learning_rate: of the proxy.
      proxy_epochs: proxy training length (skipped when a model is given); long
        enough that the proxy nearly fits the training set, so a short trial
        shows what an augmentation adds rather than how it slows fitting.
      trial_epochs, trial_learning_rate: each pass-2 trial, warm-started from
        the proxy with a fresh optimizer (a gentle rate keeps the proxy's fit).
      magnitudes: the candidate grid; an op's effects on it are its response curve.
      ops: restrict the search space to these registry ops (None: all of them).
      excluded_ops: registry ops left out of the search space.
      probe_examples: held-out images pass 1 measures on.
      max_clusters: at most this many groups (the inert group included), <= 9.
      num_clusters: fixed number of active clusters; None picks it by silhouette
        between min_clusters and max_clusters (fewer than ~4 groups lump
        label-destroying ops like mirroring with mild ones).
      inert_threshold: relative Frechet distance under which an op counts as inert.
      magnitudes_per_cluster: pass-2 magnitudes tried per cluster: the largest ones
        whose pass-1 mean label change stays within max_label_change.
      max_label_change: see magnitudes_per_cluster.
      min_effect_share: a cluster's trial at magnitude m keeps only the ops whose
        pass-1 relative Frechet distance at m is at least this share of the
        cluster's mean there; ops that barely move the data (gamma on digits)
        would spend the policy's one draw per sample on near-copies. 0 keeps all.
      prune_label_change: clusters whose pass-1 mean label change exceeds this
        even at the smallest grid magnitude are not trained in pass 2 (they
        relabel most images, e.g. mirroring digits); None trains every cluster
        (once, at the smallest magnitude) so pass 2 shows their cost too.
      probabilities: apply probabilities tried; single clusters use the largest.
        The default 0.5 leaves half of every batch clean: a fixed-magnitude op
        at probability 1 never shows the model an unwarped (unblurred) image
        like the ones it is tested on.
      randaugment_num_ops, randaugment_magnitude: the RandAugment baseline (N, M of 10).
      choose_baselines: the output policy is decided beyond the noise: the
        searched policy replaces no augmentation / RandAugment only when its
        held-out gain has a one-sided `confidence` paired bootstrap lower
        bound above 0 (else the simpler option is output). False outputs the
        searched policy regardless (the comparisons are still recorded).
      confidence, num_resamples: that bound's one-sided level and bootstrap resamples.
      selection_tolerance: inside the search, the noise (in paired standard
        errors of held-out accuracy) within which the stronger augmentation
        is preferred among searched trials.
      max_train_examples: search on a seeded subset of the train split (None: all).
      box_priors: detection only: box shape priors the search chooses among
        (every candidate that rotates or shears is trained once per prior).
      detection_epochs: detection only: epochs of each detection-proxy
        training (detection_proxy.py); the detection search trains one per
        candidate, and one per prior for candidates that rotate or shear.
      seed: every random choice; same seed, same policy.
    """

    architecture: str = "small_cnn"
    module_file: Optional[str] = None
    image_size: Optional[Tuple[int, int]] = None
    batch_size: int = 64
    learning_rate: float = 3e-3
    proxy_epochs: int = 6
    trial_epochs: int = 1
    trial_learning_rate: float = 1e-3
    magnitudes: Tuple[float, ...] = DEFAULT_MAGNITUDES
    ops: Optional[Tuple[str, ...]] = None
    excluded_ops: Tuple[str, ...] = ()
    probe_examples: int = 128
    max_clusters: int = 9
    num_clusters: Optional[int] = None
    min_clusters: int = 4
    inert_threshold: float = 1e-3
    magnitudes_per_cluster: int = 2
    max_label_change: float = 0.2
    min_effect_share: float = 0.25
    prune_label_change: Optional[float] = 0.5
    probabilities: Tuple[float, ...] = (0.5,)
    randaugment_num_ops: int = 2
    randaugment_magnitude: int = 9
    choose_baselines: bool = True
    selection_tolerance: float = 1.0
    confidence: float = 0.95
    num_resamples: int = 2000
    max_train_examples: Optional[int] = None
    box_priors: Tuple[str, ...] = ("rectangle", "ellipse", "cross")
    detection_epochs: int = 12
    seed: int = 0

    def __post_init__(self):
        from augment_ops import registry  # Names are checked when the pipeline is built.
        from components.training.spec import TrainingConfig

        TrainingConfig(architecture=self.architecture, module_file=self.module_file, image_size=self.image_size)
        _check(self.batch_size >= 1, f"batch_size must be >= 1; got {self.batch_size}.")
        _check(self.learning_rate > 0, f"learning_rate must be > 0; got {self.learning_rate}.")
        _check(self.trial_learning_rate > 0, f"trial_learning_rate must be > 0; got {self.trial_learning_rate}.")
        _check(self.selection_tolerance >= 0, f"selection_tolerance must be >= 0; got {self.selection_tolerance}.")
        _check(0.5 < self.confidence < 1.0, f"confidence must be in (0.5, 1); got {self.confidence}.")
        _check(self.num_resamples >= 100, f"num_resamples must be >= 100; got {self.num_resamples}.")
        _check(self.proxy_epochs >= 1 and self.trial_epochs >= 1, "proxy_epochs and trial_epochs must be >= 1.")
        _check(self.detection_epochs >= 1, f"detection_epochs must be >= 1; got {self.detection_epochs}.")
        _check(
            len(self.magnitudes) >= 2 and all(0.0 < m <= 1.0 for m in self.magnitudes),
            f"magnitudes must hold >= 2 values in (0, 1]; got {self.magnitudes}.",
        )
        for op in tuple(self.ops or ()) + tuple(self.excluded_ops):
            registry.get_op(op)
        _check(self.ops is None or len(self.ops) >= 1, "ops must be None or a non-empty list of registry names.")
        _check(self.probe_examples >= 2, f"probe_examples must be >= 2; got {self.probe_examples}.")
        _check(1 <= self.max_clusters <= 9, f"max_clusters must be in [1, 9]; got {self.max_clusters}.")
        _check(
            self.num_clusters is None or 1 <= self.num_clusters <= self.max_clusters,
            f"num_clusters must be None or in [1, max_clusters]; got {self.num_clusters}.",
        )
        _check(1 <= self.min_clusters <= self.max_clusters, "min_clusters must be in [1, max_clusters].")
        _check(self.magnitudes_per_cluster >= 1, "magnitudes_per_cluster must be >= 1.")
        _check(0.0 <= self.min_effect_share < 1.0, f"min_effect_share must be in [0, 1); got {self.min_effect_share}.")
        _check(0.0 < self.max_label_change <= 1.0, f"max_label_change must be in (0, 1]; got {self.max_label_change}.")
        _check(
            self.prune_label_change is None or self.max_label_change <= self.prune_label_change <= 1.0,
            f"prune_label_change must be None or in [max_label_change, 1]; got {self.prune_label_change}.",
        )
        _check(
            len(self.probabilities) >= 1 and all(0.0 < p <= 1.0 for p in self.probabilities),
            f"probabilities must be values in (0, 1]; got {self.probabilities}.",
        )
        _check(self.randaugment_num_ops >= 1, "randaugment_num_ops must be >= 1.")
        _check(0 <= self.randaugment_magnitude <= 10, "randaugment_magnitude must be in [0, 10].")
        _check(self.max_train_examples is None or self.max_train_examples >= 2, "max_train_examples must be >= 2.")
        unknown = [prior for prior in self.box_priors if prior not in BOX_PRIOR_ALIASES]
        _check(not unknown and self.box_priors, f"box_priors must be from {sorted(BOX_PRIOR_ALIASES)}; got {unknown}.")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"AugmentationSearchConfig: {message}")


class AugmentationSearchSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        AUGMENTATION_POLICY_KEY: component_spec.ChannelParameter(type=artifacts.AugmentationPolicy),
        REPORT_KEY: component_spec.ChannelParameter(type=artifacts.Report),
    }
