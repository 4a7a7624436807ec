"""Each bad record is rejected with its file/record and reason; counts reconcile; good records still land."""

import io

import numpy as np
import pytest
from PIL import Image

from components.data_translation import images
from components.data_translation.spec import TranslationConfig
from tests.fixtures import bad_inputs
from tests.fixtures.readback import translate_and_read


def _assert_rejections(result, good, expected):
    """Each expected (source suffix, record, reason) matches exactly one rejection; nothing else was rejected."""
    content = result.content
    assert content.records_written == good == len(result.examples)
    assert content.records_rejected == len(expected) == len(result.rejections), result.rejections
    assert content.records_read == content.records_written + content.records_rejected
    unmatched = list(result.rejections)

    def matches_expected(found, source, record, reason):
        same_record = record is None or found["record"] == record
        return found["source"].endswith(source) and same_record and reason in found["reason"]

    for source, record, reason in expected:
        matches = [found for found in unmatched if matches_expected(found, source, record, reason)]
        assert len(matches) == 1, f"no rejection {(source, record, reason)} in {unmatched}"
        unmatched.remove(matches[0])
    assert all(found["stage"] in ("read", "decode", "build") for found in result.rejections)


def test_bad_images_in_folders(tmp_path):
    good, expected = bad_inputs.bad_image_folder(str(tmp_path / "folder"))
    config = TranslationConfig(format="image_folder", path=str(tmp_path / "folder"), convert_channels=False)
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_rejections(result, good, expected)
    assert result.content.channels == 1  # The majority; the RGB minority was rejected (strict mode).
    assert not result.content.channels_converted
    assert result.content.rejected_report.startswith(result.data_spec_dir)


def test_mixed_channels_convert_by_default_counted_and_warned(tmp_path):
    root = tmp_path / "folder"
    for index in range(3):
        (root / "x").mkdir(parents=True, exist_ok=True)
        (root / "x" / f"rgb{index}.png").write_bytes(bad_inputs.image_bytes(mode="RGB", seed=index))
    (root / "x" / "gray.png").write_bytes(bad_inputs.image_bytes(mode="L", seed=9))
    (root / "x" / "alpha.png").write_bytes(bad_inputs.image_bytes(mode="RGBA", seed=8))
    bitmap = bad_inputs.image_bytes(mode="RGB", fmt="BMP", seed=4)
    (root / "x" / "bitmap.bmp").write_bytes(bitmap)
    config = TranslationConfig(format="image_folder", path=str(root))  # convert_channels defaults to true
    result = translate_and_read(config, str(tmp_path / "out"))
    assert result.content.records_written == 6 and result.content.channels == 3
    assert result.content.records_rejected == 0
    assert result.content.channels_converted == {"1": 1, "4": 1}  # the gray and the alpha image, nothing else
    warning = [line for line in result.content.warnings if line.startswith("channels converted")]
    assert warning and "2 images" in warning[0] and "1 grayscale, 1 colour + alpha" in warning[0]
    assert "alpha dropped" in warning[0]
    for example in result.examples.values():
        assert example.channels == 3 and example.image.shape == (24, 32, 3)
    converted = result.examples["x/bitmap.bmp"]
    assert converted.encoded.startswith(b"\x89PNG")  # BMP is not PNG/JPEG: re-encoded, pixels unchanged.
    np.testing.assert_array_equal(converted.image, np.asarray(Image.open(io.BytesIO(bitmap))))
    assert result.examples["x/rgb0.png"].encoded == bad_inputs.image_bytes(mode="RGB", seed=0)  # PNG kept.
    gray = result.examples["x/gray.png"].image
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])  # Gray copied into all three channels.


def test_bad_csv_rows(tmp_path):
    path, good, expected = bad_inputs.bad_csv(str(tmp_path / "csv"))
    config = TranslationConfig(format="csv", path=path, class_list=("cat", "dog"))
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_rejections(result, good, expected)
    assert result.content.class_names == ["cat", "dog"]


def test_bad_coco_entries(tmp_path):
    paths, good, expected = bad_inputs.bad_coco(str(tmp_path / "coco"))
    config = TranslationConfig(format="coco", path=paths["images"], annotations=paths["annotations"], task="detection")
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_rejections(result, good, expected)
    negative = result.examples["empty_negative.png"]
    assert negative.boxes.shape == (0, 4) and negative.split != "unlabeled"
    np.testing.assert_allclose(result.examples["good2.png"].boxes[0], [0, 0, 1, 1])
    np.testing.assert_allclose(result.examples["good1.png"].boxes[1], [2 / 24, 2 / 32, 12 / 24, 1.0])  # Clipped.


def test_bad_voc_annotations(tmp_path):
    good, expected = bad_inputs.bad_voc(str(tmp_path / "voc"))
    config = TranslationConfig(format="voc", path=str(tmp_path / "voc"), task="detection")
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_rejections(result, good, expected)
    assert result.examples["JPEGImages/unannotated.jpg"].split == "unlabeled"
    assert result.content.class_names == ["cat"]


def test_bad_yolo_labels(tmp_path):
    good, expected = bad_inputs.bad_yolo(str(tmp_path / "yolo"))
    config = TranslationConfig(format="yolo", path=str(tmp_path / "yolo"), task="detection")
    result = translate_and_read(config, str(tmp_path / "out"))
    _assert_rejections(result, good, expected)
    assert result.examples["images/empty.png"].boxes.shape == (0, 4)


def test_bad_and_truncated_tfod_records(tmp_path):
    path, good, expected = bad_inputs.bad_tfod(str(tmp_path / "tfod"))
    result = translate_and_read(TranslationConfig(format="tfod", path=path, task="detection"), str(tmp_path / "out"))
    _assert_rejections(result, good, expected)


def test_bad_vertex_lines(tmp_path):
    path, good, expected = bad_inputs.bad_vertex_jsonl(str(tmp_path / "jsonl"))
    result = translate_and_read(TranslationConfig(format="vertex", path=path), str(tmp_path / "jsonl_out"))
    _assert_rejections(result, good, expected)
    assert result.examples["b.png"].split == "train"
    path, good, expected = bad_inputs.bad_vertex_detection_csv(str(tmp_path / "csv"))
    config = TranslationConfig(format="vertex", path=path, task="detection")
    result = translate_and_read(config, str(tmp_path / "csv_out"))
    _assert_rejections(result, good, expected)
    np.testing.assert_allclose(result.examples["a.png"].boxes, [[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.7, 0.6]], atol=1e-6)


def test_mask_checks_name_the_problem():
    palette = bad_inputs.image_bytes(mode="L")
    with pytest.raises(images.RecordError, match="unknown class ids"):
        images.check_mask(palette, num_classes=3, size=(24, 32))
    with pytest.raises(images.RecordError, match="mask is 32x24 but the image is 10x10"):
        images.check_mask(palette, num_classes=256, size=(10, 10))
    with pytest.raises(images.RecordError, match="palette or grayscale"):
        images.check_mask(bad_inputs.image_bytes(mode="RGB"), num_classes=256, size=(24, 32))
    with pytest.raises(images.RecordError, match="unknown class 'ghost'"):
        images.rasterize([("ghost", [[0, 0, 4, 0, 4, 4]])], {"background": 0}, (8, 8))
    with pytest.raises(images.RecordError, match="malformed polygon"):
        images.rasterize([("thing", [[0, 0, 4]])], {"thing": 1}, (8, 8))
