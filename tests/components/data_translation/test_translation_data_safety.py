"""Data safety: links never multiply or leak images, unlabeled-only folders, mixed sizes, trainability flags."""

import os
import shutil

import numpy as np
import pytest

from components.data_translation import leakage, stats, translation
from components.data_translation.images import encode_png
from components.data_translation.readers import common
from components.data_translation.spec import TranslationConfig
from components.types import data_spec, examples_io
from tests.fixtures import classification_formats as cf
from tests.fixtures.readback import translate_and_read
from tests.support.combine_fn import combine_in_parts


def _digit_folder(root: str, count: int = 40, seed: int = 0) -> None:
    images, labels, rows = cf.digits(count, seed)
    for image, label, row in zip(images, labels, rows):
        cf.write_pngs(image[None], np.array([row]), os.path.join(root, str(label)))


def _reconciles(content) -> bool:
    return content.records_read == content.records_written + content.records_rejected


def test_walk_does_not_enter_directory_links(tmp_path):
    root = tmp_path / "data"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "a" / "x.png").write_bytes(b"x")
    (root / "a" / "deep" / "y.png").write_bytes(b"y")
    os.symlink(".", root / "a" / "loop")
    os.symlink("..", root / "a" / "deep" / "up")
    walked = common.walk(str(root / "a"))
    assert walked.files == ["deep/y.png", "x.png"]
    assert [path for path, _ in walked.skipped_links] == ["deep/up", "loop"]
    assert "directory link not followed" in walked.skipped_links[0][1]


def test_symlink_loop_and_file_links_give_the_counts_of_the_plain_folder(tmp_path):
    plain = tmp_path / "plain"
    _digit_folder(str(plain))
    linked = tmp_path / "linked"
    shutil.copytree(plain, linked)
    class_dir = sorted(name for name in os.listdir(linked))[0]
    other_dir = sorted(name for name in os.listdir(linked))[1]
    os.symlink(".", linked / class_dir / "loop")  # data/3/loop -> .
    os.symlink("..", linked / class_dir / "root")  # back into the data root
    os.symlink(str(linked / other_dir), linked / "alias_class")  # a class folder that is a link
    target = sorted(os.listdir(linked / other_dir))[0]
    os.symlink(os.path.join("..", other_dir, target), linked / class_dir / "copy_of_other.png")
    outside = tmp_path / "outside.png"
    outside.write_bytes(encode_png(np.full((28, 28), 7, np.uint8)))
    os.symlink(str(outside), linked / class_dir / "from_outside.png")

    config = dict(format="image_folder", eval_fraction=0.3, split_seed=2)
    expected = translate_and_read(TranslationConfig(path=str(plain), **config), str(tmp_path / "out_plain")).content
    result = translate_and_read(TranslationConfig(path=str(linked), **config), str(tmp_path / "out_linked"))
    content = result.content

    # The only image added is the file link to an image outside the root; nothing is counted twice.
    assert content.records_written == expected.records_written + 1
    assert content.splits["train"].count + content.splits["eval"].count == expected.records_written + 1
    assert content.class_names == expected.class_names
    assert content.directory_links_skipped == 3 and content.duplicate_files_skipped == 1
    assert content.rejected_by_stage == {"duplicate": 1, "link": 3}
    assert _reconciles(content) and content.records_rejected == len(result.rejections) == 4
    duplicate = [row for row in result.rejections if row["stage"] == "duplicate"][0]
    assert duplicate["record"] == os.path.join(class_dir, "copy_of_other.png")
    assert f"same image file as {os.path.join(other_dir, target)}" in duplicate["reason"]
    skipped = sorted(row["record"] for row in result.rejections if row["stage"] == "link")
    assert skipped == sorted(["alias_class", os.path.join(class_dir, "loop"), os.path.join(class_dir, "root")])
    assert os.path.join(other_dir, target) in result.examples
    assert content.leakage["images_in_several_splits"] == 0


