"""Data validation results (stock ExampleValidator and SchemaGen outputs) for the report.

ExampleValidator writes one binary `Anomalies` proto per split at
`<anomalies uri>/Split-<split>/SchemaDiff.pb`, and a `blessed` custom
property {split: 0|1}. SchemaGen writes `schema.pbtxt`. Both are read here
into plain rows; the report shows a split with no anomaly as passed.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

ANOMALIES_TYPE = "ExampleAnomalies"
SCHEMA_TYPE = "Schema"
STATISTICS_TYPE = "ExampleStatistics"
SCHEMA_DIFF_FILE_NAME = "SchemaDiff.pb"
SCHEMA_FILE_NAME = "schema.pbtxt"
SPLIT_PREFIX = "Split-"


@dataclasses.dataclass
class Anomaly:
    split: str
    feature: str
    severity: str
    short_description: str
    description: str


@dataclasses.dataclass
class ValidationSection:
    anomalies_uri: str
    splits: List[str]
    anomalies: List[Anomaly]
    schema_uri: Optional[str] = None
    schema_features: List[Dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def failed_splits(self) -> List[str]:
        return sorted({anomaly.split for anomaly in self.anomalies})


def read_split_anomalies(anomalies_uri: str, split: str) -> List[Anomaly]:
    """The anomalies ExampleValidator found in one split (feature-level and dataset-level)."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    path = os.path.join(anomalies_uri, f"{SPLIT_PREFIX}{split}", SCHEMA_DIFF_FILE_NAME)
    with tf.io.gfile.GFile(path, "rb") as handle:
        try:
            anomalies = anomalies_pb2.Anomalies.FromString(handle.read())
        except Exception as error:  # protobuf raises DecodeError, a bare Exception subclass.
            raise ValueError(f"{path} is not an Anomalies proto: {error}") from error
    severity = {value: name for name, value in anomalies_pb2.AnomalyInfo.Severity.items()}
    rows = []
    infos = sorted(anomalies.anomaly_info.items())
    if anomalies.HasField("dataset_anomaly_info"):
        infos.append(("(dataset)", anomalies.dataset_anomaly_info))
    for feature, info in infos:
        rows.append(Anomaly(split, feature, severity.get(info.severity, "UNKNOWN"),
                            info.short_description or "; ".join(r.short_description for r in info.reason),
                            info.description or "; ".join(r.description for r in info.reason)))
    return rows


def read_schema_features(schema_uri: str) -> List[Dict[str, str]]:
    """Feature name, type, presence and domain of the inferred schema."""
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    path = os.path.join(schema_uri, SCHEMA_FILE_NAME)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as handle:
        schema = text_format.Parse(handle.read(), schema_pb2.Schema())
    rows = []
    for feature in schema.feature:
        presence = feature.presence.min_fraction if feature.HasField("presence") else None
        domain = feature.WhichOneof("domain_info") or ""
        if domain == "domain":
            domain = f"string domain {feature.domain}"
        rows.append({
            "name": feature.name,
            "type": schema_pb2.FeatureType.Name(feature.type),
            "presence": "" if presence is None else f"{presence:.0%} of examples",
            "domain": domain.replace("_", " "),
        })
    return rows


def read_validation_section(run) -> Optional[ValidationSection]:
    """The latest ExampleValidator output of the run, with the schema it checked against; None without one."""
    outputs = run.outputs_of_type(ANOMALIES_TYPE)
    if not outputs:
        return None
    anomalies_artifact = outputs[-1].artifact
    import tensorflow as tf

    splits = sorted(
        name.rstrip("/")[len(SPLIT_PREFIX):]
        for name in tf.io.gfile.listdir(anomalies_artifact.uri)
        if name.startswith(SPLIT_PREFIX)
    ) if tf.io.gfile.isdir(anomalies_artifact.uri) else []
    anomalies = [anomaly for split in splits for anomaly in read_split_anomalies(anomalies_artifact.uri, split)]
    schemas = run.outputs_of_type(SCHEMA_TYPE)
    schema_uri = schemas[-1].artifact.uri if schemas else None
    features = read_schema_features(schema_uri) if schema_uri else []
    return ValidationSection(anomalies_artifact.uri, splits, anomalies, schema_uri, features)
