"""Where each archived payload is: a small SQLite file in the snapshots folder.

``warcs`` lists the crawl files whose writing finished, with where their manifest and
deltas records are; ``payloads`` maps the first 8 bytes of a payload's SHA-256 to the
files that store it (in full or as a delta). The full digest and the exact place are in
the file's manifest (see :mod:`.writer`), so the index stays small: a crawl that stored
nothing new adds one row. A file is entered only once it is complete and synced, in one
transaction: a crawl killed before that leaves a file nobody points at, never an index
entry without its bytes. The index is derived from the files; when it is missing it is
rebuilt from them (:meth:`Index.rebuild`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchiveError

__all__ = ["INDEX_NAME", "Index", "WarcFile", "prefix_of"]

INDEX_NAME = "index.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS warcs (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    manifest_at INTEGER NOT NULL,
    manifest_len INTEGER NOT NULL,
    deltas_at INTEGER NOT NULL DEFAULT 0,
    deltas_len INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS payloads (
    prefix INTEGER NOT NULL,
    warc INTEGER NOT NULL,
    PRIMARY KEY (prefix, warc)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class WarcFile:
    """A finished crawl file and where its manifest and deltas records are."""

    id: int
    path: str  # relative to the snapshots folder
    source: str
    manifest_at: int
    manifest_len: int
    deltas_at: int = 0
    deltas_len: int = 0


def prefix_of(digest_hex: str) -> int:
    """The first 8 bytes of a SHA-256 as a signed 64-bit integer (an SQLite integer)."""
    return int.from_bytes(bytes.fromhex(digest_hex[:16]), "big", signed=True)


class Index:
    """The index of an archive folder; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.path = root / INDEX_NAME
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        """Whether the index file exists (looked for until it is opened)."""
        return self._conn is not None or self.path.exists()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                if not self.path.exists():
                    os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                       check_same_thread=False)
                conn.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise ArchiveError(f"the archive index {self.path} cannot be opened: "
                                   f"{exc}") from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def files_with(self, digest_hex: str) -> list[WarcFile]:
        """The finished files that store a payload with this digest's prefix, newest first."""
        if not self.exists:
            return []
        return self._files("SELECT w.* FROM payloads p JOIN warcs w ON w.id = p.warc "
                           "WHERE p.prefix = ? ORDER BY w.id DESC", [prefix_of(digest_hex)])

    def known_prefixes(self, digests_hex: Iterable[str]) -> set[int]:
        """Which of these digests' prefixes the index lists (in one query per 500)."""
        if not self.exists:
            return set()
        prefixes = sorted({prefix_of(d) for d in digests_hex})
        found: set[int] = set()
        for start in range(0, len(prefixes), 500):
            chunk = prefixes[start:start + 500]
            with self._lock:
                try:
                    rows = self._db().execute(
                        "SELECT DISTINCT prefix FROM payloads WHERE prefix IN "
                        f"({','.join('?' * len(chunk))})", chunk).fetchall()
                except sqlite3.Error as exc:
                    raise ArchiveError(f"the archive index {self.path} cannot be read: "
                                       f"{exc}") from exc
            found.update(row[0] for row in rows)
        return found

    def newest(self, source: str) -> WarcFile | None:
        """The last finished file of ``source``."""
        if not self.exists:
            return None
        found = self._files("SELECT * FROM warcs WHERE source = ? ORDER BY id DESC LIMIT 1",
                            [source])
        return found[0] if found else None

    def file(self, path: str) -> WarcFile | None:
        """The finished file at ``path`` (relative to the snapshots folder)."""
        if not self.exists:
            return None
        found = self._files("SELECT * FROM warcs WHERE path = ?", [path])
        return found[0] if found else None

    def add(self, entry: WarcFile, digests: Iterable[str]) -> None:
        """Enter a finished file and the payloads it stores, in one transaction."""
        prefixes = {prefix_of(d) for d in digests}
        with self._lock:
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM payloads WHERE warc IN "
                           "(SELECT id FROM warcs WHERE path = ?)", [entry.path])
                db.execute("DELETE FROM warcs WHERE path = ?", [entry.path])
                cursor = db.execute(
                    "INSERT INTO warcs (path, source, manifest_at, manifest_len, deltas_at, "
                    "deltas_len) VALUES (?, ?, ?, ?, ?, ?)",
                    [entry.path, entry.source, entry.manifest_at, entry.manifest_len,
                     entry.deltas_at, entry.deltas_len])
                db.executemany("INSERT OR IGNORE INTO payloads (prefix, warc) VALUES (?, ?)",
                               [(p, cursor.lastrowid) for p in sorted(prefixes)])
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise ArchiveError(f"the archive index {self.path} cannot be written: "
                                   f"{exc}") from exc

    def _files(self, sql: str, params: list[object]) -> list[WarcFile]:
        with self._lock:
            try:
                rows = self._db().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise ArchiveError(f"the archive index {self.path} cannot be read: "
                                   f"{exc}") from exc
        return [WarcFile(*row) for row in rows]
