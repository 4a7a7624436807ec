"""Dataset statistics gathered in Beam, and the DataSpec built from them."""

from __future__ import annotations

import collections
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam

from augment_ops import box_formats
from components.types import features
from components.data_translation.records import STAGE_DUPLICATE, STAGE_LINK
from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, choose_image_size, data_warnings

# (split, class names counted for the record, height, width, channels it was converted from: 0 when not converted)
StatsItem = Tuple[str, Sequence[str], int, int, int]
# Events the summary counts: a record read, a record rejected, a record written (with its StatsItem).
READ, REJECTED, WRITTEN = "read", "rejected", "written"


# Distinct (height, width) pairs a summary keeps; beyond it the rarest are dropped (they only feed the report
# of the most common sizes; per-dimension histograms, which give the median, stay exact).
MAX_SIZE_PAIRS = 10_000
COMMON_SIZES_REPORTED = 5


def _prune_sizes(sizes: collections.Counter) -> None:
    if len(sizes) > MAX_SIZE_PAIRS:
        for pair, _ in sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[MAX_SIZE_PAIRS // 2 :]:
            del sizes[pair]


class SummaryFn(beam.CombineFn):
    """Counts read/rejected/written records, per split and class, rejections per stage, image sizes, and
    images converted to the dataset's channel count (by the channel count they had).

    Sizes: height/width min, max, sum, exact per-dimension histograms (for the
    median) and the most common (height, width) pairs. A REJECTED event
    carries its stage (or None), so links and duplicates are counted apart.
    """

    def create_accumulator(self):
        return {
            "splits": {},
            "height": [None, None, 0],
            "width": [None, None, 0],
            "height_histogram": collections.Counter(),
            "width_histogram": collections.Counter(),
            "sizes": collections.Counter(),
            "rejected_by_stage": collections.Counter(),
            "channels_converted": collections.Counter(),
            READ: 0,
            REJECTED: 0,
            WRITTEN: 0,
        }

    @staticmethod
    def _extend(size, minimum, maximum, total):
        size[0] = minimum if size[0] is None else min(size[0], minimum)
        size[1] = maximum if size[1] is None else max(size[1], maximum)
        size[2] += total

    def add_input(self, accumulator, event: Tuple[str, object]):
        kind, item = event
        accumulator[kind] += 1
        if kind == REJECTED:
            accumulator["rejected_by_stage"][item or "unknown"] += 1
        elif kind == WRITTEN:
            split, names, height, width, converted_from = item
            if converted_from:
                accumulator["channels_converted"][int(converted_from)] += 1
            stats = accumulator["splits"].setdefault(split, {"count": 0, "per_class": collections.Counter()})
            stats["count"] += 1
            stats["per_class"].update(names)
            self._extend(accumulator["height"], height, height, height)
            self._extend(accumulator["width"], width, width, width)
            accumulator["height_histogram"][int(height)] += 1
            accumulator["width_histogram"][int(width)] += 1
            accumulator["sizes"][(int(height), int(width))] += 1
            _prune_sizes(accumulator["sizes"])
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
            for key in ("height_histogram", "width_histogram", "sizes", "rejected_by_stage", "channels_converted"):
                merged[key].update(accumulator[key])
            for key in (READ, REJECTED, WRITTEN):
                merged[key] += accumulator[key]
        _prune_sizes(merged["sizes"])
        return merged

    def extract_output(self, accumulator):
        output = dict(accumulator)
        output["splits"] = {
            split: {"count": stats["count"], "per_class": dict(sorted(stats["per_class"].items()))}
            for split, stats in sorted(accumulator["splits"].items())
        }
        for key in ("height_histogram", "width_histogram"):
            output[key] = [[value, count] for value, count in sorted(accumulator[key].items())]
        output["sizes"] = [
            [height, width, count]
            for (height, width), count in sorted(accumulator["sizes"].items(), key=lambda item: (-item[1], item[0]))
        ][:COMMON_SIZES_REPORTED]
        output["rejected_by_stage"] = dict(sorted(accumulator["rejected_by_stage"].items()))
        output["channels_converted"] = {str(key): count for key, count in sorted(accumulator["channels_converted"].items())}
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


class PartialSummaryFn(SummaryFn):
    """SummaryFn that outputs its accumulator: each event stream is summarized where it is produced."""

    def extract_output(self, accumulator):
        return accumulator


class MergedSummaryFn(SummaryFn):
    """PartialSummaryFn outputs -> the SummaryFn output of all their events."""

    def add_input(self, accumulator, partial):
        return self.merge_accumulators([accumulator, partial])


class PartialProfileFn(ProfileFn):
    """ProfileFn that outputs its accumulator (the majority channel count needs the merged counts)."""

    def extract_output(self, accumulator):
        return accumulator


class MergedProfileFn(ProfileFn):
    """PartialProfileFn outputs -> the ProfileFn output of all their items."""

    def add_input(self, accumulator, partial):
        return self.merge_accumulators([accumulator, partial])


def majority_channels(counts: Iterable[Tuple[int, int]]) -> int:
    """(channels, count) pairs -> the most common channel count (ties: more channels); 0 if none."""
    best = max(((count, channels) for channels, count in counts), default=(0, 0))
    return best[1]


def histogram_median(histogram: Iterable[Sequence[int]]) -> int:
    """Lower median of a [[value, count], ...] histogram (keys may arrive as JSON strings); 0 if empty."""
    pairs = sorted((int(value), int(count)) for value, count in histogram)
    total = sum(count for _, count in pairs)
    seen = 0
    for value, count in pairs:
        seen += count
        if 2 * seen >= total:
            return value
    return 0


def _size(values: List[Optional[int]], count: int, histogram) -> SizeStats:
    if not count:
        return SizeStats()
    return SizeStats(
        minimum=int(values[0]),
        maximum=int(values[1]),
        mean=float(values[2]) / count,
        median=histogram_median(histogram),
    )


def data_spec_content(
    summary: Dict, task: str, source_format: str, rejected_report: str
) -> DataSpecContent:
    """The pipeline summary {"counts": SummaryFn output, "class_names", "channels", "leakage"} -> DataSpecContent."""
    counts = summary["counts"]
    splits = {
        split: SplitStats(count=stats["count"], per_class=stats["per_class"])
        for split, stats in counts["splits"].items()
    }
    labeled = any(split != features.UNLABELED_SPLIT for split in splits)
    if labeled or not splits:
        for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT):
            splits.setdefault(split, SplitStats())
    height = _size(counts["height"], counts[WRITTEN], counts.get("height_histogram", ()))
    width = _size(counts["width"], counts[WRITTEN], counts.get("width_histogram", ()))
    common_sizes = [[int(value) for value in row] for row in counts.get("sizes", ())]
    image_size, reason = choose_image_size(common_sizes, (height.median, width.median), int(counts[WRITTEN]))
    by_stage = {str(stage): int(count) for stage, count in counts.get("rejected_by_stage", {}).items()}
    content = DataSpecContent(
        task=task,
        class_names=list(summary["class_names"]),
        channels=int(summary["channels"]),
        source_format=source_format,
        box_format=box_formats.TF if task == features.TASK_DETECTION else None,
        height=height,
        width=width,
        splits=splits,
        records_read=int(counts[READ]),
        records_written=int(counts[WRITTEN]),
        records_rejected=int(counts[REJECTED]),
        rejected_report=rejected_report,
        rejected_by_stage=by_stage,
        directory_links_skipped=by_stage.get(STAGE_LINK, 0),
        duplicate_files_skipped=by_stage.get(STAGE_DUPLICATE, 0),
        common_sizes=common_sizes,
        image_size=image_size,
        image_size_reason=reason,
        leakage=dict(summary.get("leakage") or {}),
        channels_converted={str(key): int(count) for key, count in (counts.get("channels_converted") or {}).items()},
    )
    content.warnings = data_warnings(content)
    return content
