"""Byte-identical images in more than one split (leakage), found in a few bytes per image.

The check must remember every written image until the last one is seen, so
its memory grows with the data; it is kept to what the answer needs: a
64-bit content digest and a split code per image in flat arrays (9 bytes),
plus the image's source id (its length + 1 bytes) so the report can name the
copies. A Beam GroupByKey on hex digests held ~300 bytes of Python objects
per image in the local runner. Two different images share a 64-bit digest
with probability about n^2 / 2^65 (3e-10 at 100k images), so a false report
is negligible.
"""

from __future__ import annotations

import array
import collections
import hashlib
from typing import List, Tuple

import apache_beam as beam
import numpy as np

from components.types import features

# Splits whose images must not repeat across each other (train/eval/test); unlabeled copies are not leakage.
LABELED_SPLITS = (features.TRAIN_SPLIT, features.EVAL_SPLIT, features.TEST_SPLIT)
LEAKAGE_EXAMPLES = 5
_SPLITS = features.ALL_SPLITS
_SEPARATOR = b"\0"  # never inside a path or a record id

# (digest, split, source id) of one written image.
HashItem = Tuple[int, str, str]


def content_digest(encoded_image: bytes) -> int:
    """64-bit BLAKE2b digest of the encoded image bytes, as an unsigned int."""
    return int.from_bytes(hashlib.blake2b(encoded_image, digest_size=8).digest(), "little")


def _empty():
    """(digests uint64, split codes uint8, source ids joined by NUL)."""
    return array.array("Q"), array.array("B"), bytearray()


class LeakageFn(beam.CombineFn):
    """(digest, split, source id) per written image -> byte-identical images across and within splits.

    Output: `images_in_several_splits` (distinct images found in more than
    one of train/eval/test), `records_involved`, `split_pairs`
    {"eval+train": n}, `duplicate_records` (records beyond the first copy of
    an image, any split), and up to LEAKAGE_EXAMPLES groups of source ids.
    """

    def create_accumulator(self):
        return _empty()

    def add_input(self, accumulator, item: HashItem):
        digest, split, source_id = item
        digests, splits, source_ids = accumulator
        digests.append(digest)
        splits.append(_SPLITS.index(split))
        source_ids += source_id.encode("utf-8") + _SEPARATOR
        return accumulator

    def merge_accumulators(self, accumulators):
        # Beam lets a merge extend its first accumulator in place (no copy of the largest one).
        accumulators = iter(accumulators)
        merged = next(accumulators, None) or _empty()
        for digests, splits, source_ids in accumulators:
            merged[0].extend(digests)
            merged[1].extend(splits)
            merged[2].extend(source_ids)
        return merged

    def extract_output(self, accumulator):
        digests = np.frombuffer(accumulator[0], dtype=np.uint64) if len(accumulator[0]) else np.zeros(0, np.uint64)
        splits = np.frombuffer(accumulator[1], dtype=np.uint8) if len(accumulator[1]) else np.zeros(0, np.uint8)
        output = {"images_in_several_splits": 0, "records_involved": 0, "split_pairs": collections.Counter(),
                  "duplicate_records": 0, "examples": []}
        # One sorted copy (8 bytes an image) and a 1-byte mask find the repeated digests; only their
        # members are looked at one by one.
        ordered = np.sort(digests)
        repeats = ordered[1:] == ordered[:-1]
        output["duplicate_records"] = int(np.count_nonzero(repeats))
        repeated = np.unique(ordered[1:][repeats])
        del ordered, repeats
        if len(repeated):
            members = np.flatnonzero(np.isin(digests, repeated))
            source_ids = _source_ids(accumulator[2], set(members.tolist()))
            groups = collections.defaultdict(list)
            for index in members.tolist():
                groups[int(digests[index])].append((_SPLITS[splits[index]], source_ids[index]))
            examples: List[List[str]] = []
            for copies in groups.values():
                copies.sort()
                labeled = sorted({split for split, _ in copies} & set(LABELED_SPLITS))
                if len(labeled) < 2:
                    continue
                output["images_in_several_splits"] += 1
                output["records_involved"] += sum(1 for split, _ in copies if split in labeled)
                for position, first in enumerate(labeled):
                    for second in labeled[position + 1 :]:
                        output["split_pairs"][f"{first}+{second}"] += 1
                examples = sorted(examples + [[source for _, source in copies]])[:LEAKAGE_EXAMPLES]
            output["examples"] = examples
        output["split_pairs"] = dict(sorted(output["split_pairs"].items()))
        return output


def _source_ids(blob: bytearray, wanted: set) -> dict:
    """{index: source id} for the wanted record indices of a NUL-joined blob, without copying it whole."""
    found, begin = {}, 0
    for index in range(max(wanted) + 1):
        end = blob.index(_SEPARATOR, begin)
        if index in wanted:
            found[index] = blob[begin:end].decode("utf-8")
        begin = end + 1
    return found
