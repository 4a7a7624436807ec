"""A small finished run built directly in ML Metadata (no pipeline), for the report tests.

The store mirrors what TFX's LocalDagRunner records: `pipeline`,
`pipeline_run` and `node` contexts, one execution per component with
INPUT/OUTPUT events keyed by the component's input/output names, and
artifacts whose files are real (Examples TFRecords, a DataSpec, PNG plots
from components.evaluation.plots, an augment_ops policy, an Anomalies
proto, autofit's plan.json and selection.json). Building it takes well
under a second, so the browser test can run in `make test`.
"""

from __future__ import annotations

import json
import os
from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.types.data_spec import read_data_spec, write_data_spec
from pipelines import lineage as lineage_lib
from tests.support.canonical import write_classification_examples

PIPELINE = "report-fixture"
RUN = "2026-12-05T10:00:00.000001"
SPLITS = {"train": 24, "eval": 12, "test": 12, "unlabeled": 6}
REJECTIONS = [
    {"reason": "image could not be decoded: truncated PNG", "record": "class_1/broken.png", "source": "data", "stage": "decode"},
    {"reason": "image could not be decoded: truncated PNG", "record": "class_2/cut.png", "source": "data", "stage": "decode"},
    {"reason": "empty file", "record": "class_0/empty.png", "source": "data", "stage": "read"},
]


class Recorder:
    """Puts TFX-shaped executions, artifacts and events into a SQLite MLMD store."""

    def __init__(self, run_dir: str):
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = os.path.join(run_dir, lineage_lib.METADATA_FILE_NAME)
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self.root = os.path.join(run_dir, "pipeline_root")
        self.contexts = {}
        for type_name, name in (("pipeline", PIPELINE), ("pipeline_run", RUN)):
            self.contexts[type_name] = self._context(type_name, name)

    def _context(self, type_name: str, name: str) -> int:
        type_id = self.store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
        existing = self.store.get_context_by_type_and_name(type_name, name)
        if existing is not None:  # A second recorder on the same run adds to it.
            return existing.id
        [context_id] = self.store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=name)])
        return context_id

    def uri(self, component: str, key: str, execution: int) -> str:
        path = os.path.join(self.root, component, key, str(execution))
        tf.io.gfile.makedirs(path)
        return path

    def execute(self, component: str, inputs: Dict[str, int], outputs: Dict[str, Tuple[str, str, Dict]],
                state=metadata_store_pb2.Execution.COMPLETE) -> Dict[str, int]:
        """Records one execution of `component`; outputs: key -> (type name, uri, custom properties)."""
        type_id = self.store.put_execution_type(metadata_store_pb2.ExecutionType(name=f"fixture.{component}"))
        execution = metadata_store_pb2.Execution(type_id=type_id, last_known_state=state)
        artifacts_and_events = []
        for key, artifact_id in inputs.items():
            [artifact] = self.store.get_artifacts_by_id([artifact_id])
            artifacts_and_events.append((artifact, self._event(metadata_store_pb2.Event.INPUT, key)))
        for key, (type_name, uri, properties) in outputs.items():
            artifact_type = self.store.put_artifact_type(metadata_store_pb2.ArtifactType(name=type_name))
            artifact = metadata_store_pb2.Artifact(type_id=artifact_type, uri=uri, state=metadata_store_pb2.Artifact.LIVE)
            for name, value in properties.items():
                target = artifact.custom_properties[name]
                if isinstance(value, bool) or isinstance(value, int):
                    target.int_value = int(value)
                elif isinstance(value, float):
                    target.double_value = value
                elif isinstance(value, dict):
                    target.struct_value.update(value)
                else:
                    target.string_value = str(value)
            artifacts_and_events.append((artifact, self._event(metadata_store_pb2.Event.OUTPUT, key)))
        node = self._context("node", f"{PIPELINE}.{component}")
        attributions = [metadata_store_pb2.Attribution(context_id=context) for context in (*self.contexts.values(), node)]
        contexts = self.store.get_contexts_by_id([a.context_id for a in attributions])
        _, artifact_ids, _ = self.store.put_execution(execution, artifacts_and_events, contexts)
        keys = list(inputs) + list(outputs)
        return {key: artifact_id for key, artifact_id in zip(keys, artifact_ids) if key in outputs}

    @staticmethod
    def _event(kind, key: str) -> metadata_store_pb2.Event:
        event = metadata_store_pb2.Event(type=kind)
        event.path.steps.add().key = key
        event.path.steps.add().index = 0
        return event


def _write(path: str, payload) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    mode = "wb" if isinstance(payload, bytes) else "w"
    with tf.io.gfile.GFile(path, mode) as handle:
        handle.write(payload)


