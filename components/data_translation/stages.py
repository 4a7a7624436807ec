"""The Beam DoFns: read a shard, probe image headers, convert a record into an example.

Each DoFn sends bad records to the REJECTED output with a reason instead of
raising, so one bad image never stops a run and nothing is dropped silently.
"""

from __future__ import annotations

import io
from typing import Collection, Dict, Iterator, Optional, Sequence

import apache_beam as beam
import tensorflow as tf

from components.data_translation import dedupe, images, leakage, progress_report, readers
from components.data_translation.conversion import ExampleBuilder, RecordDecoder
from components.data_translation.records import STAGE_BUILD, STAGE_DECODE, Rejection, SourceRecord, reject
from components.data_translation.spec import TranslationConfig

REJECTED = "rejected"
STATS = "stats"
HASHES = "hashes"


class ReadShard(beam.DoFn):
    """Shard -> SourceRecords (main output) and read-stage Rejections.

    The pipeline reads the shards more than once (a listing is cheap next to
    decoding) so no stage has to hold the records; only the first read reports
    rejections (`with_rejections`), so each is counted once.
    """

    def __init__(self, config: TranslationConfig, with_rejections: bool = True):
        self._config = config
        self._with_rejections = with_rejections

    def process(self, shard) -> Iterator:
        for item in readers.read(self._config, shard):
            if not isinstance(item, Rejection):
                yield item
            elif self._with_rejections:
                yield beam.pvalue.TaggedOutput(REJECTED, item)


class ProbeRecord(beam.DoFn):
    """SourceRecord -> (class names, channels), reading only the image header.

    This pre-pass fixes the dataset-wide class list and channel count before
    any pixels are decoded, so decoding and writing fuse into one streaming
    stage. Unreadable images yield nothing here; the decode stage reports them.
    """

    def process(self, record: SourceRecord) -> Iterator:
        try:
            if record.image_bytes is not None:
                channels = images.probe_channels(io.BytesIO(record.image_bytes))
            else:
                with tf.io.gfile.GFile(record.image_path, "rb") as handle:
                    channels = images.probe_channels(handle)
        except (images.RecordError, tf.errors.OpError):
            return
        yield record.class_names(), channels


class MakeExample(beam.DoFn):
    """SourceRecord -> (split, serialized tf.train.Example); the image is read here, lazily.

    Decoding and building share one DoFn so the runner streams each image from
    its file to the TFRecord sink; the class list and channel count arrive as
    side inputs, and so do the `dedupe.record_key`s of duplicates already
    rejected (skipped here without a second report). Also emits, on STATS,
    (split, counted class names, height, width, channels converted from: 0 when
    the image already had the dataset's channels) per written record, and on
    HASHES (64-bit digest of the encoded image, split, source id) for the
    leakage check.
    """

    def __init__(
        self,
        config: TranslationConfig,
        fixed_class_names: Optional[Sequence[str]],
        progress_target: Optional[progress_report.ProgressTarget] = None,
    ):
        self._decoder = RecordDecoder(config, fixed_class_names)
        self._builder = ExampleBuilder(config)
        self._class_names: Sequence[str] = ()
        self._class_index: Dict[str, int] = {}
        self._progress_target = progress_target
        self._reporter = None

    def _count(self, total: Optional[int]) -> None:
        """Counts one record on this worker (log line and progress file, both throttled)."""
        if self._reporter is None:
            self._reporter = progress_report.reporter(self._progress_target, total)
        self._reporter.update(1)

    def finish_bundle(self):
        if self._reporter is not None:
            self._reporter.set(self._reporter.done, log=True, force_write=True)

    def _index(self, class_names: Sequence[str]) -> Dict[str, int]:
        """{name: id}, rebuilt only when the runner hands over a new side-input object."""
        if class_names is not self._class_names:
            self._class_names = class_names
            self._class_index = {name: index for index, name in enumerate(class_names)}
        return self._class_index

    def process(
        self,
        record: SourceRecord,
        class_names: Sequence[str],
        channels: int,
        skipped_keys: Collection = (),
        total: Optional[int] = None,
    ) -> Iterator:
        if skipped_keys and dedupe.record_key(record) in skipped_keys:
            return
        self._count(total)
        try:
            decoded = self._decoder.decode(record)
        except images.RecordError as error:
            yield beam.pvalue.TaggedOutput(REJECTED, reject(record, str(error), STAGE_DECODE))
            return
        try:
            split, example, counted = self._builder.build(decoded, self._index(class_names), channels)
        except images.RecordError as error:
            yield beam.pvalue.TaggedOutput(REJECTED, reject(decoded, str(error), STAGE_BUILD))
            return
        yield split, example.SerializeToString()
        converted_from = decoded.channels if decoded.channels != channels else 0
        yield beam.pvalue.TaggedOutput(STATS, (split, counted, decoded.height, decoded.width, converted_from))
        digest = leakage.content_digest(decoded.encoded_image)
        yield beam.pvalue.TaggedOutput(HASHES, (digest, split, decoded.source_id))
