"""The source fingerprint keys the translation's cache: unchanged data, same key; any change, a new one."""

import os

from components.data_translation.fingerprint import source_fingerprint
from pipelines.autofit.dag import translation_config


def write(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def test_same_files_same_fingerprint_and_any_change_a_new_one(tmp_path):
    root = str(tmp_path / "images")
    write(os.path.join(root, "a", "1.png"))
    first = source_fingerprint(root)
    assert first == source_fingerprint(root) and len(first) == 16
    write(os.path.join(root, "a", "2.png"))  # an image added to the same folder
    added = source_fingerprint(root)
    assert added != first
    write(os.path.join(root, "a", "2.png"), b"longer")  # an image replaced
    assert source_fingerprint(root) != added


def test_remote_or_missing_sources_have_no_fingerprint(tmp_path):
    assert source_fingerprint("gs://bucket/images") is None
    assert source_fingerprint(str(tmp_path / "absent")) is None


def test_the_pipeline_builder_puts_it_in_the_translation_config(tmp_path):
    root = str(tmp_path / "images")
    write(os.path.join(root, "a", "1.png"))
    config = translation_config({"format": "image_folder", "path": root})
    assert config.source_fingerprint == source_fingerprint(root)
