"""A build folder's files: JSON written durably, checksums, and the manifest that lists them.

The one place that reads and writes them for the builder (writing), the store (loading), reused
sentence spans (index/previous.py) and the story history (index/versions.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from index.errors import IndexCorrupt, IndexNotBuilt

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB blocks (FAISS files run to hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Compact UTF-8 JSON, on disk (fsync) before the build is swapped in."""
    with Path(path).open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())


def read_json(path: Path) -> Any:
    """A JSON file's contents (OSError / ValueError for the caller to word)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def manifest_or_none(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None when it has no readable one."""
    try:
        manifest = read_json(Path(folder) / MANIFEST)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the index (or build) at `folder`, or IndexNotBuilt / IndexCorrupt."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise IndexNotBuilt(f"no index at {folder}; run `storybot index` to build it")
    try:
        manifest = read_json(path)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"the index manifest at {path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"the index manifest at {path} is not a JSON object")
    return manifest
