"""Helpers every reader shares: file listing, class lists, split names, the plan."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, List, Optional, Sequence, Tuple

import tensorflow as tf
import yaml

from components.types import features

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

_SPLIT_ALIASES = {
    "train": features.TRAIN_SPLIT,
    "training": features.TRAIN_SPLIT,
    "val": features.EVAL_SPLIT,
    "valid": features.EVAL_SPLIT,
    "validation": features.EVAL_SPLIT,
    "eval": features.EVAL_SPLIT,
    "test": features.TEST_SPLIT,
    "testing": features.TEST_SPLIT,
}


@dataclasses.dataclass(frozen=True)
class ReaderPlan:
    """What a reader decided before the pipeline runs.

    Attributes:
      shards: small picklable work items; `read(config, shard)` runs on each
        inside Beam, so listing and parsing happen on the workers.
      class_names: the class list when the source fixes it (folder names,
        COCO categories, a class file); None lets the pipeline collect it.
    """

    shards: Tuple[Any, ...]
    class_names: Optional[Tuple[str, ...]] = None


def canonical_split(name: Optional[str]) -> Optional[str]:
    """Source split names (training, val, ...) -> train/eval/test, or None."""
    if name is None:
        return None
    return _SPLIT_ALIASES.get(str(name).strip().lower())


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_hidden(name: str) -> bool:
    return os.path.basename(name.rstrip("/")).startswith(".")


def resolve(base_dir: str, path: str) -> str:
    """Paths in annotation files are relative to the annotation file's directory."""
    path = path.strip()
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def is_remote(path: str) -> bool:
    """Object-store URIs (gs://, s3://, ...) have no symbolic links; local paths may."""
    return "://" in path


def is_link(path: str) -> bool:
    return not is_remote(path) and os.path.islink(path)


def real_path(path: str) -> str:
    """The file a path finally names (links resolved); remote URIs are their own real path."""
    return path if is_remote(path) else os.path.realpath(path)


def list_dir(directory: str) -> List[str]:
    """Sorted entry names (directories end without '/'), hidden entries skipped."""
    return sorted(name.rstrip("/") for name in tf.io.gfile.listdir(directory) if not is_hidden(name))


def directory_link_reason(path: str) -> str:
    """Why the walk does not enter the directory link at `path` (a line for the rejected report)."""
    target = os.path.realpath(path)
    return (
        f"directory link not followed ({path} -> {target}): links can loop or reach images twice; "
        "copy or bind-mount the folder instead"
    )


def subdirectories(directory: str) -> List[str]:
    """Sub-directory names; links to directories are left out (see `directory_links`)."""
    return [
        name
        for name in list_dir(directory)
        if tf.io.gfile.isdir(os.path.join(directory, name)) and not is_link(os.path.join(directory, name))
    ]


def directory_links(directory: str) -> List[str]:
    """Names of the entries of `directory` that are links to directories (never walked)."""
    if is_remote(directory):
        return []
    return [name for name in list_dir(directory) if is_link(os.path.join(directory, name)) and
            os.path.isdir(os.path.join(directory, name))]


@dataclasses.dataclass
class Walk:
    """What a walk of one directory found.

    Attributes:
      files: non-hidden files, as sorted paths relative to the directory.
        File links are listed (the pipeline keeps one record per real file).
      skipped_links: (relative path, reason) of directory links not followed.
    """

    files: List[str]
    skipped_links: List[Tuple[str, str]]


def walk(directory: str) -> Walk:
    """Lists the files under `directory` without following directory links.

    A link to a directory (`data/3/loop -> .`) is never entered: following it
    can loop (TF's walk follows links up to the OS limit) and reaches images a
    second time, under another class or split. Such links are reported in
    `skipped_links` so the caller can reject them by name. Object stores have
    no links; their listing goes through tf.io.gfile.
    """
    if is_remote(directory):
        found = []
        for root, dirs, files in tf.io.gfile.walk(directory):
            dirs[:] = [name for name in dirs if not is_hidden(name)]
            relative_root = os.path.relpath(root, directory)
            found += [os.path.normpath(os.path.join(relative_root, name)) for name in files if not is_hidden(name)]
        return Walk(sorted(found), [])
    files: List[str] = []
    skipped: List[Tuple[str, str]] = []
    pending = [""]
    while pending:
        relative_root = pending.pop()
        with os.scandir(os.path.join(directory, relative_root)) as entries:
            for entry in entries:
                if is_hidden(entry.name):
                    continue
                relative = os.path.join(relative_root, entry.name) if relative_root else entry.name
                if entry.is_symlink() and os.path.isdir(entry.path):
                    skipped.append((relative, directory_link_reason(entry.path)))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(relative)
                else:
                    files.append(relative)
    return Walk(sorted(files), sorted(skipped))


def walk_files(directory: str) -> List[str]:
    """All non-hidden files under `directory`, as sorted relative paths; directory links are not followed."""
    result = walk(directory)
    if result.skipped_links:
        logging.warning(
            "%d directory link(s) under %s not followed: %s", len(result.skipped_links), directory,
            [path for path, _ in result.skipped_links[:5]],
        )
    return result.files


def read_text(path: str) -> str:
    with tf.io.gfile.GFile(path, "r") as handle:
        return handle.read()


def read_class_list(class_list: Optional[str | Sequence[str]]) -> Optional[Tuple[str, ...]]:
    """Class names from a sequence, a text file (one per line) or a YAML file with `names`."""
    if class_list is None:
        return None
    if not isinstance(class_list, str):
        return tuple(class_list)
    text = read_text(class_list)
    if class_list.lower().endswith((".yaml", ".yml")):
        names = (yaml.safe_load(text) or {}).get("names")
        if isinstance(names, dict):  # Ultralytics {id: name}.
            names = [names[key] for key in sorted(names, key=int)]
        if not isinstance(names, list) or not names:
            raise ValueError(f"Class list {class_list} has no 'names' list.")
        return tuple(str(name) for name in names)
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise ValueError(f"Class list {class_list} is empty.")
    if len(set(names)) != len(names):
        raise ValueError(f"Class list {class_list} has duplicate names.")
    return names


def require_exists(path: str, what: str) -> None:
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{what} {path} does not exist.")
