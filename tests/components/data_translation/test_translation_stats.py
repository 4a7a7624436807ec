"""The summary and profile combiners give the same answer however Beam splits the work."""

from components.data_translation import stats
from tests.support.combine_fn import combine_in_parts

EVENTS = [
    (stats.READ, None),
    (stats.READ, None),
    (stats.READ, None),
    (stats.REJECTED, None),
    (stats.WRITTEN, ("train", ["cat", "cat", "dog"], 20, 30, 0)),
    (stats.WRITTEN, ("eval", ["dog"], 40, 10, 1)),  # a grayscale image converted to the dataset's channels
]


def test_summary_is_the_same_for_any_number_of_workers():
    one = combine_in_parts(stats.SummaryFn(), EVENTS, 1)
    assert one == combine_in_parts(stats.SummaryFn(), EVENTS, 3)
    assert (one[stats.READ], one[stats.REJECTED], one[stats.WRITTEN]) == (3, 1, 2)
    assert one["splits"]["train"] == {"count": 1, "per_class": {"cat": 2, "dog": 1}}
    assert one["channels_converted"] == {"1": 1}
    assert one["height"] == [20, 40, 60] and one["width"] == [10, 30, 40]
    content = stats.data_spec_content(
        {"counts": one, "class_names": ["cat", "dog"], "channels": 3}, "detection", "coco", "/r.jsonl"
    )
    assert (content.height.minimum, content.height.maximum, content.height.mean) == (20, 40, 30.0)
    assert content.box_format == "tf" and content.class_counts("train") == [2, 1]


def test_empty_input_gives_zero_counts_and_empty_splits():
    empty = combine_in_parts(stats.SummaryFn(), [], 2)
    content = stats.data_spec_content({"counts": empty, "class_names": [], "channels": 0}, "classification", "csv", "")
    assert content.records_read == content.records_written == 0
    assert content.split_count("train") == 0 and content.width.maximum == 0


def test_profile_takes_the_majority_channels_and_ties_go_to_more_channels():
    items = [(["b"], 1), (["a", "b"], 3), ([], 1)]
    assert combine_in_parts(stats.ProfileFn(), items, 2) == {"class_names": ["a", "b"], "channels": 1}
    assert stats.majority_channels([(1, 2), (3, 2)]) == 3
    assert stats.majority_channels([]) == 0
