"""Stock TFX data validation (StatisticsGen -> SchemaGen -> ExampleValidator) on our Examples.

Our Examples are ordinary TFX `Examples` artifacts (GZIP TFRecords of
tf.train.Example under `Split-<name>/`), so the stock components read them
as they are: images are a bytes feature (`image/encoded`), labels int64.
TFDV sees the bytes feature as a string column (counts, lengths), which is
what matters for catching a broken export (missing images, empty bytes,
a label column that vanished or changed type).

The `unlabeled` split has no `label` feature by design, so it is left out
of schema inference and validation (a schema inferred with it would mark
`label` optional, and validating it against the labeled schema would flag
the missing label as an anomaly every run). Its statistics are still
computed: they are what shows how the unlabeled pool differs from train.

Example:

    from pipelines.data_validation import DataValidationConfig, data_validation_components

    translation = DataTranslation(config=...)
    validation = data_validation_components(translation.outputs["examples"], DataValidationConfig())
    components = [translation, *validation, ...]

One caveat of the stock schema inference on tiny data: with fewer than
about 100 images, SchemaGen gives `image/source_id` (unique per record) a
closed string domain, so a split that took no part in inference (e.g. the
unlabeled split when `validation_exclude_splits` is emptied, or a later
data drop) is flagged for "unexpected string values" there. The defaults
validate exactly the splits the schema was inferred from, so they do not
hit it; on real-sized data no domain is inferred for ids.

The ExampleValidator's `anomalies` artifact (one `SchemaDiff.pb` per split,
plus the `blessed` custom property {split: 0|1}) is what the run report
shows (pipelines.report.validation).
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping, Optional, Tuple

from components.types import features

STATISTICS_GEN_ID = "StatisticsGen"
SCHEMA_GEN_ID = "SchemaGen"
EXAMPLE_VALIDATOR_ID = "ExampleValidator"
# Output keys of the stock components (tfx.types.standard_component_specs).
STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
ANOMALIES_KEY = "anomalies"


@dataclasses.dataclass(frozen=True)
class DataValidationConfig:
    """The optional `data_validation:` section of the run config.

    Attributes:
      statistics_exclude_splits: splits StatisticsGen skips (default none:
        the unlabeled pool's statistics are worth seeing).
      schema_exclude_splits: splits SchemaGen leaves out when it infers the
        schema; `unlabeled` by default because it has no labels.
      validation_exclude_splits: splits ExampleValidator does not check
        against the schema; `unlabeled` by default for the same reason.
      infer_feature_shape: SchemaGen's option; True gives fixed-shape
        features (every image has one `image/encoded`, one `label`).
    """

    statistics_exclude_splits: Tuple[str, ...] = ()
    schema_exclude_splits: Tuple[str, ...] = (features.UNLABELED_SPLIT,)
    validation_exclude_splits: Tuple[str, ...] = (features.UNLABELED_SPLIT,)
    infer_feature_shape: bool = True

    def __post_init__(self):
        for name in ("statistics_exclude_splits", "schema_exclude_splits", "validation_exclude_splits"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(split, str) for split in value):
                raise ValueError(f"data_validation.{name} must be a list of split names, got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        if not isinstance(self.infer_feature_shape, bool):
            raise ValueError(
                f"data_validation.infer_feature_shape must be true or false, got {self.infer_feature_shape!r}."
            )

    @classmethod
    def from_dict(cls, raw: Optional[Mapping[str, Any]]) -> "DataValidationConfig":
        raw = dict(raw or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"data_validation has unknown keys {unknown}; known: {sorted(known)}.")
        return cls(**raw)


def data_validation_components(examples, config: Optional[DataValidationConfig] = None) -> List[Any]:
    """StatisticsGen, SchemaGen and ExampleValidator wired to an `Examples` channel.

    Args:
      examples: the `Examples` channel (e.g. DataTranslation's `examples` output).
      config: a DataValidationConfig, a mapping (the YAML section) or None for defaults.

    Returns:
      [StatisticsGen, SchemaGen, ExampleValidator], in dependency order, with
      their default component ids (STATISTICS_GEN_ID, ...).
    """
    from tfx import v1 as tfx

    if config is None or isinstance(config, Mapping):
        config = DataValidationConfig.from_dict(config)
    statistics = tfx.components.StatisticsGen(
        examples=examples, exclude_splits=list(config.statistics_exclude_splits)
    )
    schema = tfx.components.SchemaGen(
        statistics=statistics.outputs[STATISTICS_KEY],
        infer_feature_shape=config.infer_feature_shape,
        exclude_splits=list(config.schema_exclude_splits),
    )
    validator = tfx.components.ExampleValidator(
        statistics=statistics.outputs[STATISTICS_KEY],
        schema=schema.outputs[SCHEMA_KEY],
        exclude_splits=list(config.validation_exclude_splits),
    )
    return [statistics, schema, validator]
