"""One reader module per source format, each with `plan(config)` and `read(config, shard)`.

`plan` runs once when the pipeline is built: it fails fast on configuration
errors (missing path, no images, unparseable class list) and returns small
shards. `read` runs inside Beam on one shard and yields SourceRecords (no
pixels) or Rejections, so no reader ever holds the images.
"""

from __future__ import annotations

import importlib
from typing import Iterator

from components.data_translation import spec
from components.data_translation.readers.common import ReaderPlan

_MODULES = {
    spec.IMAGE_FOLDER: "image_folder",
    spec.CSV: "csv_labels",
    spec.COCO: "coco",
    spec.VOC: "voc",
    spec.YOLO: "yolo",
    spec.TFOD: "tfod",
    spec.VERTEX: "vertex",
}


def _module(fmt: str):
    if fmt not in _MODULES:
        raise ValueError(f"Unknown data format {fmt!r}; expected one of {tuple(_MODULES)}.")
    return importlib.import_module(f"{__name__}.{_MODULES[fmt]}")


def plan(config: spec.TranslationConfig) -> ReaderPlan:
    return _module(config.format).plan(config)


def read(config: spec.TranslationConfig, shard) -> Iterator:
    return _module(config.format).read(config, shard)
