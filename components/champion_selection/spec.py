"""Champion selection: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Tuple

from tfx.types import component_spec, standard_artifacts

from components.types import artifacts
from components.types.config_json import check as _check

EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
MAX_CANDIDATES = 10
# Candidates arrive under fixed keys (candidate_0 is the simplest) so every orchestrator keeps their identity.
CANDIDATE_KEYS = tuple(f"candidate_{index}" for index in range(MAX_CANDIDATES))
MODEL_KEY = "model"
SELECTION_KEY = "selection"
CONFIG_KEY = "config"

SELECTION_FILE_NAME = "selection.json"
SUMMARY_FILE_NAME = "selection.md"
# MLMD custom properties of the champion Model artifact.
CHAMPION_PROPERTY = "champion"
CHAMPION_METRIC_PROPERTY = "selection_metric_value"
CHAMPION_LOW_PROPERTY = "selection_interval_low"
CHAMPION_HIGH_PROPERTY = "selection_interval_high"


@dataclasses.dataclass(frozen=True)
class SelectionConfig:
    """How candidates are compared.

    Attributes:
      candidate_names: names of the wired candidates, simplest first (candidate_0 first).
      split: the held-out split every candidate is scored on (the same images for all).
      num_resamples: paired bootstrap resamples.
      confidence: one-sided level; a candidate is kept when the paired bootstrap lower bound of its score
        difference at this level is > 0 (each candidate's own score interval is two-sided at this level).
      seed: seed of the resampling.
      batch_size: prediction batch size.
      use_brier: also keep a candidate whose accuracy is not lower and whose per-image Brier score is better
        beyond the noise (the error budget split between the two tests); per-image correctness alone rarely
        resolves a few points on 50-100 eval images.
    """

    candidate_names: Tuple[str, ...] = ()
    split: str = "eval"
    num_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    batch_size: int = 128
    use_brier: bool = True

    def __post_init__(self):
        _check(len(self.candidate_names) <= MAX_CANDIDATES, f"at most {MAX_CANDIDATES} candidates.")
        _check(len(set(self.candidate_names)) == len(self.candidate_names),
               f"candidate_names must be unique, got {list(self.candidate_names)}.")
        _check(self.split != "unlabeled", "selection.split must be a labeled split, not 'unlabeled'.")
        _check(self.num_resamples >= 100, f"num_resamples must be >= 100, got {self.num_resamples}.")
        _check(0.5 < self.confidence < 1.0, f"confidence must be in (0.5, 1), got {self.confidence}.")
        _check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}.")


class ChampionSelectionSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
        **{key: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True) for key in CANDIDATE_KEYS},
    }
    OUTPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        SELECTION_KEY: component_spec.ChannelParameter(type=artifacts.Report),
    }
