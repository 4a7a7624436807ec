"""COCO JSON: boxes (detection) and polygon/RLE segmentations (semantic masks).

`path` is the images directory, `annotations` the JSON file. Class names are
the categories sorted by id (segmentation: "background" first, so mask value k
is class k). An image without annotations is a labeled negative (COCO lists
exhaustively annotated images). The JSON is one document: if it does not parse,
nothing can be read and the run fails fast; bad entries inside it are rejected
one by one.
"""

from __future__ import annotations

import collections
import json
from typing import Any, Dict, Iterator, List, Tuple

from augment_ops import box_formats
from components.data_translation.readers import common
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig
from components.types import features

BACKGROUND = "background"


def load(path: str) -> Dict[str, Any]:
    common.require_exists(path, "COCO annotations")
    try:
        data = json.loads(common.read_text(path))
    except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8.
        raise ValueError(f"COCO annotations {path} are not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"COCO annotations {path} have no 'images' list.")
    if not isinstance(data.get("categories"), list) or not data["categories"]:
        raise ValueError(f"COCO annotations {path} have no 'categories' list.")
    return data


def _categories(data: Dict[str, Any], path: str) -> Dict[Any, str]:
    try:
        return {category["id"]: str(category["name"]) for category in data["categories"]}
    except (KeyError, TypeError) as error:
        raise ValueError(f"COCO annotations {path}: a category lacks id/name ({error}).") from None


def plan(config: TranslationConfig) -> common.ReaderPlan:
    common.require_exists(config.path, "COCO images directory")
    data = load(config.annotations)
    if not data["images"]:
        raise ValueError(f"COCO annotations {config.annotations} list no images.")
    categories = _categories(data, config.annotations)
    class_names = common.read_class_list(config.class_list)
    if class_names is None:
        class_names = tuple(categories[key] for key in sorted(categories))
        if config.task == features.TASK_SEGMENTATION:
            class_names = (BACKGROUND,) + class_names
    return common.ReaderPlan(shards=(config.annotations,), class_names=class_names)


def _check_annotation(annotation: Dict[str, Any], categories: Dict[Any, str], task: str) -> str:
    """Raises ValueError naming the problem; returns the class name."""
    if annotation.get("category_id") not in categories:
        raise ValueError(f"names unknown category id {annotation.get('category_id')!r}")
    if task == features.TASK_DETECTION:
        bbox = annotation.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
            raise ValueError(f"malformed bbox {bbox!r} (expected [x, y, width, height])")
    elif not annotation.get("segmentation"):
        raise ValueError("has no segmentation")
    return categories[annotation["category_id"]]


def _image_record(config, path, image, annotations, categories) -> SourceRecord:
    for key in ("id", "file_name", "height", "width"):
        if key not in image:
            raise ValueError(f"malformed image entry: missing {key!r}")
    names: List[str] = []
    for annotation in annotations:
        try:
            names.append(_check_annotation(annotation, categories, config.task))
        except ValueError as error:
            raise ValueError(f"annotation {annotation.get('id')!r} {error}") from None
    file_name = str(image["file_name"])
    record = dict(
        source_id=file_name,
        origin=f"{path}#image id {image['id']}",
        image_path=common.resolve(config.path, file_name),
        annotated_size=(int(image["height"]), int(image["width"])),
    )
    if config.task == features.TASK_DETECTION:
        boxes = tuple(tuple(float(v) for v in annotation["bbox"]) for annotation in annotations)
        return SourceRecord(**record, boxes=boxes, box_labels=tuple(names), box_format=box_formats.COCO)
    polygons = tuple((name, annotation["segmentation"]) for name, annotation in zip(names, annotations))
    return SourceRecord(**record, polygons=polygons)


def read(config: TranslationConfig, shard: str) -> Iterator[SourceRecord | Rejection]:
    data = load(shard)
    categories = _categories(data, shard)
    images: Dict[Any, Tuple[int, Dict[str, Any]]] = {}
    for index, image in enumerate(data["images"]):
        key = image.get("id") if isinstance(image, dict) else None
        images[key if key is not None else ("index", index)] = (index, image)
    by_image = collections.defaultdict(list)
    for index, annotation in enumerate(data.get("annotations") or []):
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if image_id not in images:
            record = f"annotation id {annotation.get('id') if isinstance(annotation, dict) else index}"
            yield Rejection(source=shard, record=record, reason=f"annotation names unknown image id {image_id!r}")
            continue
        by_image[image_id].append(annotation)
    del data
    for key, (index, image) in images.items():
        if not isinstance(image, dict):
            yield Rejection(source=shard, record=f"image index {index}", reason="malformed image entry: not an object")
            continue
        try:
            yield _image_record(config, shard, image, by_image.pop(key, []), categories)
        except (ValueError, TypeError) as error:
            yield Rejection(source=shard, record=f"image id {image.get('id', index)!r}", reason=str(error))
