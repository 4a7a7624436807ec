"""The translation Beam pipeline, and `translate()`, its plain-Python entry point (no TFX).

Stages: shards -> ReadShard (records, no pixels), three times, so no stage
holds the records: (1) count and hash each record's real file; (2) one record
per real file (dedupe.py: a link to an image already listed is rejected as a
duplicate; only files reached twice go through a GroupByKey) and a
header-only probe for the dataset-wide class list and channel count;
(3) MakeExample (image bytes read, decoded, validated and built into an
example, with the class list, channel count and skipped duplicates as side
inputs) -> one GZIP TFRecord sink per split. Images stream from their files
to the sinks. Rejections from every stage go to one JSONL report; counts go
to a summary that becomes the DataSpec. A digest of each written image finds
byte-identical images in more than one split (leakage.py).
"""

from __future__ import annotations

import json
import logging
import os
from typing import List, Optional, Sequence

import apache_beam as beam
import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from components.data_translation import dedupe, leakage, progress_report, readers, stages, stats
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


def _profile(records, label: str):
    """Partial (class names, channels) profile of `records`, combined where they are produced."""
    return (
        records
        | f"Probe{label}" >> beam.ParDo(stages.ProbeRecord())
        | f"Profile{label}" >> beam.CombineGlobally(stats.PartialProfileFn())
    )


def _dataset_choices(pipeline, profiles, config: TranslationConfig, plan: ReaderPlan):
    """(class names, channels) side inputs: fixed by the source/config, or probed from image headers."""
    if plan.class_names is not None and config.channels is not None:
        profile = pipeline | "FixedProfile" >> beam.Create([{}])
    else:
        profile = profiles | "AllProfiles" >> beam.Flatten() | "DatasetProfile" >> beam.CombineGlobally(
            stats.MergedProfileFn()
        )
    fixed_names = None if plan.class_names is None else list(plan.class_names)
    class_names = profile | "ClassNames" >> beam.Map(lambda found: fixed_names or found["class_names"])
    channels = profile | "Channels" >> beam.Map(lambda found: config.channels or found["channels"])
    return beam.pvalue.AsSingleton(class_names), beam.pvalue.AsSingleton(channels)


def _summary_json(counts, class_names, channels, leakage_found) -> str:
    return json.dumps({"counts": counts, "class_names": class_names, "channels": channels, "leakage": leakage_found})


def _shards(pipeline, plan: ReaderPlan, label: str):
    """The shards, from a source of their own: reads from one shared source would fuse into one stage,
    whose record outputs the runner would then hold for the later stages that need side inputs."""
    return pipeline | label >> beam.Create(list(plan.shards), reshuffle=False)


def _read(pipeline, plan: ReaderPlan, config: TranslationConfig, label: str):
    """Another read of the shards (records only: rejections are reported by the first read)."""
    shards = _shards(pipeline, plan, f"CreateShardsFor{label}")
    return shards | f"ReadShardsFor{label}" >> beam.ParDo(stages.ReadShard(config, with_rejections=False))


# Runners that hold a GroupByKey's data in the process's memory (the local ones).
IN_MEMORY_RUNNERS = ("FnApiRunner", "DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner")


def spreads_records(options: PipelineOptions) -> bool:
    """Whether to Reshuffle records before the build stage: on distributed runners (Dataflow, Flink, Spark)
    a shuffle is disk-backed and spreads one big shard's images across workers; the local runners would
    hold every record in memory for it, and run on one machine anyway."""
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    name = runner if isinstance(runner, str) else type(runner).__name__
    return name.rsplit(".", 1)[-1] not in IN_MEMORY_RUNNERS