def test_byte_identical_images_in_two_splits_are_flagged_as_leakage(tmp_path):
    root = tmp_path / "data"
    images, labels, rows = cf.digits(24, seed=1)
    for index, (image, label, row) in enumerate(zip(images, labels, rows)):
        split = "val" if index % 4 == 0 else "train"
        cf.write_pngs(image[None], np.array([row]), str(root / split / str(label)))
    leaked = sorted(os.listdir(root / "val" / str(labels[0])))[0]
    os.makedirs(root / "train" / str(labels[0]), exist_ok=True)
    shutil.copy(root / "val" / str(labels[0]) / leaked, root / "train" / str(labels[0]) / "copy.png")

    content = translate_and_read(TranslationConfig(format="image_folder", path=str(root)), str(tmp_path / "o")).content

    assert content.leakage["images_in_several_splits"] == 1
    assert content.leakage["split_pairs"] == {"eval+train": 1}
    assert content.leakage["duplicate_records"] == 1
    assert sorted(content.leakage["examples"][0]) == sorted(
        [os.path.join("val", str(labels[0]), leaked), os.path.join("train", str(labels[0]), "copy.png")]
    )
    assert any(warning.startswith("leakage: 1 byte-identical") for warning in content.warnings)


def test_folder_with_only_unlabeled_images_is_an_unlabeled_only_dataset(tmp_path):
    root = tmp_path / "night"
    images, _, rows = cf.digits(12, seed=4)
    cf.write_pngs(images, rows, str(root / "unlabeled"))

    result = translate_and_read(TranslationConfig(format="image_folder", path=str(root)), str(tmp_path / "o"))
    content = result.content

    assert content.task == "classification" and content.class_names == []
    assert list(content.splits) == ["unlabeled"] and content.split_count("unlabeled") == 12
    assert translation.split_names(content) == ["unlabeled"]
    assert sorted(os.listdir(result.examples_dir)) == ["Split-unlabeled"]
    assert {example.split for example in result.examples.values()} == {"unlabeled"}
    assert content.warnings and content.warnings[0].startswith("unlabeled only: 12 images")
    with pytest.raises(ValueError, match="no labeled images"):
        data_spec.check_trainable(content)


def test_folder_with_nothing_usable_is_still_refused(tmp_path):
    (tmp_path / "data" / "unlabeled").mkdir(parents=True)
    (tmp_path / "data" / "unlabeled" / "a.png").write_bytes(b"x")
    config = TranslationConfig(format="image_folder", path=str(tmp_path / "data"), include_unlabeled=False)
    with pytest.raises(ValueError, match="has no class folders"):
        translation.translate(config, str(tmp_path / "e"), str(tmp_path / "d"))


def test_nine_big_images_among_small_ones_do_not_set_the_training_size(tmp_path):
    root = tmp_path / "data"
    _digit_folder(str(root), count=40)
    for index in range(9):
        big = np.full((400, 600), 30 * index, np.uint8)  # 600 wide, 400 high
        (root / str(index % 3)).mkdir(exist_ok=True)
        (root / str(index % 3) / f"big_{index}.png").write_bytes(encode_png(big))

    content = translate_and_read(TranslationConfig(format="image_folder", path=str(root)), str(tmp_path / "o")).content

    assert content.height.maximum == 400 and content.width.maximum == 600
    assert content.height.median == 28 and content.width.median == 28
    assert content.image_size == [28, 28]
    assert examples_io.default_image_size(content) == (28, 28)
    assert content.common_sizes == [[28, 28, 40], [400, 600, 9]]
    assert "of 49 images, 40 are 28x28, 9 are 600x400" in content.image_size_reason
    assert "image_size: [28, 28]" in content.image_size_reason
    assert content.image_size_reason in content.warnings
    written = data_spec.read_data_spec(os.path.join(tmp_path, "o", "data_spec"))
    assert written.image_size == [28, 28]


def test_uniform_sizes_say_so_and_old_data_specs_fall_back():
    size, reason = data_spec.choose_image_size([[28, 28, 10]], (28, 28), 10)
    assert size == [28, 28] and reason == "all 10 images are 28x28 (width x height)."
    old = data_spec.DataSpecContent.from_json(
        '{"task": "classification", "class_names": ["a"], "channels": 1, "source_format": "csv",'
        ' "height": {"minimum": 8, "maximum": 50, "mean": 20.0}, "width": {"minimum": 8, "maximum": 40, "mean": 9.0}}'
    )
    assert examples_io.default_image_size(old) == (50, 40)
    old.height.median, old.width.median = 10, 12
    assert examples_io.default_image_size(old) == (10, 12)


