"""The Beam DoFns: read a shard, probe image headers, convert a record into an example.

Each DoFn sends bad records to the REJECTED output with a reason instead of
raising, so one bad image never stops a run and nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import io
import logging
from typing import Dict, Iterator, Optional, Sequence

import apache_beam as beam
import tensorflow as tf

from components.data_translation import images, readers
from components.data_translation.conversion import ExampleBuilder, RecordDecoder
from components.data_translation.readers import common
from components.data_translation.records import (
    STAGE_BUILD,
    STAGE_DECODE,
    STAGE_DUPLICATE,
    Rejection,
    SourceRecord,
    reject,
)
from components.data_translation.spec import TranslationConfig

REJECTED = "rejected"
STATS = "stats"
HASHES = "hashes"
_PROGRESS_EVERY = 1000


class ReadShard(beam.DoFn):
    """Shard -> SourceRecords (main output) and read-stage Rejections."""

    def __init__(self, config: TranslationConfig):
        self._config = config

    def process(self, shard) -> Iterator:
        for item in readers.read(self._config, shard):
            if isinstance(item, Rejection):
                yield beam.pvalue.TaggedOutput(REJECTED, item)
            else:
                yield item


def file_key(record: SourceRecord) -> str:
    """The real file behind a record (links resolved), so two paths to one file meet under one key.

    Records with inline bytes (TFRecord sources) key by their origin, which is
    unique, so they are never merged.
    """
    if record.image_path is None:
        return f"inline:{record.origin}"
    return f"file:{common.real_path(record.image_path)}"


class OnePerFile(beam.DoFn):
    """(file key, records) -> the record read through a non-link path (else the first source id); the rest rejected.

    A file reached twice (a file link next to its target, two CSV rows naming
    one file through different paths) would be counted twice and could land
    in two splits; the extra paths go to the report with stage 'duplicate'.
    """

    def process(self, group) -> Iterator:
        key, records = group
        ordered = sorted(records, key=lambda record: (common.is_link(record.image_path or ""), record.source_id))
        kept = ordered[0]
        yield kept
        for duplicate in ordered[1:]:
            real = key[len("file:") :]
            reason = f"same image file as {kept.source_id} ({real}), reached again through a link or alias"
            yield beam.pvalue.TaggedOutput(REJECTED, reject(duplicate, reason, STAGE_DUPLICATE))


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
    side inputs. Also emits, on STATS, (split, counted class names, height,
    width) per written record, and on HASHES (SHA-1 of the encoded image,
    (split, source id)) for the leakage check.
    """

    def __init__(self, config: TranslationConfig, fixed_class_names: Optional[Sequence[str]]):
        self._decoder = RecordDecoder(config, fixed_class_names)
        self._builder = ExampleBuilder(config)
        self._class_names: Sequence[str] = ()
        self._class_index: Dict[str, int] = {}
        self._processed = 0

    def _index(self, class_names: Sequence[str]) -> Dict[str, int]:
        """{name: id}, rebuilt only when the runner hands over a new side-input object."""
        if class_names is not self._class_names:
            self._class_names = class_names
            self._class_index = {name: index for index, name in enumerate(class_names)}
        return self._class_index

    def process(self, record: SourceRecord, class_names: Sequence[str], channels: int) -> Iterator:
        self._processed += 1
        if self._processed % _PROGRESS_EVERY == 0:
            logging.info("DataTranslation: converted %d records on this worker.", self._processed)
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
        yield beam.pvalue.TaggedOutput(STATS, (split, counted, decoded.height, decoded.width))
        digest = hashlib.sha1(decoded.encoded_image).hexdigest()
        yield beam.pvalue.TaggedOutput(HASHES, (digest, (split, decoded.source_id)))
