"""The raw-payload archive: every payload a crawl receives, stored by change.

Layout under the snapshots directory::

    crawls/<source>/<stamp>-<crawl>.warc.gz   one WARC file per crawl (see :mod:`.writer`):
                                 the payloads new to the archive, in full or as deltas,
                                 and the crawl's manifest (one JSON line per payload)
    index.sqlite                 where each payload is (see :mod:`.index`), rebuilt from
                                 the files when it is missing

and, written before issue 19 and read as they are (:mod:`.legacy`)::

    objects/ab/abcdef….gz        one gzip file per distinct payload (SHA-256 of the bytes)
    crawls/<source>/<stamp>-<crawl>.jsonl.gz   the manifest of one crawl

The same payload received twice is stored once; a payload that differs from the earlier
answer to the same request in a few bytes is stored as a delta. The manifest links a
crawl to its payloads, so a crawl can be parsed again later with a newer parser. Every
payload read back is checked against its SHA-256.

The archive is private to the service: folders are created ``0700`` and files ``0600``
whatever the umask, since it holds everything the sources answered. A missing archive
folder of a history that has archived crawls is an error (:meth:`Archive.for_history`): an
unmounted volume must not look like a new, empty archive.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ArchiveError
from . import delta, legacy, warc
from .catalogue import Catalogue, PreviousCrawl, parse_catalogue
from .index import INDEX_NAME, Index, WarcFile, prefix_of
from .windows import Windows
from .writer import SUFFIX, Manifest, PutPayload, _private_dirs

log = logging.getLogger(__name__)

__all__ = ["Archive", "Manifest", "PreviousCrawl", "PutPayload", "read_manifest"]

#: How many crawl files' manifests and deltas are kept in memory for reading.
_CACHED_FILES = 8


class Archive:
    """Payloads stored by change, one WARC file per crawl; reads the old layout too."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.index = Index(self.root)
        self._lock = threading.RLock()
        self._catalogues: OrderedDict[int, tuple[WarcFile, Catalogue]] = OrderedDict()
        self._deltas: OrderedDict[int, bytes] = OrderedDict()
        self._checked_index = False
        self._legacy_objects: bool | None = None
        self._windows = Windows()

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
        """Where the old layout kept a payload."""
        return legacy.object_path(self.root, digest)

    def manifest_path(self, source: str, crawl_id: int, started_at: str) -> Path:
        stamp = started_at[:19].replace(":", "").replace("-", "")
        return self.root / "crawls" / source / f"{stamp}-{crawl_id}{SUFFIX}"

    def open_manifest(self, source: str, crawl_id: int, started_at: str) -> Manifest:
        """The archive file of a crawl starting now (see :class:`Manifest`)."""
        return Manifest(self, source, crawl_id,
                        self.manifest_path(source, crawl_id, started_at))

    # -- reading -------------------------------------------------------------------------

    def get(self, digest: str) -> bytes:
        """The payload with this SHA-256, checked against it."""
        problems: list[ArchiveError] = []
        found = self._locate(digest, problems)
        if found is None:
            body = legacy.read_object(self.root, digest)
            if body is None and problems:
                raise problems[0]  # a file that may hold it cannot be read: say which
            if body is None:
                raise ArchiveError(f"payload {digest} is not in the archive {self.root}")
            return body
        return self._read(digest, *found)

    def has(self, digest: str) -> bool:
        """Whether a payload with this SHA-256 is stored (in a finished crawl file)."""
        return self._locate(digest) is not None or self._in_legacy_objects(digest)

    def stored_of(self, digests: list[str]) -> set[str]:
        """Which of these payloads are stored (as :meth:`has` answers, with one index
        query for all of them, and a closer look only where a prefix matches)."""
        self._check_index()
        listed = self.index.known_prefixes(digests)
        return {d for d in digests
                if (prefix_of(d) in listed and self._locate(d) is not None)
                or self._in_legacy_objects(d)}

    def keyframe(self, digest: str) -> str:
        """The payload a delta-stored payload is rebuilt from (itself when stored in full)."""
        found = self._locate(digest)
        return found[2][2] if found is not None and len(found[2]) == 3 else digest

    def previous_crawl(self, source: str) -> PreviousCrawl:
        """The last finished crawl of ``source``: its payloads by request URL and, in this
        layout, its file's catalogue (of the old layout, when it has none in this one)."""
        self._check_index()
        newest = self.index.newest(source)
        catalogue = None
        if newest is not None:
            catalogue = self._catalogue(newest)
            entries: Any = catalogue.entries
        else:
            path = legacy.newest_manifest(self.root, source)
            entries = legacy.read_manifest(path) if path else []
        return PreviousCrawl({e["url"]: e["sha256"] for e in entries
                              if e.get("url") and e.get("sha256")}, catalogue)

    def base_for(self, digest: str, previous: PreviousCrawl) -> tuple[str, bytes]:
        """The full copy that a delta of a successor of the payload ``digest`` is made
        against: its SHA-256 and its bytes, checked. Found in the previous crawl's
        catalogue when that file stores it (the usual case: no index lookup), else by one
        lookup."""
        stored = previous.catalogue.stored.get(digest) if previous.catalogue else None
        if stored is not None and len(stored) == 2:
            assert previous.catalogue is not None
            return digest, warc.read_payload(previous.catalogue.path, stored[0], stored[1],
                                             digest, self._windows.read)
        if stored is not None:
            return stored[2], self.get(stored[2])
        found = self._locate(digest)
        if found is None:
            return digest, self.get(digest)
        if len(found[2]) == 3:
            return found[2][2], self.get(found[2][2])
        return digest, self._read(digest, *found)

    def _read(self, digest: str, file: WarcFile, catalogue: Catalogue,
              stored: list[Any]) -> bytes:
        """The payload ``digest`` stored at ``stored`` in ``file``, checked."""
        if len(stored) == 2:
            return warc.read_payload(catalogue.path, stored[0], stored[1], digest,
                                     self._windows.read)
        at, length, base = stored
        data = self._deltas_of(file, catalogue)[at:at + length]
        try:
            body = delta.patch(self.get(base), data)
        except delta.DeltaError as exc:
            raise ArchiveError(f"payload {digest} in {catalogue.path} cannot be rebuilt: "
                               f"{exc}") from exc
        if hashlib.sha256(body).hexdigest() != digest:
            raise ArchiveError(f"payload {digest} in {catalogue.path} does not match its "
                               "SHA-256: the file is damaged")
        return body

    def _in_legacy_objects(self, digest: str) -> bool:
        """Whether the old layout holds the payload; its folder is looked for once (the
        old layout is never written any more)."""
        if self._legacy_objects is None:
            self._legacy_objects = (self.root / "objects").is_dir()
        return self._legacy_objects and os.path.exists(self.object_path(digest))

    def _locate(self, digest: str, problems: list[ArchiveError] | None = None,
                ) -> tuple[WarcFile, Catalogue, list[Any]] | None:
        """Where a payload is stored; files that cannot be read are noted in ``problems``.
        The files whose catalogues are in memory are asked first (a crawl reads most of
        its payloads from one or two files), the index only when none stores it."""
        with self._lock:
            for file, catalogue in reversed(self._catalogues.values()):
                stored = catalogue.stored.get(digest)
                if stored is not None:
                    return file, catalogue, stored
        self._check_index()
        for file in self.index.files_with(digest):
            try:
                catalogue = self._catalogue(file)
            except ArchiveError as exc:
                log.warning("%s", exc)
                if problems is not None:
                    problems.append(exc)
                continue
            stored = catalogue.stored.get(digest)
            if stored is not None:
                return file, catalogue, stored
        return None

    def _catalogue(self, file: WarcFile) -> Catalogue:
        with self._lock:
            if file.id in self._catalogues:
                self._catalogues.move_to_end(file.id)
                return self._catalogues[file.id][1]
        path = self.root / file.path
        record = warc.read_record(path, file.manifest_at, file.manifest_len, self._windows.read)
        catalogue = parse_catalogue(path, record.payload)
        with self._lock:
            self._catalogues[file.id] = (file, catalogue)
            while len(self._catalogues) > _CACHED_FILES:
                self._catalogues.popitem(last=False)
        return catalogue

    def _deltas_of(self, file: WarcFile, catalogue: Catalogue) -> bytes:
        with self._lock:
            if file.id in self._deltas:
                self._deltas.move_to_end(file.id)
                return self._deltas[file.id]
        data = warc.read_record(catalogue.path, file.deltas_at, file.deltas_len,
                                self._windows.read).payload
        with self._lock:
            self._deltas[file.id] = data
            while len(self._deltas) > _CACHED_FILES:
                self._deltas.popitem(last=False)
        return data

    def _check_index(self) -> None:
        """Rebuild a missing index from the crawl files (once per process)."""
        if self._checked_index:
            return
        self._checked_index = True
        if not self.index.exists and any((self.root / "crawls").glob(f"*/*{SUFFIX}")):
            self.rebuild_index()

    def rebuild_index(self) -> int:
        """Enter every finished crawl file in the index; returns how many were entered. A
        file without its manifest (a crawl killed while writing) is left out."""
        entered = 0
        for path in sorted((self.root / "crawls").glob(f"*/*{SUFFIX}")):
            relative = path.relative_to(self.root).as_posix()
            try:
                found = _scan(path)
            except ArchiveError as exc:
                log.warning("not in the archive index: %s", exc)
                continue
            if found is None:
                continue
            manifest, deltas = found
            catalogue = parse_catalogue(path, manifest.payload)
            self.index.add(WarcFile(0, relative, path.parent.name, manifest.at,
                                    manifest.length, deltas.at if deltas else 0,
                                    deltas.length if deltas else 0), catalogue.stored)
            entered += 1
        return entered


