"""Pascal VOC: Annotations/*.xml boxes or SegmentationClass/*.png class masks.

Splits come from ImageSets/Main (detection) or ImageSets/Segmentation
(train.txt, val.txt, test.txt). Images in JPEGImages without an annotation are
unlabeled. Segmentation masks hold class ids (palette indices; 255 = ignore);
the class list defaults to the 21 VOC classes with background first.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from typing import Dict, Iterator, List, Optional, Tuple

import tensorflow as tf

from augment_ops import box_formats
from components.data_translation.readers import common
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig
from components.types import features

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
IMAGES_DIR, ANNOTATIONS_DIR, MASKS_DIR = "JPEGImages", "Annotations", "SegmentationClass"
SHARD_SIZE = 256

# (stem, image file name or None, annotation file name or None, split)
Item = Tuple[str, Optional[str], Optional[str], Optional[str]]


def _stems(directory: str, extensions: Tuple[str, ...]) -> Dict[str, str]:
    if not tf.io.gfile.isdir(directory):
        return {}
    return {
        os.path.splitext(name)[0]: name for name in common.list_dir(directory) if name.lower().endswith(extensions)
    }


def _source_splits(root: str, task: str) -> Dict[str, str]:
    folder = "Segmentation" if task == features.TASK_SEGMENTATION else "Main"
    splits = {}
    for name in ("train", "val", "test"):
        path = os.path.join(root, "ImageSets", folder, f"{name}.txt")
        if tf.io.gfile.exists(path):
            for line in common.read_text(path).splitlines():
                if line.strip():
                    splits.setdefault(line.split()[0], common.canonical_split(name))
    return splits


def plan(config: TranslationConfig) -> common.ReaderPlan:
    root = config.path
    common.require_exists(root, "VOC root")
    segmentation = config.task == features.TASK_SEGMENTATION
    annotation_dir = MASKS_DIR if segmentation else ANNOTATIONS_DIR
    annotations = _stems(os.path.join(root, annotation_dir), (".png",) if segmentation else (".xml",))
    if not annotations:
        raise ValueError(f"VOC root {root} has no {annotation_dir}/ files; task {config.task!r} needs them.")
    images = _stems(os.path.join(root, IMAGES_DIR), common.IMAGE_EXTENSIONS)
    splits = _source_splits(root, config.task) if config.honor_source_splits else {}
    items: List[Item] = [(stem, images.get(stem), name, splits.get(stem)) for stem, name in annotations.items()]
    if config.include_unlabeled:
        items += [(stem, name, None, None) for stem, name in images.items() if stem not in annotations]
    shards = tuple(tuple(items[start : start + SHARD_SIZE]) for start in range(0, len(items), SHARD_SIZE))
    class_names = common.read_class_list(config.class_list) or (VOC_CLASSES if segmentation else None)
    return common.ReaderPlan(shards=shards, class_names=class_names)


def _text(element: ElementTree.Element, path: str) -> str:
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise ValueError(f"missing <{path}>")
    return found.text.strip()


def parse_annotation(text: str) -> Tuple[Optional[str], Optional[Tuple[int, int]], List[Tuple[str, Tuple[float, ...]]]]:
    """VOC XML -> (filename, (height, width) or None, [(name, (xmin, ymin, xmax, ymax))])."""
    root = ElementTree.fromstring(text)
    filename = root.findtext("filename")
    size = None
    if root.find("size") is not None:
        size = (int(float(_text(root, "size/height"))), int(float(_text(root, "size/width"))))
    objects = []
    for index, item in enumerate(root.findall("object")):
        try:
            box = tuple(float(_text(item, f"bndbox/{key}")) for key in ("xmin", "ymin", "xmax", "ymax"))
            objects.append((_text(item, "name"), box))
        except ValueError as error:
            raise ValueError(f"object {index}: {error}") from None
    return (filename.strip() if filename else None), size, objects


def _detection_record(root: str, item: Item) -> SourceRecord:
    stem, image_name, annotation_name, split = item
    path = os.path.join(root, ANNOTATIONS_DIR, annotation_name)
    filename, size, objects = parse_annotation(common.read_text(path))
    image_name = filename or image_name or f"{stem}.jpg"
    return SourceRecord(
        source_id=f"{IMAGES_DIR}/{image_name}",
        origin=path,
        image_path=os.path.join(root, IMAGES_DIR, image_name),
        boxes=tuple(box for _, box in objects),
        box_labels=tuple(name for name, _ in objects),
        box_format=box_formats.VOC,
        annotated_size=size,
        split=split,
    )


def read(config: TranslationConfig, shard: Tuple[Item, ...]) -> Iterator[SourceRecord | Rejection]:
    root = config.path
    segmentation = config.task == features.TASK_SEGMENTATION
    for item in shard:
        stem, image_name, annotation_name, split = item
        if annotation_name is None:
            path = os.path.join(root, IMAGES_DIR, image_name)
            yield SourceRecord(source_id=f"{IMAGES_DIR}/{image_name}", origin=path, image_path=path)
        elif segmentation:
            mask_path = os.path.join(root, MASKS_DIR, annotation_name)
            if image_name is None:
                yield Rejection(mask_path, stem, f"annotation names unknown image: no {IMAGES_DIR}/{stem}.*")
                continue
            image_path = os.path.join(root, IMAGES_DIR, image_name)
            yield SourceRecord(
                f"{IMAGES_DIR}/{image_name}", mask_path, image_path, mask_path=mask_path, split=split
            )
        else:
            xml_path = os.path.join(root, ANNOTATIONS_DIR, annotation_name)
            try:
                yield _detection_record(root, item)
            except ElementTree.ParseError as error:
                yield Rejection(xml_path, stem, f"malformed XML: {error}")
            except ValueError as error:
                yield Rejection(xml_path, stem, f"malformed VOC annotation: {error}")
