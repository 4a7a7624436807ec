"""The baseline pipeline as a pure function of the run configuration."""

from __future__ import annotations

from typing import List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base import base_node

from components.data_translation.component import DataTranslation
from components.training.spec import TrainingConfig
from components.types import config_json
from components.types.beam_options import effective_beam_args
from pipelines.autofit.dag import autofit_components, translation_config
from pipelines.autofit.plan import Plan, fixed_plan
from pipelines.config import RunConfig
from pipelines.metadata import sqlite_connection


def training_config(config: RunConfig) -> TrainingConfig:
    """The training section, with the run-level distribution strategy folded in."""
    raw = dict(config.training)
    if config.distribution_strategy and "distribution" not in raw:
        raw["distribution"] = config.distribution_strategy
    return config_json.config_from_dict(TrainingConfig, raw)


def create_components(config: RunConfig, plan: Optional[Plan] = None) -> List[base_node.BaseNode]:
    """DataTranslation, then the DAG of `plan` (autofit) or the fixed chain of the sections present.

    Fixed chain (`autofit: false`, or no plan): data translation -> [augmentation search] -> training
    -> [other forced techniques, champion selection when there is more than one model] -> [calibration]
    -> evaluation. Each section is validated here, when the pipeline is built.
    """
    translation = DataTranslation(config=translation_config(config.data))
    if plan is None:
        plan = fixed_plan(config)
        return [translation] + autofit_components(config, plan, translation, fixed=True)
    return [translation] + autofit_components(config, plan, translation)


LOCAL_SQLITE = "sqlite"


def create_pipeline(
    config: RunConfig,
    metadata_connection=LOCAL_SQLITE,
    enable_cache: Optional[bool] = None,
    components=None,
    plan: Optional[Plan] = None,
) -> tfx.dsl.Pipeline:
    """A TFX pipeline for `config`.

    Args:
      metadata_connection: an MLMD connection config; the default is SQLite
        under the run directory; None when compiling for Kubeflow/Vertex,
        whose MLMD the cluster provides.
      enable_cache: reuse finished executions with the same inputs and
        config; None means on for local runs (an MLMD connection is given)
        and off when compiling (metadata_connection None).
      components: override the component list (other pipeline factories).
      plan: the autofit plan (pipelines.autofit); None builds the fixed chain.
    """
    if enable_cache is None:  # resume/caching (issue 16)
        enable_cache = metadata_connection is not None
    metadata = metadata_connection
    if metadata_connection is LOCAL_SQLITE:
        metadata = sqlite_connection(config.run_dir)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=list(components if components is not None else create_components(config, plan)),
        metadata_connection_config=metadata,
        beam_pipeline_args=effective_beam_args(config.beam_pipeline_args),
        enable_cache=enable_cache,
    )
