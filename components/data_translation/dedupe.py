"""One record per real file, in memory that does not hold the records.

A file reached twice (a file link next to its target, two CSV rows naming one
file through different paths) would be counted twice and could land in two
splits, so the pipeline keeps one record per real file and rejects the rest
with stage 'duplicate'. Grouping every record by its real path would hold all
records in the local runner's memory (a GroupByKey there is an in-memory
table: 373 bytes per image encoded, more as Python objects). Instead:

1. `RepeatedFilesFn` keeps a 64-bit hash of each record's file key in a flat
   array (8 bytes per image) and returns the few hashes seen more than once.
2. `SplitCandidates` (a second read of the shards) sends only records with
   such a hash to the exact GroupByKey on the real path; `OnePerFile` keeps
   one and rejects the others, and emits the rejected records' keys.
3. The build stage (a third read) skips those keys.

A hash collision between two different files only adds both to the exact
check, which then keeps both: correctness never rests on the hash.
"""

from __future__ import annotations

import array
import hashlib
from typing import Iterator, Tuple

import apache_beam as beam
import numpy as np

from components.data_translation.readers import common
from components.data_translation.records import STAGE_DUPLICATE, SourceRecord, reject

REJECTED = "rejected"
CANDIDATES = "candidates"
SKIPPED_KEYS = "skipped_keys"


def file_key(record: SourceRecord) -> str:
    """The real file behind a record (links resolved), so two paths to one file meet under one key.

    Records with inline bytes (TFRecord sources) key by their origin, which is
    unique, so they are never merged.
    """
    if record.image_path is None:
        return f"inline:{record.origin}"
    return f"file:{common.real_path(record.image_path)}"


def file_hash(record: SourceRecord) -> int:
    """64-bit hash of `file_key(record)`."""
    return int.from_bytes(hashlib.blake2b(file_key(record).encode("utf-8"), digest_size=8).digest(), "little")


def record_key(record: SourceRecord) -> Tuple[str, str]:
    """Names one record (not its file): (origin, source id)."""
    return record.origin, record.source_id


class RepeatedFilesFn(beam.CombineFn):
    """file_hash per record -> frozenset of the hashes that occur more than once (8 bytes per record)."""

    def create_accumulator(self):
        return array.array("Q")

    def add_input(self, accumulator, file_hash_value: int):
        accumulator.append(file_hash_value)
        return accumulator

    def merge_accumulators(self, accumulators):
        # Beam lets a merge extend its first accumulator in place (no copy of the largest one).
        accumulators = iter(accumulators)
        merged = next(accumulators, None)
        merged = array.array("Q") if merged is None else merged
        for accumulator in accumulators:
            merged.extend(accumulator)
        return merged

    def extract_output(self, accumulator):
        if len(accumulator) < 2:
            return frozenset()
        ordered = np.sort(np.frombuffer(accumulator, dtype=np.uint64))
        return frozenset(int(value) for value in ordered[1:][ordered[1:] == ordered[:-1]])


class SplitCandidates(beam.DoFn):
    """SourceRecord -> main output if its file is read once; (file key, record) on CANDIDATES otherwise."""

    def process(self, record: SourceRecord, repeated) -> Iterator:
        if repeated and file_hash(record) in repeated:
            yield beam.pvalue.TaggedOutput(CANDIDATES, (file_key(record), record))
        else:
            yield record


class OnePerFile(beam.DoFn):
    """(file key, records) -> the record read through a non-link path (else the first source id); the rest rejected.

    Rejected records go to REJECTED (for the report) and their `record_key`s
    to SKIPPED_KEYS (so the build stage, which reads the shards again, skips them).
    """

    def process(self, group) -> Iterator:
        key, records = group
        ordered = sorted(records, key=lambda record: (common.is_link(record.image_path or ""), record.source_id))
        kept = ordered[0]
        yield kept
        for duplicate in ordered[1:]:
            real = key.split(":", 1)[1]
            reason = f"same image file as {kept.source_id} ({real}), reached again through a link or alias"
            yield beam.pvalue.TaggedOutput(REJECTED, reject(duplicate, reason, STAGE_DUPLICATE))
            yield beam.pvalue.TaggedOutput(SKIPPED_KEYS, record_key(duplicate))
