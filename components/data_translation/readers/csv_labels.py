"""CSV files of `path,label[,label...]`; a row without labels is unlabeled.

Paths are relative to the CSV file. A first row whose first field is a
column name (path, image, filename, file, image_path) is a header. Each line
is one record, so a malformed line is rejected on its own with its number.
"""

from __future__ import annotations

import csv
import os
from typing import Iterator, List, Optional, Tuple

import tensorflow as tf

from components.data_translation.readers import common
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig

HEADER_NAMES = ("path", "image", "filename", "file", "image_path", "gcs_file_path")


def check_text(line: str) -> None:
    """Raises ValueError for lines that are not clean UTF-8 text."""
    if "\x00" in line:
        raise ValueError("line contains a NUL byte")
    if "\ufffd" in line:
        raise ValueError("line is not valid UTF-8 text")


def parse_line(line: str) -> List[str]:
    """One CSV line -> stripped fields; raises ValueError when the line is not valid CSV."""
    check_text(line)
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error as error:
        raise ValueError(f"malformed CSV: {error}") from None
    if len(rows) != 1:
        raise ValueError("malformed CSV: a quoted field spans lines")
    return [field.strip() for field in rows[0]]


def numbered_lines(path: str) -> Iterator[Tuple[int, str]]:
    """(1-based line number, line) of non-blank lines, streamed; bad UTF-8 shows as U+FFFD."""
    with tf.io.gfile.GFile(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.strip():
                yield number, line


def plan(config: TranslationConfig) -> common.ReaderPlan:
    common.require_exists(config.path, "CSV file")
    if not any(True for _ in numbered_lines(config.path)):
        raise ValueError(f"CSV file {config.path} has no rows.")
    return common.ReaderPlan(shards=(config.path,), class_names=common.read_class_list(config.class_list))


def read(config: TranslationConfig, shard: str) -> Iterator[SourceRecord | Rejection]:
    base_dir = os.path.dirname(shard)
    seen = {}
    for number, line in numbered_lines(shard):
        record = f"line {number}"
        try:
            fields = parse_line(line)
        except ValueError as error:
            yield Rejection(source=shard, record=record, reason=str(error))
            continue
        if number == 1 and fields[0].lower() in HEADER_NAMES:
            continue
        path = fields[0]
        if not path:
            yield Rejection(source=shard, record=record, reason="malformed CSV line: empty image path")
            continue
        if path in seen:
            reason = f"duplicate row: image already listed on line {seen[path]}"
            yield Rejection(source=shard, record=record, reason=reason)
            continue
        seen[path] = number
        labels: Optional[Tuple[str, ...]] = tuple(field for field in fields[1:] if field) or None
        yield SourceRecord(
            source_id=path,
            origin=f"{shard}#{record}",
            image_path=common.resolve(base_dir, path),
            labels=labels,
        )
