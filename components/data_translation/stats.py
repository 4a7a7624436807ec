"""Dataset statistics gathered in Beam, and the DataSpec built from them."""

from __future__ import annotations

import collections
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam

from augment_ops import box_formats
from components.types import features
from components.types.data_spec import DataSpecContent, SizeStats, SplitStats

# (split, class names counted for the record, height, width)
StatsItem = Tuple[str, Sequence[str], int, int]
# Events the summary counts: a record read, a record rejected, a record written (with its StatsItem).
READ, REJECTED, WRITTEN = "read", "rejected", "written"


class SummaryFn(beam.CombineFn):
    """Counts read/rejected/written records, per split and class, and image height/width min, max, sum."""

    def create_accumulator(self):
        return {"splits": {}, "height": [None, None, 0], "width": [None, None, 0], READ: 0, REJECTED: 0, WRITTEN: 0}

    @staticmethod
    def _extend(size, minimum, maximum, total):
        size[0] = minimum if size[0] is None else min(size[0], minimum)
        size[1] = maximum if size[1] is None else max(size[1], maximum)
        size[2] += total

    def add_input(self, accumulator, event: Tuple[str, Optional[StatsItem]]):
        kind, item = event
        accumulator[kind] += 1
        if kind == WRITTEN:
            split, names, height, width = item
            stats = accumulator["splits"].setdefault(split, {"count": 0, "per_class": collections.Counter()})
            stats["count"] += 1
            stats["per_class"].update(names)
            self._extend(accumulator["height"], height, height, height)
            self._extend(accumulator["width"], width, width, width)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for accumulator in accumulators:
            for split, stats in accumulator["splits"].items():
                target = merged["splits"].setdefault(split, {"count": 0, "per_class": collections.Counter()})
                target["count"] += stats["count"]
                target["per_class"].update(stats["per_class"])
            for key in ("height", "width"):
                if accumulator[key][0] is not None:
                    self._extend(merged[key], *accumulator[key])
            for key in (READ, REJECTED, WRITTEN):
                merged[key] += accumulator[key]
        return merged

    def extract_output(self, accumulator):
        output = dict(accumulator)
        output["splits"] = {
            split: {"count": stats["count"], "per_class": dict(sorted(stats["per_class"].items()))}
            for split, stats in sorted(accumulator["splits"].items())
        }
        return output


class ProfileFn(beam.CombineFn):
    """(class names, channels) per decoded record -> {"class_names": sorted, "channels": majority}."""

    def create_accumulator(self):
        return set(), collections.Counter()

    def add_input(self, accumulator, item: Tuple[Sequence[str], int]):
        names, channels = item
        accumulator[0].update(names)
        accumulator[1][channels] += 1
        return accumulator

    def merge_accumulators(self, accumulators):
        names, channels = self.create_accumulator()
        for accumulator_names, accumulator_channels in accumulators:
            names.update(accumulator_names)
            channels.update(accumulator_channels)
        return names, channels

    def extract_output(self, accumulator):
        return {"class_names": sorted(accumulator[0]), "channels": majority_channels(accumulator[1].items())}


def majority_channels(counts: Iterable[Tuple[int, int]]) -> int:
    """(channels, count) pairs -> the most common channel count (ties: more channels); 0 if none."""
    best = max(((count, channels) for channels, count in counts), default=(0, 0))
    return best[1]


def _size(values: List[Optional[int]], count: int) -> SizeStats:
    if not count:
        return SizeStats()
    return SizeStats(minimum=int(values[0]), maximum=int(values[1]), mean=float(values[2]) / count)


def data_spec_content(
    summary: Dict, task: str, source_format: str, rejected_report: str
) -> DataSpecContent:
    """The pipeline summary {"counts": SummaryFn output, "class_names", "channels"} -> DataSpecContent."""
    counts = summary["counts"]
    splits = {
        split: SplitStats(count=stats["count"], per_class=stats["per_class"])
        for split, stats in counts["splits"].items()
    }
    for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT):
        splits.setdefault(split, SplitStats())
    return DataSpecContent(
        task=task,
        class_names=list(summary["class_names"]),
        channels=int(summary["channels"]),
        source_format=source_format,
        box_format=box_formats.TF if task == features.TASK_DETECTION else None,
        height=_size(counts["height"], counts[WRITTEN]),
        width=_size(counts["width"], counts[WRITTEN]),
        splits=splits,
        records_read=int(counts[READ]),
        records_written=int(counts[WRITTEN]),
        records_rejected=int(counts[REJECTED]),
        rejected_report=rejected_report,
    )
