"""DataTranslation: any supported image dataset -> canonical Examples + DataSpec."""

from __future__ import annotations

from typing import Any, Optional

from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import channel, standard_artifacts

from components.data_translation.executor import Executor
from components.data_translation.spec import DataTranslationSpec, TranslationConfig
from components.types import artifacts


class DataTranslation(base_beam_component.BaseBeamComponent):
    """Reads image folders, CSV, COCO, VOC, YOLO, TF-OD TFRecords or Vertex import files.

    Writes `examples` (GZIP TFRecords under Split-train/eval[/test/unlabeled])
    and `data_spec` (data_spec.json plus the rejected-records report). The
    config is validated here, so a bad format or a missing local path fails
    when the pipeline is built.

    Example:
      translation = DataTranslation(
          config=TranslationConfig(format="image_folder", path="data/mnist", eval_fraction=0.2))
      trainer_input = translation.outputs["examples"]
      data_spec = translation.outputs["data_spec"]
    """

    SPEC_CLASS = DataTranslationSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, config: Optional[TranslationConfig] = None, **config_fields: Any):
        """Takes a TranslationConfig, or its fields as keyword arguments (not both)."""
        if config is None:
            config = TranslationConfig.from_dict(config_fields)
        elif config_fields:
            raise ValueError(f"Pass either config or its fields, not both (got {sorted(config_fields)}).")
        config.validate()
        super().__init__(
            spec=DataTranslationSpec(
                config=config.to_json(),
                examples=channel.Channel(type=standard_artifacts.Examples),
                data_spec=channel.Channel(type=artifacts.DataSpec),
            )
        )
