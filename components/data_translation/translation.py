"""The translation Beam pipeline, and `translate()`, its plain-Python entry point (no TFX).

Stages: shards -> ReadShard (records, no pixels) -> GroupByFile (one record
per real file: a link to an image already listed is rejected as a duplicate;
the grouping also spreads records across workers) -> MakeExample
(image bytes read, decoded, validated and built into an example) -> one GZIP
TFRecord sink per split. The dataset-wide class list and channel count reach
MakeExample as side inputs computed by a header-only probe of the records, so
images stream from their files to the sinks and are never all held between
stages. Rejections from every stage go to one JSONL report;
counts go to a summary that becomes the DataSpec. A hash of each written
image finds byte-identical images in more than one split (leakage).
"""

from __future__ import annotations

import json
import logging
import os
from typing import List, Optional, Sequence

import apache_beam as beam
import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.options.pipeline_options import PipelineOptions

from components.data_translation import readers, stages, stats
from components.data_translation.readers.common import ReaderPlan
from components.data_translation.spec import TranslationConfig
from components.types import data_spec, examples_io, features
from components.types.beam_options import effective_beam_args

SPLITS = features.ALL_SPLITS
REQUIRED_SPLITS = (features.TRAIN_SPLIT, features.EVAL_SPLIT)
REJECTED_REPORT_FILE = "rejected_records.jsonl"
SUMMARY_FILE = "translation_summary.json"
TFRECORD_PREFIX = "data_tfrecord"


def _split_index(item, num_partitions: int) -> int:
    return SPLITS.index(item[0])


def _write_file(text: str, path: str) -> None:
    """Writes one small file from inside the pipeline (a single element, so one writer)."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def _sorted_lines(lines: List[str]) -> str:
    return "".join(f"{line}\n" for line in sorted(lines))


def _dataset_choices(pipeline, records, config: TranslationConfig, plan: ReaderPlan):
    """(class names, channels) side inputs: fixed by the source/config, or probed from image headers."""
    if plan.class_names is not None and config.channels is not None:
        profile = pipeline | "FixedProfile" >> beam.Create([{}])
    else:
        profile = (
            records
            | "ProbeRecords" >> beam.ParDo(stages.ProbeRecord())
            | "DatasetProfile" >> beam.CombineGlobally(stats.ProfileFn())
        )
    fixed_names = None if plan.class_names is None else list(plan.class_names)
    class_names = profile | "ClassNames" >> beam.Map(lambda found: fixed_names or found["class_names"])
    channels = profile | "Channels" >> beam.Map(lambda found: config.channels or found["channels"])
    return beam.pvalue.AsSingleton(class_names), beam.pvalue.AsSingleton(channels)


def _event(kind: str):
    return lambda item: (kind, item if kind == stats.WRITTEN else None)


def _summary_json(counts, class_names, channels, leakage) -> str:
    return json.dumps({"counts": counts, "class_names": class_names, "channels": channels, "leakage": leakage})


def add_translation(pipeline, config: TranslationConfig, plan: ReaderPlan, examples_dir: str, data_spec_dir: str):
    """Adds the translation stages to `pipeline` (a beam.Pipeline not yet run)."""
    read = (
        pipeline
        | "CreateShards" >> beam.Create(list(plan.shards), reshuffle=False)
        | "ReadShards" >> beam.ParDo(stages.ReadShard(config)).with_outputs(stages.REJECTED, main="records")
    )
    unique = (
        read.records
        | "KeyByFile" >> beam.Map(lambda record: (stages.file_key(record), record))
        | "GroupByFile" >> beam.GroupByKey()
        | "OnePerFile" >> beam.ParDo(stages.OnePerFile()).with_outputs(stages.REJECTED, main="records")
    )
    records = unique.records
    class_names, channels = _dataset_choices(pipeline, records, config, plan)
    make = beam.ParDo(stages.MakeExample(config, plan.class_names), class_names, channels)
    built = records | "MakeExamples" >> make.with_outputs(
        stages.REJECTED, stages.STATS, stages.HASHES, main="examples"
    )
    leakage = (
        built.hashes
        | "GroupByContent" >> beam.GroupByKey()
        | "Leakage" >> beam.CombineGlobally(stats.LeakageFn())
    )

    partitions = built.examples | "PartitionBySplit" >> beam.Partition(_split_index, len(SPLITS))
    for split, partition in zip(SPLITS, partitions):
        prefix = os.path.join(examples_io.split_directory(examples_dir, split), TFRECORD_PREFIX)
        _ = (
            partition
            | f"Serialized[{split}]" >> beam.Map(lambda item: item[1])
            | f"WriteSplit[{split}]"
            >> beam.io.WriteToTFRecord(
                prefix, file_name_suffix=examples_io.TFRECORD_SUFFIX, compression_type=CompressionTypes.GZIP
            )
        )

    rejections = (read.rejected, unique.rejected, built.rejected) | "AllRejections" >> beam.Flatten()
    _ = (
        rejections
        | "RejectionLines" >> beam.Map(lambda rejection: rejection.to_json())
        | "GatherRejections" >> beam.combiners.ToList()
        | "SortRejections" >> beam.Map(_sorted_lines)
        | "WriteRejections" >> beam.Map(_write_file, os.path.join(data_spec_dir, REJECTED_REPORT_FILE))
    )
    events = (
        read.records | "ReadEvents" >> beam.Map(_event(stats.READ)),
        read.rejected | "ReadRejectedEvents" >> beam.Map(_event(stats.READ)),
        rejections | "RejectedEvents" >> beam.Map(lambda rejection: (stats.REJECTED, rejection.stage)),
        built.stats | "WrittenEvents" >> beam.Map(_event(stats.WRITTEN)),
    )
    _ = (
        events
        | "AllEvents" >> beam.Flatten()
        | "Summarize" >> beam.CombineGlobally(stats.SummaryFn())
        | "SummaryJson" >> beam.Map(_summary_json, class_names, channels, beam.pvalue.AsSingleton(leakage))
        | "WriteSummary" >> beam.Map(_write_file, os.path.join(data_spec_dir, SUMMARY_FILE))
    )


def split_names(content: data_spec.DataSpecContent) -> List[str]:
    """train and eval always (unless the data is unlabeled only); test and unlabeled when they hold records."""
    required = REQUIRED_SPLITS if content.labeled_count or not content.split_count(features.UNLABELED_SPLIT) else ()
    return [split for split in SPLITS if split in required or content.split_count(split) > 0]


def finalize(config: TranslationConfig, examples_dir: str, data_spec_dir: str) -> data_spec.DataSpecContent:
    """Turns the pipeline's summary into the DataSpec; checks that the counts reconcile."""
    summary_path = os.path.join(data_spec_dir, SUMMARY_FILE)
    with tf.io.gfile.GFile(summary_path) as handle:
        summary = json.loads(handle.read())
    tf.io.gfile.remove(summary_path)
    report = os.path.join(data_spec_dir, REJECTED_REPORT_FILE)
    content = stats.data_spec_content(summary, config.task, config.format, report)
    for split in SPLITS:
        directory = examples_io.split_directory(examples_dir, split)
        if split not in split_names(content) and tf.io.gfile.exists(directory):
            tf.io.gfile.rmtree(directory)
    data_spec.write_data_spec(content, data_spec_dir)
    logging.info(
        "DataTranslation: read %d, wrote %d, rejected %d (report %s; by stage %s); splits %s; image size %s: %s",
        content.records_read,
        content.records_written,
        content.records_rejected,
        report,
        content.rejected_by_stage,
        {split: content.split_count(split) for split in split_names(content)},
        content.image_size,
        content.image_size_reason,
    )
    if content.directory_links_skipped or content.duplicate_files_skipped:
        logging.warning(
            "DataTranslation: skipped %d directory link(s) (not followed) and %d duplicate path(s) to files "
            "already read; each is named in %s.",
            content.directory_links_skipped,
            content.duplicate_files_skipped,
            report,
        )
    for warning in content.warnings:
        logging.warning("DataTranslation: %s", warning)
    if content.records_read != content.records_written + content.records_rejected:
        raise RuntimeError(
            f"Record counts do not reconcile: read {content.records_read} != written {content.records_written} "
            f"+ rejected {content.records_rejected}."
        )
    if content.records_written == 0:
        raise ValueError(
            f"No records written from {config.path}: {content.records_read} read, all rejected; see {report}."
        )
    return content