def add_translation(
    pipeline,
    config: TranslationConfig,
    plan: ReaderPlan,
    examples_dir: str,
    data_spec_dir: str,
    progress_target: Optional[progress_report.ProgressTarget] = None,
):
    """Adds the translation stages to `pipeline` (a beam.Pipeline not yet run).

    `progress_target`: where the build stage reports records done (None: log lines only).

    No stage holds the records or examples: the shards are read three times
    (count and hash file keys; dedupe and probe headers; build and write), each
    read fused with the work on its records, and what crosses stages is small
    (summaries, the rare duplicate files). Per image, memory holds an 8-byte
    file-key hash until the first read ends and the leakage check's digest,
    split and source id (components/data_translation/leakage.py).
    """
    shards = _shards(pipeline, plan, "CreateShards")
    # Read 1: counts, read rejections, and which files are reached more than once.
    read = shards | "ReadShards" >> beam.ParDo(stages.ReadShard(config)).with_outputs(stages.REJECTED, main="records")
    repeated = beam.pvalue.AsSingleton(
        read.records
        | "FileHashes" >> beam.Map(dedupe.file_hash)
        | "RepeatedFiles" >> beam.CombineGlobally(dedupe.RepeatedFilesFn())
    )
    # Read 2: one record per real file (exact, on the few candidates) and the header probe.
    split = _read(pipeline, plan, config, "Dedupe") | "SplitCandidates" >> beam.ParDo(
        dedupe.SplitCandidates(), repeated
    ).with_outputs(dedupe.CANDIDATES, main="unique")
    unique = (
        split.candidates
        | "GroupByFile" >> beam.GroupByKey()
        | "OnePerFile" >> beam.ParDo(dedupe.OnePerFile()).with_outputs(
            dedupe.REJECTED, dedupe.SKIPPED_KEYS, main="records"
        )
    )
    skipped_keys = beam.pvalue.AsSingleton(
        unique.skipped_keys | "GatherSkipped" >> beam.combiners.ToList() | "SkippedSet" >> beam.Map(frozenset)
    )
    need_probe = plan.class_names is None or config.channels is None
    profiles = (_profile(split.unique, "Unique"), _profile(unique.records, "Kept")) if need_probe else ()
    class_names, channels = _dataset_choices(pipeline, profiles, config, plan)
    # Read 3: decode, build and write, streaming from the files to the sinks.
    total = beam.pvalue.AsSingleton(read.records | "CountRecords" >> beam.combiners.Count.Globally())
    make = beam.ParDo(
        stages.MakeExample(config, plan.class_names, progress_target), class_names, channels, skipped_keys, total
    )
    to_build = _read(pipeline, plan, config, "Build")
    if spreads_records(pipeline.options):
        to_build = to_build | "SpreadRecords" >> beam.Reshuffle()
    built = to_build | "MakeExamples" >> make.with_outputs(
        stages.REJECTED, stages.STATS, stages.HASHES, main="examples"
    )
    leakage_found = built.hashes | "Leakage" >> beam.CombineGlobally(leakage.LeakageFn())

    partitions = built.examples | "PartitionBySplit" >> beam.Partition(_split_index, len(SPLITS))
    for split_name, partition in zip(SPLITS, partitions):
        prefix = os.path.join(examples_io.split_directory(examples_dir, split_name), TFRECORD_PREFIX)
        _ = (
            partition
            | f"Serialized[{split_name}]" >> beam.Map(lambda item: item[1])
            | f"WriteSplit[{split_name}]"
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
    # Each event stream is summarized where it is produced (a Flatten of per-image events would be
    # held whole in the local runner's memory); the partial summaries are merged.
    partial_summaries = (
        read.records | "ReadEvents" >> beam.Map(lambda _: (stats.READ, None))
        | "ReadSummary" >> beam.CombineGlobally(stats.PartialSummaryFn()),
        read.rejected | "ReadRejectedEvents" >> beam.Map(lambda _: (stats.READ, None))
        | "ReadRejectedSummary" >> beam.CombineGlobally(stats.PartialSummaryFn()),
        rejections | "RejectedEvents" >> beam.Map(lambda rejection: (stats.REJECTED, rejection.stage))
        | "RejectedSummary" >> beam.CombineGlobally(stats.PartialSummaryFn()),
        built.stats | "WrittenEvents" >> beam.Map(lambda item: (stats.WRITTEN, item))
        | "WrittenSummary" >> beam.CombineGlobally(stats.PartialSummaryFn()),
    )
    _ = (
        partial_summaries
        | "AllSummaries" >> beam.Flatten()
        | "Summarize" >> beam.CombineGlobally(stats.MergedSummaryFn())
        | "SummaryJson" >> beam.Map(_summary_json, class_names, channels, beam.pvalue.AsSingleton(leakage_found))
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

