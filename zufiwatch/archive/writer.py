"""The archive file of one crawl: a WARC written as the answers arrive.

``<stamp>-<crawl>.warc.gz`` holds, in this order:

1. a ``warcinfo`` record (what wrote the file, for which source and crawl);
2. a ``response`` record for each payload stored in full (``resource`` when the request is
   not known), written when it arrives;
3. one ``resource`` record with the crawl's *deltas*: a payload that differs from the
   earlier payload of the same request only in a few places (a ``lastUpdate``, a
   ``timestamp``) is stored as a delta against that payload's full copy
   (:mod:`.delta`; kept only when patching the base gives the payload byte for byte);
4. one ``metadata`` record with the crawl's *manifest*: a JSON line per payload the crawl
   received (url, params, endpoint, key, status, error, parser version, sha256), the
   first line of each payload stored here with ``"stored"``: ``[at, length]`` of its
   record in this file, or ``[at, length, base]`` of its delta in the deltas record and
   the SHA-256 of its base.

A payload already in the archive is not stored again: the manifest names it, and the
archive's index finds it. The file is entered in the index only when it is complete and
synced (:meth:`Manifest.close`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import __version__
from ..errors import ArchiveError
from . import delta, warc
from .catalogue import PreviousCrawl
from .index import WarcFile

if TYPE_CHECKING:
    from . import Archive

log = logging.getLogger(__name__)

__all__ = ["SUFFIX", "Manifest", "PutPayload"]

#: The name ending of a crawl's archive file.
SUFFIX = ".warc.gz"
#: A delta is kept when it is at most this share of the payload; else the payload is
#: stored in full (and is the base of the next deltas of its request).
MAX_DELTA_SHARE = 0.25


class PutPayload(Protocol):
    def __call__(self, body: bytes, *, url: str = "", status: int | None = None,
                 content_type: str = "") -> str: ...


class Manifest:
    """The archive file of one crawl: payloads stored by change, and the list of every
    payload the crawl received. Thread-safe."""

    def __init__(self, archive: Archive, source: str, crawl_id: int, path: Path) -> None:
        self.path = path
        self._archive = archive
        self._source = source
        self._lock = threading.Lock()
        self._lines: list[dict[str, Any]] = []
        self._stored: dict[str, list[Any]] = {}
        self._deltas = bytearray()
        self._previous: PreviousCrawl | None = None
        self._at = 0
        self._broken = ""
        self._closed = False
        try:
            _private_dirs(path.parent)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            self._fh = os.fdopen(fd, "wb", buffering=0)
        except OSError as exc:
            raise ArchiveError(f"cannot create manifest {path}: {exc.strerror}") from exc
        self._write(warc.info_record({
            "software": f"zufiwatch {__version__}", "format": "WARC File Format 1.1",
            "isPartOf": f"{source} crawl {crawl_id}",
            "description": "payloads stored in full as response records; payloads that "
                           "differ from an earlier one in a few bytes as deltas (record "
                           f"{warc.DELTAS_TYPE}); every payload received in the manifest "
                           f"(record {warc.MANIFEST_TYPE})"}))

    # -- during the crawl ----------------------------------------------------------------

    def put(self, body: bytes, *, url: str = "", status: int | None = None,
            content_type: str = "") -> str:
        """Store ``body`` unless the archive has it; return its SHA-256.

        The previous crawl of the source is read once per file: a payload its file stores
        is known without a lookup, and the base of a delta is found in its catalogue. A
        payload stored as a delta is looked for in the rest of the archive at the end, all
        in one query (:meth:`_drop_known_deltas`); one stored in full is looked for now."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            if digest in self._stored:
                return digest
        previous = self._previous_crawl()
        if previous.stores(digest):
            return digest
        found = self._delta(body, digest, url, previous)
        if found is None and self._archive.has(digest):
            return digest
        with self._lock:
            if digest in self._stored:
                return digest
            if found is not None:
                base, data = found
                self._stored[digest] = [len(self._deltas), len(data), base]
                self._deltas += data
            else:
                record = warc.payload_record(url, body, digest, status=status,
                                             content_type=content_type)
                self._stored[digest] = [self._at, len(record)]
                self._write(record)
        return digest

    def add(self, **entry: Any) -> None:
        """Note one payload (or failed request) the crawl received."""
        with self._lock:
            self._lines.append(entry)

    def _delta(self, body: bytes, digest: str, url: str, previous: PreviousCrawl,
               ) -> tuple[str, bytes] | None:
        """The delta of ``body`` against the full copy of the earlier payload of ``url``,
        kept only when it rebuilds ``body`` byte for byte."""
        earlier = previous.payloads.get(url) if url else None
        if not earlier or earlier == digest:  # the same payload: stored already
            return None
        try:
            base, old = self._archive.base_for(earlier, previous)
        except ArchiveError as exc:
            log.warning("no delta for %s: %s", url, exc)
            return None
        data = delta.diff(old, body)
        if len(data) > MAX_DELTA_SHARE * len(body):
            return None
        try:
            rebuilt = delta.patch(old, data)
        except delta.DeltaError:
            rebuilt = b""
        if rebuilt != body:
            log.warning("a delta for %s does not rebuild its payload; stored in full", url)
            return None
        return base, data

    def _previous_crawl(self) -> PreviousCrawl:
        with self._lock:
            if self._previous is None:
                try:
                    self._previous = self._archive.previous_crawl(self._source)
                except ArchiveError as exc:
                    log.warning("no earlier payloads of %s to store deltas against: %s",
                                self._source, exc)
                    self._previous = PreviousCrawl({})
            return self._previous

    def _write(self, data: bytes) -> None:
        if self._broken:
            raise ArchiveError(f"cannot write payload to {self.path}: {self._broken}")
        try:
            _append(self._fh, data)
        except OSError as exc:
            self._broken = exc.strerror or str(exc)
            raise ArchiveError(f"cannot write payload to {self.path}: {self._broken}") \
                from exc
        self._at += len(data)

    # -- at the end ----------------------------------------------------------------------

    def close(self) -> None:
        """Write the deltas and the manifest, sync the file and enter it in the index."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                entry = self._finish()
            except (OSError, ArchiveError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else self._broken or exc
                raise ArchiveError(f"cannot finish manifest {self.path}: "
                                   f"{reason or exc}") from exc
            finally:
                if not self._fh.closed:
                    with contextlib.suppress(OSError):
                        self._fh.close()
        self._archive.index.add(entry, self._stored)

    def _drop_known_deltas(self) -> None:
        """Leave out the deltas of payloads that the archive stores already (a value that
        went back to an earlier one): the archive stores each payload once."""
        deltas = [d for d, stored in self._stored.items() if len(stored) == 3]
        known = self._archive.stored_of(deltas) if deltas else set()
        if not known:
            return
        packed = bytearray()
        for digest in deltas:
            at, length, base = self._stored.pop(digest)
            if digest not in known:
                self._stored[digest] = [len(packed), length, base]
                packed += self._deltas[at:at + length]
        self._deltas = packed

    def _finish(self) -> WarcFile:
        if self._broken:
            raise ArchiveError(f"an earlier write failed: {self._broken}")
        self._drop_known_deltas()
        deltas_at = deltas_len = 0
        if self._deltas:
            record = warc.resource_record(f"urn:zufiwatch:deltas:{self.path.name}",
                                          bytes(self._deltas), warc.DELTAS_TYPE)
            deltas_at, deltas_len = self._at, len(record)
            self._write(record)
        record = warc.metadata_record(f"urn:zufiwatch:manifest:{self.path.name}",
                                      self._manifest_lines(), warc.MANIFEST_TYPE)
        manifest_at = self._at
        self._write(record)
        _sync(self._fh)
        self._fh.close()
        return WarcFile(0, self.path.relative_to(self._archive.root).as_posix(),
                        self._source, manifest_at, len(record), deltas_at, deltas_len)

    def _manifest_lines(self) -> bytes:
        unlisted = dict(self._stored)
        lines = []
        for entry in self._lines:
            stored = unlisted.pop(entry.get("sha256", ""), None)
            if stored is not None:
                entry = {**entry, "stored": stored}
            lines.append(_json_line(entry))
        for digest, stored in unlisted.items():  # stored, but its request not noted
            lines.append(_json_line({"sha256": digest, "stored": stored, "unlisted": True}))
        return "".join(lines).encode("utf-8")

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def read(path: Path) -> Any:
        """The entries of a crawl's manifest, in either layout (see :func:`read_manifest`)."""
        from . import read_manifest

        return read_manifest(Path(path))


def _json_line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _append(fh: Any, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[fh.write(view):]


def _sync(fh: Any) -> None:
    """Make the written file durable (a full disk may show only here)."""
    os.fsync(fh.fileno())


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