def _model(recorder: Recorder, component: str, execution: int, accuracy: float, epochs: int = 5) -> str:
    uri = recorder.uri(component, "model", execution)
    curve = np.linspace(0.0, 1.0, epochs)
    history = {"loss": list(1.2 - 0.8 * curve), "val_loss": list(1.3 - 0.7 * curve),
               "accuracy": list(0.4 + 0.5 * curve), "val_accuracy": list(accuracy - 0.3 + 0.3 * curve)}
    _write(os.path.join(uri, "history.json"), json.dumps(history))
    _write(os.path.join(uri, "model.keras"), b"fixture: the report only checks that the file exists")
    tf.io.gfile.makedirs(os.path.join(uri, "Format-Serving"))
    return uri


def build_fixture_run(run_dir: str, with_autofit: bool = True, broken_png: Optional[str] = None) -> str:
    """Writes the fixture run under `run_dir`; returns run_dir.

    Args:
      with_autofit: record AutofitPlan and ChampionSelection executions.
      broken_png: name of an Evaluation PNG to write as undecodable bytes.
    """
    from augment_ops.policy import Policy
    from components.evaluation import plots as evaluation_plots
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    tf.io.gfile.makedirs(run_dir)
    recorder = Recorder(run_dir)

    examples_uri, spec_uri = recorder.uri("DataTranslation", "examples", 1), recorder.uri("DataTranslation", "data_spec", 1)
    write_classification_examples(examples_uri, spec_uri, SPLITS)
    spec = read_data_spec(spec_uri)
    spec.records_read += len(REJECTIONS)
    spec.records_rejected = len(REJECTIONS)
    spec.rejected_report = os.path.join(spec_uri, "rejected_records.jsonl")
    write_data_spec(spec, spec_uri)
    _write(spec.rejected_report, "\n".join(json.dumps(row, sort_keys=True) for row in REJECTIONS) + "\n")
    data = recorder.execute("DataTranslation", {}, {
        "examples": ("Examples", examples_uri, {"count_train": SPLITS["train"]}),
        "data_spec": ("tfx_autofit.DataSpec", spec_uri, {"records_rejected": len(REJECTIONS)}),
    })

    statistics = recorder.execute("StatisticsGen", {"examples": data["examples"]},
                                  {"statistics": ("ExampleStatistics", recorder.uri("StatisticsGen", "statistics", 2), {})})
    schema_uri = recorder.uri("SchemaGen", "schema", 3)
    _write(os.path.join(schema_uri, "schema.pbtxt"),
           'feature { name: "label" type: INT presence { min_fraction: 1.0 min_count: 1 } }\n'
           'feature { name: "image/encoded" type: BYTES presence { min_fraction: 1.0 min_count: 1 } }\n')
    schema = recorder.execute("SchemaGen", {"statistics": statistics["statistics"]}, {"schema": ("Schema", schema_uri, {})})
    anomalies_uri = recorder.uri("ExampleValidator", "anomalies", 4)
    for split in ("train", "eval"):
        anomalies = anomalies_pb2.Anomalies()
        if split == "eval":
            info = anomalies.anomaly_info["label"]
            info.severity = anomalies_pb2.AnomalyInfo.ERROR
            info.short_description = "Column dropped"
            info.description = "The feature was present in fewer examples than expected."
        _write(os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb"), anomalies.SerializeToString())
    recorder.execute("ExampleValidator", {"statistics": statistics["statistics"], "schema": schema["schema"]},
                     {"anomalies": ("ExampleAnomalies", anomalies_uri, {"blessed": {"train": 1, "eval": 0}})})

    if with_autofit:
        plan_uri = recorder.uri("AutofitPlan", "plan", 5)
        plan = {"profile": {"task": "classification", "labeled_per_class": 8, "unlabeled": 6}, "budget": "10 minutes on CPU",
                "techniques": [
                    {"name": "augmentation_search", "decision": "try", "reason": "8 images per class: augmentation usually helps"},
                    {"name": "noisy_student", "decision": "forced", "reason": "the config has a noisy_student section"},
                    {"name": "distillation", "decision": "skip", "reason": "no ensemble to distill"},
                    {"name": "synthesis", "decision": "forbidden", "reason": "synthesis: false in the config"},
                ]}
        _write(os.path.join(plan_uri, "plan.json"), json.dumps(plan))
        recorder.execute("AutofitPlan", {"data_spec": data["data_spec"]}, {"plan": ("tfx_autofit.Report", plan_uri, {})})

    policy_uri = recorder.uri("AugmentationSearch", "augmentation_policy", 6)
    policy = Policy.from_ops([("rotate", 0.3, 0.5), ("brightness", 0.2, 0.5)], name="fixture policy")
    _write(os.path.join(policy_uri, "policy.json"), policy.to_json())
    search_report = recorder.uri("AugmentationSearch", "report", 6)
    _write(os.path.join(search_report, "report.md"), "# Augmentation search\n\nrotate and brightness kept.\n")
    search = recorder.execute("AugmentationSearch", {"examples": data["examples"]}, {
        "augmentation_policy": ("tfx_autofit.AugmentationPolicy", policy_uri, {"num_ops": 2}),
        "report": ("tfx_autofit.Report", search_report, {"search_seconds": 12.5}),
    })

    baseline_uri = _model(recorder, "Training", 7, accuracy=0.81)
    training = recorder.execute("Training", {"examples": data["examples"], "augmentation_policy": search["augmentation_policy"]},
                                {"model": ("Model", baseline_uri, {"eval_accuracy": 0.81, "eval_loss": 0.52, "epochs_trained": 5})})

    student_uri = _model(recorder, "NoisyStudent", 8, accuracy=0.86)
    _write(os.path.join(student_uri, "noisy_student_summary.json"), json.dumps({"best_iteration": 2, "iterations": [
        {"iteration": 0, "pseudo_labels": 0, "metrics": {"accuracy": 0.81}},
        {"iteration": 1, "pseudo_labels": 4, "metrics": {"accuracy": 0.84}},
        {"iteration": 2, "pseudo_labels": 6, "metrics": {"accuracy": 0.86}},
    ]}))
    student = recorder.execute("NoisyStudent", {"teacher": training["model"]},
                               {"model": ("Model", student_uri, {"eval_accuracy": 0.86, "eval_loss": 0.47, "iteration_1_accuracy": 0.84})})

    reliability = {"bin_edges": list(np.linspace(0, 1, 6)), "count": [1, 2, 3, 4, 2],
                   "accuracy": [0.0, 0.5, 0.6, 0.75, 1.0], "confidence": [0.1, 0.3, 0.5, 0.7, 0.9]}
    calibrated_uri = _model(recorder, "Calibration", 9, accuracy=0.86)
    reliability_png = evaluation_plots.reliability_diagram_png(reliability, 0.05)
    for name in ("reliability_before.png", "reliability_after.png"):
        _write(os.path.join(calibrated_uri, name), reliability_png)
    calibrated = recorder.execute("Calibration", {"model": student["model"]},
                                  {"calibrated_model": ("Model", calibrated_uri, {"eval_accuracy": 0.86, "temperature": 1.4})})

    evaluation_uri, blessing_uri = recorder.uri("Evaluation", "evaluation", 10), recorder.uri("Evaluation", "blessing", 10)
    confusion = evaluation_plots.confusion_matrix_png([[4, 0, 0], [1, 3, 0], [0, 1, 3]], ["class_0", "class_1", "class_2"])
    _write(os.path.join(evaluation_uri, "confusion_matrix.png"), confusion)
    _write(os.path.join(evaluation_uri, "reliability_diagram.png"), reliability_png)
    _write(os.path.join(evaluation_uri, "summary.md"), "# Evaluation\n\naccuracy 0.8333 on test\n")
    if broken_png:
        _write(os.path.join(evaluation_uri, broken_png), b"\x89PNG\r\n\x1a\n not really a PNG")
    _write(os.path.join(blessing_uri, "BLESSED"), "")
    recorder.execute("Evaluation", {"model": calibrated["calibrated_model"]}, {
        "evaluation": ("ModelEvaluation", evaluation_uri, {"accuracy": 0.8333, "nll": 0.45, "split": "test", "num_examples": 12}),
        "blessing": ("ModelBlessing", blessing_uri, {"blessed": 1, "current_model": calibrated_uri}),
    })

    if with_autofit:
        selection_uri = recorder.uri("ChampionSelection", "selection", 11)
        selection = {"metric": "accuracy", "split": "eval", "champion": "noisy_student", "refit": "none",
                     "candidates": [
                         {"name": "baseline", "model_uri": baseline_uri, "metric": 0.81, "interval": [0.70, 0.90]},
                         {"name": "noisy_student", "model_uri": student_uri, "metric": 0.86, "interval": [0.76, 0.94]},
                     ],
                     "decisions": [{"candidate": "noisy_student", "against": "baseline", "delta": 0.05,
                                    "interval": [0.01, 0.09], "kept": True, "reason": "better beyond the noise"}]}
        _write(os.path.join(selection_uri, "selection.json"), json.dumps(selection))
        recorder.execute("ChampionSelection", {"candidates": training["model"]},
                         {"selection": ("tfx_autofit.Report", selection_uri, {"champion": "noisy_student"})})
    return run_dir


def test_fixture_reads_back_as_one_pipeline_run(tmp_path):
    run_dir = build_fixture_run(str(tmp_path / "run"))
    lineage = lineage_lib.read_lineage(run_dir)
    assert lineage.run == RUN
    components = [node.component for node in lineage.executions]
    assert components[:4] == ["DataTranslation", "StatisticsGen", "SchemaGen", "ExampleValidator"]
    assert components[-1] == "ChampionSelection"
    model = lineage_lib.find_output(lineage, "NoisyStudent", "model")
    assert model.properties["eval_accuracy"] == 0.86
    evaluation = lineage.execution("Evaluation")
    [model_input] = [edge for edge in lineage.inputs_of(evaluation.id) if edge.key == "model"]
    assert lineage.artifacts[model_input.artifact_id].uri.endswith(os.path.join("Calibration", "model", "9"))