def read_manifest(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a crawl's manifest: of a WARC file, or of the old layout's
    ``.jsonl.gz``; a damaged or incomplete file is an :class:`ArchiveError` naming it."""
    if path.name.endswith(legacy.SUFFIX):
        yield from legacy.read_manifest(path)
        return
    record = _manifest_record(path)
    yield from parse_catalogue(path, record.payload).entries


def _manifest_record(path: Path) -> warc.Record:
    root = path.parent.parent.parent
    if (root / INDEX_NAME).exists():
        index = Index(root)
        try:
            file = index.file(path.relative_to(root).as_posix())
        finally:
            index.close()
        if file is not None:
            return warc.read_record(path, file.manifest_at, file.manifest_len)
    found = _scan(path)
    if found is None:
        raise ArchiveError(f"manifest {path} cannot be read: the file has no manifest "
                           "record (its crawl was interrupted, or the file is truncated)")
    return found[0]


def _scan(path: Path) -> tuple[warc.Record, warc.Record | None] | None:
    """The manifest and deltas records of a crawl file, read in turn."""
    deltas = None
    for record in warc.records(path):
        if record.content_type == warc.DELTAS_TYPE:
            deltas = record
        elif record.content_type == warc.MANIFEST_TYPE:
            return record, deltas
    return None