def record_properties(artifact, content: data_spec.DataSpecContent) -> None:
    """DataSpec counts as MLMD custom properties, so lineage queries need not open files."""
    for name in (
        "records_read", "records_written", "records_rejected", "channels", "num_classes",
        "directory_links_skipped", "duplicate_files_skipped",
    ):
        artifact.set_int_custom_property(name, int(getattr(content, name)))
    for split, split_stats in content.splits.items():
        artifact.set_int_custom_property(f"count_{split}", int(split_stats.count))
    artifact.set_string_custom_property("task", content.task)
    artifact.set_string_custom_property("source_format", content.source_format)
    artifact.set_string_custom_property("class_names", json.dumps(content.class_names))
    artifact.set_int_custom_property("leakage_images", int(content.leakage.get("images_in_several_splits", 0)))
    if content.image_size:
        artifact.set_string_custom_property("image_size", json.dumps(content.image_size))
    artifact.set_string_custom_property("warnings", "\n".join(content.warnings))


def translate(
    config: TranslationConfig,
    examples_dir: str,
    data_spec_dir: str,
    beam_pipeline_args: Optional[Sequence[str]] = None,
) -> data_spec.DataSpecContent:
    """Reads `config`'s source and writes canonical examples and a DataSpec (no TFX needed).

    Args:
      examples_dir: where Split-<name>/ GZIP TFRecords go (an Examples URI).
      data_spec_dir: where data_spec.json and the rejected-records report go.
      beam_pipeline_args: Beam flags, e.g. ["--direct_num_workers=2"].

    Returns:
      The DataSpecContent written to `data_spec_dir`.
    """
    config.validate()
    plan = readers.plan(config)
    logging.info("DataTranslation: %s from %s in %d shards.", config.format, config.path, len(plan.shards))
    with beam.Pipeline(options=PipelineOptions(effective_beam_args(beam_pipeline_args))) as pipeline:
        add_translation(pipeline, config, plan, examples_dir, data_spec_dir)
    return finalize(config, examples_dir, data_spec_dir)

