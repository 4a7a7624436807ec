"""Translation streams: no runner buffer holds the records, dedupe needs 8 bytes a record, progress reaches a file."""

import json
import os
import random

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import execution

from components.data_translation import dedupe, progress_report, readers, translation
from components.data_translation.records import SourceRecord
from components.data_translation.spec import TranslationConfig
from components.types.beam_options import effective_beam_args
from tests.fixtures import classification_formats as cf
from tests.support.combine_fn import combine_in_parts


def _record(path, source_id=None):
    return SourceRecord(source_id=source_id or os.path.basename(path), origin=path, image_path=path)


def test_repeated_files_are_found_however_the_work_is_split(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"x")
    os.symlink(target, tmp_path / "link.png")
    records = [_record(str(tmp_path / name)) for name in ("a.png", "link.png", "b.png", "c.png")]
    records.append(_record(str(tmp_path / "b.png"), source_id="b-again"))
    hashes = [dedupe.file_hash(record) for record in records]
    repeated = combine_in_parts(dedupe.RepeatedFilesFn(), hashes, 1)
    assert repeated == combine_in_parts(dedupe.RepeatedFilesFn(), hashes, 3)
    assert repeated == {hashes[0], hashes[2]}  # a.png (through its link) and b.png (named twice)
    assert combine_in_parts(dedupe.RepeatedFilesFn(), [], 2) == frozenset()
    candidates = [list(dedupe.SplitCandidates().process(record, repeated)) for record in records]
    assert [isinstance(found[0], beam.pvalue.TaggedOutput) for found in candidates] == [True, True, True, False, True]


class _BufferBytes:
    """Counts bytes the local runner appends to its in-memory buffers (between fused stages)."""

    def __init__(self, monkeypatch):
        self.total = 0
        for cls in (execution.ListBuffer, execution.GroupingBuffer):
            original = cls.append

            def append(buffer, data, _original=original):
                self.total += len(data)
                return _original(buffer, data)

            monkeypatch.setattr(cls, "append", append)


def _translate(root, out, count):
    cf.write_folder_with_unlabeled(root, labeled=count, unlabeled=0, seed=count)
    config = TranslationConfig(format="image_folder", path=root, eval_fraction=0.2)
    translation.translate(config, os.path.join(out, "examples"), os.path.join(out, "data_spec"))


def test_no_runner_buffer_grows_with_more_than_a_few_bytes_per_record(tmp_path, monkeypatch):
    # Before streaming, records crossed three buffers and per-image events a Flatten: ~860 bytes an image.
    # Now only the 8-byte file-key hashes and the leakage check's digest, split and source id do.
    buffers = _BufferBytes(monkeypatch)
    sizes = {}
    for count in (30, 150):
        before = buffers.total
        _translate(str(tmp_path / f"data_{count}"), str(tmp_path / f"out_{count}"), count)
        sizes[count] = buffers.total - before
    per_record = (sizes[150] - sizes[30]) / 120
    assert 0 < per_record < 80, sizes


def test_build_stage_reports_progress_to_the_target_file(tmp_path):
    root = str(tmp_path / "data")
    cf.write_folder_with_unlabeled(root, labeled=12, unlabeled=3)
    config = TranslationConfig(format="image_folder", path=root, eval_fraction=0.25)
    path = str(tmp_path / "pipeline_root" / "_progress" / "DataTranslation.json")
    target = progress_report.ProgressTarget(path=path, component="DataTranslation", execution_id="9")
    with beam.Pipeline(options=PipelineOptions(effective_beam_args(None))) as pipeline:
        translation.add_translation(
            pipeline, config, readers.plan(config), str(tmp_path / "examples"), str(tmp_path / "spec"), target
        )
    with open(path) as handle:
        record = json.load(handle)
    assert (record["component"], record["execution_id"], record["stage"]) == ("DataTranslation", "9", "translation")
    assert record["done"] == record["total"] == 15


def test_leakage_digests_are_stable_and_distinguish_images():
    from components.data_translation import leakage

    blobs = [random.Random(seed).randbytes(64) for seed in range(50)]
    digests = [leakage.content_digest(blob) for blob in blobs]
    assert len(set(digests)) == 50 and all(0 <= digest < 2**64 for digest in digests)
    assert digests[0] == leakage.content_digest(bytes(blobs[0]))


@pytest.mark.parametrize("reverse", [False, True])
def test_one_per_file_keeps_the_plain_path_and_names_the_skipped_records(tmp_path, reverse):
    target = tmp_path / "a.png"
    target.write_bytes(b"x")
    os.symlink(target, tmp_path / "0-link.png")
    records = [_record(str(tmp_path / "0-link.png")), _record(str(target))]
    outputs = list(dedupe.OnePerFile().process((dedupe.file_key(records[1]), records[::-1] if reverse else records)))
    kept = [output for output in outputs if not isinstance(output, beam.pvalue.TaggedOutput)]
    skipped = [output.value for output in outputs if getattr(output, "tag", None) == dedupe.SKIPPED_KEYS]
    assert [record.source_id for record in kept] == ["a.png"]
    assert skipped == [dedupe.record_key(records[0])]


@pytest.mark.parametrize(
    "runner, spreads",
    [(None, False), ("FnApiRunner", False), ("DirectRunner", False), ("DataflowRunner", True), ("FlinkRunner", True)],
)
def test_records_are_reshuffled_only_where_a_shuffle_is_not_held_in_memory(runner, spreads):
    args = [] if runner is None else [f"--runner={runner}"]
    assert translation.spreads_records(PipelineOptions(args)) is spreads