def _spec(per_split, class_names=("a", "b"), task="classification"):
    splits = {
        split: data_spec.SplitStats(count=sum(counts.values()), per_class=dict(counts))
        for split, counts in per_split.items()
    }
    content = data_spec.DataSpecContent(
        task=task, class_names=list(class_names), channels=1, source_format="image_folder", splits=splits
    )
    content.warnings = data_spec.data_warnings(content)
    return content


def test_single_class_and_one_class_train_splits_are_refused_with_one_line():
    single = _spec({"train": {"a": 250}, "eval": {"a": 2}}, class_names=["a"])
    with pytest.raises(ValueError, match=r"single-class classification dataset \(classes \['a'\]\)") as error:
        data_spec.check_trainable(single)
    assert "\n" not in str(error.value)
    assert single.warnings[0].startswith("single-class classification")
    one_class_train = _spec({"train": {"a": 30}, "eval": {"a": 2, "b": 3}})
    with pytest.raises(ValueError, match=r"train split has images of only 1 class"):
        data_spec.check_trainable(one_class_train)
    with pytest.raises(ValueError, match="eval split is empty"):
        data_spec.check_trainable(_spec({"train": {"a": 3, "b": 3}, "eval": {}}))
    # Counts a hand-made DataSpec does not hold are unknown, not zero: not refused.
    data_spec.check_trainable(_spec({"train": {"a": 3, "b": 3}}))
    data_spec.check_trainable(_spec({}))
    data_spec.check_trainable(_spec({"train": {"a": 3, "b": 3}, "eval": {"a": 1, "b": 1}}))
    # One label is a valid multilabel (yes/no) problem.
    data_spec.check_trainable(_spec({"train": {"a": 3}, "eval": {"a": 1}}, class_names=["a"], task="multilabel"))


def test_tiny_eval_split_is_flagged_with_its_noise():
    tiny = _spec({"train": {"a": 300, "b": 300}, "eval": {"a": 30, "b": 31}})
    assert any("tiny eval split: 61 images" in warning and "+/-13 pp" in warning for warning in tiny.warnings)
    big = _spec({"train": {"a": 300, "b": 300}, "eval": {"a": 100, "b": 100}})
    assert big.warnings == []


def test_leakage_and_size_summaries_do_not_depend_on_how_work_is_split():
    groups = [
        (1, [("train", "a.png"), ("eval", "b.png")]),
        (2, [("train", "c.png"), ("train", "d.png")]),
        (3, [("unlabeled", "e.png"), ("test", "f.png")]),
        (2**64 - 1, [("test", "g.png"), ("eval", "h.png"), ("train", "i.png")]),
        (5, [("train", "only.png")]),
    ]
    items = [(digest, split, source) for digest, copies in groups for split, source in copies]
    one = combine_in_parts(leakage.LeakageFn(), items, 1)
    assert one == combine_in_parts(leakage.LeakageFn(), items, 3)
    assert one == combine_in_parts(leakage.LeakageFn(), items[::-1], 2)
    assert one["examples"] == [["b.png", "a.png"], ["h.png", "g.png", "i.png"]]
    assert one["images_in_several_splits"] == 2 and one["records_involved"] == 5
    assert one["split_pairs"] == {"eval+test": 1, "eval+train": 2, "test+train": 1}
    assert one["duplicate_records"] == 5
    events = [(stats.WRITTEN, ("train", ["a"], h, w, 0)) for h, w in [(28, 28)] * 5 + [(400, 600)] * 2]
    events += [(stats.REJECTED, "link"), (stats.REJECTED, None)]
    summary = combine_in_parts(stats.SummaryFn(), events, 1)
    assert summary == combine_in_parts(stats.SummaryFn(), events, 4)
    assert summary["sizes"] == [[28, 28, 5], [400, 600, 2]]
    assert summary["rejected_by_stage"] == {"link": 1, "unknown": 1}
    assert stats.histogram_median(summary["height_histogram"]) == 28
    assert stats.histogram_median([["3", 1], ["1", 1]]) == 1 and stats.histogram_median([]) == 0
