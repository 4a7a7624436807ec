"""Image folders: `root/<class>/*.png`, optionally under `root/train|val|test/`.

Images in the configured unlabeled directory (`root/unlabeled/`, or
`root/<split>/unlabeled/`) are unlabeled. Class names are the folder names
(sorted) unless `class_list` fixes them.
"""

from __future__ import annotations

import os
from typing import Iterator, List, Optional, Tuple

from components.data_translation.readers import common
from components.data_translation.records import Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig

# (directory, class name or None for unlabeled, source split or None)
Shard = Tuple[str, Optional[str], Optional[str]]


def _split_layout(names: List[str], unlabeled_dir: str) -> bool:
    split_names = [name for name in names if name != unlabeled_dir]
    return bool(split_names) and all(common.canonical_split(name) for name in split_names) and any(
        common.canonical_split(name) == "train" for name in split_names
    )


def _class_shards(directory: str, split: Optional[str], config: TranslationConfig) -> List[Shard]:
    shards = []
    for name in common.subdirectories(directory):
        if name == config.unlabeled_dir:
            if config.include_unlabeled:
                shards.append((os.path.join(directory, name), None, None))
        else:
            shards.append((os.path.join(directory, name), name, split))
    return shards


def plan(config: TranslationConfig) -> common.ReaderPlan:
    root = config.path
    common.require_exists(root, "Image folder")
    top = common.subdirectories(root)
    if _split_layout(top, config.unlabeled_dir):
        shards = []
        for name in top:
            split = common.canonical_split(name) if config.honor_source_splits else None
            if name == config.unlabeled_dir:
                if config.include_unlabeled:
                    shards.append((os.path.join(root, name), None, None))
            else:
                shards += _class_shards(os.path.join(root, name), split, config)
    else:
        shards = _class_shards(root, None, config)
    labeled = [shard for shard in shards if shard[1] is not None]
    if not labeled:
        raise ValueError(
            f"Image folder {root} has no class folders (expected {root}/<class>/<image> or "
            f"{root}/train/<class>/<image>); found {top}."
        )
    if not any(common.list_dir(directory) for directory, _, _ in shards):
        raise ValueError(f"Image folder {root} has class folders but no images.")
    class_names = common.read_class_list(config.class_list) or tuple(sorted({shard[1] for shard in labeled}))
    return common.ReaderPlan(shards=tuple(shards), class_names=class_names)


def read(config: TranslationConfig, shard: Shard) -> Iterator[SourceRecord | Rejection]:
    directory, class_name, split = shard
    for relative in common.walk_files(directory):
        path = os.path.join(directory, relative)
        source_id = os.path.relpath(path, config.path)
        if not common.is_image_file(relative):
            yield Rejection(source=path, record=source_id, reason="not an image file (unknown extension)")
            continue
        yield SourceRecord(
            source_id=source_id,
            origin=path,
            image_path=path,
            labels=None if class_name is None else (class_name,),
            split=split,
        )
