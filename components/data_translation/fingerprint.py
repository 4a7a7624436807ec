"""A fingerprint of the source data, so a cached translation is reused only for unchanged data.

TFX caches an execution by its exec properties and inputs; DataTranslation's
are the config (the data's path), so without this a run after images were
added to the same folder would reuse the old examples. The fingerprint
covers every file's relative path, size and modification time (no contents:
a 100k-image folder fingerprints in about a second). Remote sources
(gs://, ...) get None: they are listed on the cluster, not where the pipeline
is built, and caching there is the orchestrator's decision.
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterable, Optional


def _entries(path: str) -> Iterable[str]:
    if os.path.isfile(path):
        stat = os.stat(path)
        yield f"{os.path.basename(path)}\t{stat.st_size}\t{stat.st_mtime_ns}"
        return
    for directory, subdirectories, files in os.walk(path, followlinks=False):
        subdirectories.sort()
        for name in sorted(files):
            full = os.path.join(directory, name)
            try:
                stat = os.stat(full)
            except OSError:  # a dangling link: translation rejects it by name
                yield f"{os.path.relpath(full, path)}\tmissing"
                continue
            yield f"{os.path.relpath(full, path)}\t{stat.st_size}\t{stat.st_mtime_ns}"


def source_fingerprint(*paths: Optional[str]) -> Optional[str]:
    """16 hex digits over the listed local files and folders; None when any path is remote or missing."""
    digest = hashlib.sha256()
    for path in paths:
        if not path:
            continue
        if "://" in path or not os.path.exists(path):
            return None
        digest.update(f"#{path}\n".encode())
        for entry in _entries(path):
            digest.update(entry.encode() + b"\n")
    return digest.hexdigest()[:16]
