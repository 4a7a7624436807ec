"""The baseline pipeline as a pure function of the run configuration."""

from __future__ import annotations

from typing import List

from tfx import v1 as tfx
from tfx.dsl.components.base import base_node

from components.augmentation_search import spec as search_spec
from components.augmentation_search.component import AugmentationSearch
from components.calibration import spec as calibration_spec
from components.calibration.component import Calibration
from components.data_translation.component import DataTranslation
from components.data_translation.spec import TranslationConfig
from components.evaluation.component import Evaluation
from components.evaluation.spec import EvaluationConfig
from components.training.component import Training
from components.training.spec import TrainingConfig
from components.types import config_json
from components.types.beam_options import effective_beam_args
from pipelines.config import RunConfig
from pipelines.metadata import sqlite_connection


def training_config(config: RunConfig) -> TrainingConfig:
    """The training section, with the run-level distribution strategy folded in."""
    raw = dict(config.training)
    if config.distribution_strategy and "distribution" not in raw:
        raw["distribution"] = config.distribution_strategy
    return config_json.config_from_dict(TrainingConfig, raw)


def create_components(config: RunConfig) -> List[base_node.BaseNode]:
    """data translation -> [augmentation search] -> training -> [calibration] -> evaluation.

    The bracketed components join when the config has their section (an
    empty section takes the component's defaults); each section is
    validated here, when the pipeline is built.
    """
    translation = DataTranslation(config=TranslationConfig.from_dict(config.data))
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    components: List[base_node.BaseNode] = [translation]
    policy = None
    if config.augmentation_search is not None:
        search = AugmentationSearch(examples=examples, data_spec=data_spec, config=dict(config.augmentation_search))
        components.append(search)
        policy = search.outputs[search_spec.AUGMENTATION_POLICY_KEY]
    training = Training(examples=examples, data_spec=data_spec, config=training_config(config), augmentation_policy=policy)
    components.append(training)
    model = training.outputs["model"]
    if config.calibration is not None:
        calibration = Calibration(model=model, examples=examples, data_spec=data_spec, config=dict(config.calibration))
        components.append(calibration)
        model = calibration.outputs[calibration_spec.CALIBRATED_MODEL_KEY]
    evaluation = Evaluation(
        examples=examples, data_spec=data_spec, model=model, config=EvaluationConfig.from_dict(config.evaluation)
    )
    return components + [evaluation]


LOCAL_SQLITE = "sqlite"


def create_pipeline(
    config: RunConfig, metadata_connection=LOCAL_SQLITE, enable_cache: bool = False, components=None
) -> tfx.dsl.Pipeline:
    """A TFX pipeline for `config`.

    Args:
      metadata_connection: an MLMD connection config; the default is SQLite
        under the run directory; None when compiling for Kubeflow/Vertex,
        whose MLMD the cluster provides.
      components: override the component list (other pipeline factories).
    """
    metadata = metadata_connection
    if metadata_connection is LOCAL_SQLITE:
        metadata = sqlite_connection(config.run_dir)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=list(components if components is not None else create_components(config)),
        metadata_connection_config=metadata,
        beam_pipeline_args=effective_beam_args(config.beam_pipeline_args),
        enable_cache=enable_cache,
    )
