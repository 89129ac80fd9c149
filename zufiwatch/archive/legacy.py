"""The archive layout before issue 19, read as it is: one gzip file per payload under
``objects/ab/<sha256>.gz`` and one gzip file of JSON lines per crawl
(``crawls/<source>/<stamp>-<crawl>.jsonl.gz``). Nothing is written in this layout any more.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ArchiveError

__all__ = ["SUFFIX", "newest_manifest", "object_path", "read_manifest", "read_object"]

#: The name ending of a manifest in this layout.
SUFFIX = ".jsonl.gz"


def object_path(root: Path, digest: str) -> Path:
    return root / "objects" / digest[:2] / f"{digest}.gz"


def read_object(root: Path, digest: str) -> bytes | None:
    """The payload with this SHA-256, ``None`` when there is no such file."""
    path = object_path(root, digest)
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"payload {digest} in {path} cannot be read: {exc}") from exc


def read_manifest(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
    except (OSError, EOFError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"manifest {path} cannot be read: {exc}") from exc


def newest_manifest(root: Path, source: str) -> Path | None:
    """The manifest of the last crawl of ``source`` in this layout (by its stamp)."""
    folder = root / "crawls" / source
    found = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    return found[-1] if found else None
