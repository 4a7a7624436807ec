"""Image folders: `root/<class>/*.png`, optionally under `root/train|val|test/`.

Images in the configured unlabeled directory (`root/unlabeled/`, or
`root/<split>/unlabeled/`) are unlabeled. Class names are the folder names
(sorted) unless `class_list` fixes them. A folder with only `unlabeled/`
(a domain-adaptation target, docs/semi_supervised.md) is an unlabeled-only
dataset: its one split is `unlabeled` and its class list may be empty.

Links to directories are never followed (they can loop, or reach the same
images again under another class or split); each is rejected by name, so the
counts still reconcile. File links are read, and the pipeline keeps one
record per real file.
"""

from __future__ import annotations

import logging
import os
from typing import Iterator, List, Optional, Tuple

from components.data_translation.readers import common
from components.data_translation.records import STAGE_LINK, Rejection, SourceRecord
from components.data_translation.spec import TranslationConfig

# (directory, class name or None for unlabeled, source split or None, reason the directory
# is skipped or None). A shard with a reason is a directory link: read() rejects it.
Shard = Tuple[str, Optional[str], Optional[str], Optional[str]]


def _split_layout(root: str, names: List[str], unlabeled_dir: str) -> bool:
    """Whether the top folders are splits (`train/ val/ test/ [unlabeled/]`, each holding class folders).

    Every non-unlabeled folder must be named like a split; then a `train/` split, an `unlabeled/` folder beside
    them (a domain-adaptation target: `unlabeled/ val/ test/`), or class folders inside every one of them tell
    splits from classes that happen to be named `test`.
    """
    split_names = [name for name in names if name != unlabeled_dir]
    if not split_names or not all(common.canonical_split(name) for name in split_names):
        return False
    if any(common.canonical_split(name) == "train" for name in split_names) or unlabeled_dir in names:
        return True
    return all(common.subdirectories(os.path.join(root, name)) for name in split_names)


def _link_shards(directory: str) -> List[Shard]:
    return [
        (os.path.join(directory, name), None, None, common.directory_link_reason(os.path.join(directory, name)))
        for name in common.directory_links(directory)
    ]


def _class_shards(directory: str, split: Optional[str], config: TranslationConfig) -> List[Shard]:
    shards = []
    for name in common.subdirectories(directory):
        if name == config.unlabeled_dir:
            if config.include_unlabeled:
                shards.append((os.path.join(directory, name), None, None, None))
        else:
            shards.append((os.path.join(directory, name), name, split, None))
    return shards + _link_shards(directory)


def plan(config: TranslationConfig) -> common.ReaderPlan:
    root = config.path
    common.require_exists(root, "Image folder")
    top = common.subdirectories(root)
    if _split_layout(root, top, config.unlabeled_dir):
        shards = _link_shards(root)
        for name in top:
            split = common.canonical_split(name) if config.honor_source_splits else None
            if name == config.unlabeled_dir:
                if config.include_unlabeled:
                    shards.append((os.path.join(root, name), None, None, None))
            else:
                shards += _class_shards(os.path.join(root, name), split, config)
    else:
        shards = _class_shards(root, None, config)
    readable = [shard for shard in shards if shard[3] is None]
    labeled = [shard for shard in readable if shard[1] is not None]
    unlabeled_only = not labeled and any(shard[1] is None for shard in readable)
    if not labeled and not unlabeled_only:
        links = common.directory_links(root)
        raise ValueError(
            f"Image folder {root} has no class folders (expected {root}/<class>/<image>, "
            f"{root}/train/<class>/<image>, or {root}/{config.unlabeled_dir}/<image> for unlabeled images only); "
            f"found {top}" + (f" and directory links {links}, which are not followed." if links else ".")
        )
    if not any(common.list_dir(directory) for directory, _, _, _ in readable):
        raise ValueError(f"Image folder {root} has class folders but no images.")
    class_names = common.read_class_list(config.class_list) or tuple(sorted({shard[1] for shard in labeled}))
    if unlabeled_only:
        logging.info(
            "DataTranslation: %s has only %s/ (no class folders): an unlabeled-only dataset, e.g. a "
            "domain-adaptation target.", root, config.unlabeled_dir,
        )
    return common.ReaderPlan(shards=tuple(shards), class_names=class_names)


def read(config: TranslationConfig, shard: Shard) -> Iterator[SourceRecord | Rejection]:
    directory, class_name, split, skip_reason = shard
    if skip_reason is not None:
        record = os.path.relpath(directory, config.path)
        yield Rejection(source=directory, record=record, reason=skip_reason, stage=STAGE_LINK)
        return
    listing = common.walk(directory)
    for relative, reason in listing.skipped_links:
        path = os.path.join(directory, relative)
        record = os.path.relpath(path, config.path)
        yield Rejection(source=path, record=record, reason=reason, stage=STAGE_LINK)
    if listing.skipped_links:
        logging.warning(
            "DataTranslation: %d directory link(s) under %s not followed (listed in the rejected report).",
            len(listing.skipped_links), directory,
        )
    for relative in listing.files:
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
