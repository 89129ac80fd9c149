"""FROZEN COPY of the raw-payload archive as released before issue 19 (one gzip file per
payload, one .jsonl.gz manifest per crawl), kept to build archives the way an installed
zufiwatch did, so that tests can check that they are still read. Do not edit or fix: it is
evidence of the old layout. Imports are made absolute; nothing else changed.


Layout under the snapshots directory::

    objects/ab/abcdef….gz        one gzip file per distinct payload (SHA-256 of the bytes)
    crawls/<source>/<crawl>.jsonl.gz   the manifest of one crawl: one JSON line per
                                 payload (url, endpoint, sha256, key, parser version)

The same payload received twice is stored once. The manifest links a crawl to its
payloads, so a crawl can be parsed again later with a newer parser.

The archive is private to the service: folders are created ``0700`` and files ``0600``
whatever the umask, since it holds everything the sources answered. A missing archive
folder of a history that has archived crawls is an error (:meth:`Archive.for_history`): an
unmounted volume must not look like a new, empty archive.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zufiwatch.errors import ArchiveError

__all__ = ["Archive", "Manifest"]


class Archive:
    """Content-addressed, compressed storage of raw payloads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_history(cls, root: Path, archived_crawls: int, *, init: bool = False) -> Archive:
        """The archive of a history that has ``archived_crawls`` crawls with manifests.

        A missing ``root`` is an :class:`ArchiveError` when the history has archived crawls,
        unless ``init`` asks for a new, empty archive on purpose."""
        root = Path(root)
        if not root.is_dir():
            if root.exists():
                raise ArchiveError(f"{root}: the snapshots path is not a folder")
            if archived_crawls and not init:
                raise ArchiveError(
                    f"{root}: the snapshots folder is missing, but the history holds "
                    f"{archived_crawls} archived crawl(s). Is its volume mounted? To start a "
                    "new, empty archive on purpose, run 'zufiwatch crawl --init-archive'.")
            _private_dirs(root)
        return cls(root)

    def object_path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / f"{digest}.gz"

    def put(self, body: bytes) -> str:
        """Store ``body`` unless an identical payload is stored; return its SHA-256."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.object_path(digest)
        if path.exists():
            return digest
        try:
            _private_dirs(path.parent)
            _atomic_write(path, gzip.compress(body, compresslevel=6, mtime=0))
        except OSError as exc:
            raise ArchiveError(f"cannot write payload to {path}: {exc.strerror}") from exc
        return digest

    def get(self, digest: str) -> bytes:
        """The payload with this SHA-256."""
        path = self.object_path(digest)
        try:
            return gzip.decompress(path.read_bytes())
        except FileNotFoundError as exc:
            raise ArchiveError(f"payload {digest} is not in the archive {self.root}") from exc
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ArchiveError(f"payload {digest} in {path} cannot be read: {exc}") from exc

    def manifest_path(self, source: str, crawl_id: int, started_at: str) -> Path:
        stamp = started_at[:19].replace(":", "").replace("-", "")
        return self.root / "crawls" / source / f"{stamp}-{crawl_id}.jsonl.gz"

    def open_manifest(self, source: str, crawl_id: int, started_at: str) -> Manifest:
        return Manifest(self.manifest_path(source, crawl_id, started_at))


class Manifest:
    """The list of payloads one crawl received; thread-safe appends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            _private_dirs(path.parent)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # private before written
            self._fh = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise ArchiveError(f"cannot create manifest {path}: {exc.strerror}") from exc

    def add(self, **entry: Any) -> None:
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._fh.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            if self._fh.closed:
                return
            try:
                self._fh.close()
            except OSError as exc:
                raise ArchiveError(f"cannot finish manifest {self.path}: "
                                   f"{exc.strerror or exc}") from exc

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def read(path: Path) -> Iterator[dict[str, Any]]:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)
        except (OSError, EOFError, json.JSONDecodeError) as exc:
            raise ArchiveError(f"manifest {path} cannot be read: {exc}") from exc


def _private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents readable by the owner only."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask, never widened


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
