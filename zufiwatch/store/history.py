"""The history store: crawls, records, versions, changes — writes and the questions.

A crawl's conclusions are written by :meth:`History.commit_crawl` in one transaction; a
failed crawl writes only its own row. Questions about the past (``version_at``,
``state_at``, ``history``, ``changes``) are single indexed queries.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from ..errors import CrawlInProgress, QueryError, StoreError, UnknownRecord
from ..model import WATCH_SUFFIX, Change, Outcome, canonical_json
from . import dbstate, ledger, outbox
from . import events as event_store
from .schema import MIGRATIONS, VOLATILE

if TYPE_CHECKING:  # the email package is only needed when mail is composed
    from email.message import EmailMessage

__all__ = ["BUSY_TIMEOUT_MS", "CommitPlan", "Current", "History", "NewVersion"]

#: How long a write waits for another process's lock before it is given up.
BUSY_TIMEOUT_MS = 10_000
#: A version as a reader sees it: its row, the volatile fields as last observed.
_VERSION_COLUMNS = ("v.id, v.record_id, v.crawl_id, v.content_hash, v.content, "
                    f"{VOLATILE} AS volatile, v.parser_version, v.valid_from, v.valid_to")


@dataclass(frozen=True)
class Current:
    """What the store holds now for one record: enough to decide whether it changed."""

    record_id: int
    version_id: int | None
    content_hash: str | None
    volatile: str
    status: str
    fingerprint: str = ""
    missing_since: str | None = None
    missing_count: int = 0
    #: For a removed record: its last version, to compare with when it reappears.
    last_version_id: int | None = None
    #: When a crawl last saw it (read it, or at least knew it was there).
    last_seen_at: str | None = None


@dataclass(frozen=True)
class NewVersion:
    key: str
    kind: str
    title: str
    content_hash: str
    content: str
    volatile: str


@dataclass
class CommitPlan:
    """Everything one crawl concludes, written together or not at all."""

    new_versions: list[NewVersion] = field(default_factory=list)
    #: (key, since): concluded removed; the last version ends ``since``.
    removed: list[tuple[str, str]] = field(default_factory=list)
    #: (key, since, consecutive complete crawls without it).
    missing: list[tuple[str, str, int]] = field(default_factory=list)
    #: Keys held as missing that were seen again.
    recovered: list[str] = field(default_factory=list)
    changes: list[tuple[str, Change]] = field(default_factory=list)
    volatile_updates: list[tuple[int, str]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    not_observed: list[tuple[str, str]] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    #: ``source`` (the directory changed) or ``parser`` (a re-derivation by a new parser).
    cause: str = "source"
    #: Index into ``changes`` → id of the first change of the back-and-forth it continues.
    flaps: dict[int, int] = field(default_factory=dict)
    #: Per change (aligned with ``changes``): severity, reasons, status, expectation_id.
    annotations: list[dict[str, Any]] = field(default_factory=list)
    #: Builds the messages about the events the crawl opened or joined (inside the
    #: transaction, so that changes and their messages are stored together), given the
    #: connection and the events touched: [(kind, message, ids of the events it reports)].
    compose: Callable[[sqlite3.Connection, list[event_store.Touched]],
                      list[tuple[str, EmailMessage, list[int]]]] | None = None
    #: What grouping the changes into events needs (default: no contents, kind from the
    #: parser version).
    events: event_store.EventInputs | None = None
    #: url → (etag, last_modified, sha256, content_type) of answers to remember.
    answers: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    #: key → (consecutive failed checks, reason of the last): counted by this crawl.
    strikes: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: Keys observed by this crawl whose count of failed checks ends.
    unstruck: list[str] = field(default_factory=list)


class History:
    """The SQLite history of one zufiwatch installation."""

    def __init__(self, path: Path | str, *, readonly: bool = False, check: bool = True) -> None:
        """Open the history at ``path`` (created, readable by its owner only, if missing and
        not ``readonly``). Before anything is written, a damaged database (``PRAGMA
        quick_check``, unless ``check`` is false) and one upgraded by a newer zufiwatch are
        refused with :class:`StoreError`; then pending migrations are applied.

        sqlite-utils plugins installed beside zufiwatch are not run on its connection: they
        could change what the history stores, and finding them scans every installed
        distribution's entry points (about 30 ms of CPU per process)."""
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"{self.path}: no history database here yet "
                                     "(run 'zufiwatch crawl' first)")
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                self.db = Database(conn, execute_plugins=False)
            else:
                if not self.path.exists():
                    dbstate.create_private(self.path)
                self.db = Database(self.path, execute_plugins=False)
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if check:
                dbstate.check_integrity(self.db.conn, self.path)
            dbstate.refuse_newer(self.db, self.path)
            if not readonly:
                dbstate.restrict(self.path)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                MIGRATIONS.apply(self.db)
                self._group_earlier_changes()
            elif MIGRATIONS.pending(self.db):
                raise StoreError(f"{self.path}: database needs an upgrade; "
                                 "run any writing command (e.g. 'zufiwatch crawl') first")
        except (sqlite3.Error, OSError, StoreError) as exc:
            if hasattr(self, "db"):
                self.db.close()
            if isinstance(exc, StoreError):
                raise
            if isinstance(exc, OSError):
                raise StoreError(f"{self.path}: cannot create the history database: "
                                 f"{exc.strerror}") from exc
            raise StoreError(dbstate.describe(self.path, exc)) from exc

    def _group_earlier_changes(self) -> None:
        """Changes stored before there were events are grouped into events once."""
        if self.db.execute("SELECT 1 FROM changes WHERE event_id IS NULL LIMIT 1").fetchone():
            with self.db.atomic():
                event_store.backfill(self.db.conn)

    def close(self) -> None:
        self.db.close()

    def backup(self, destination: Path) -> None:
        """A consistent copy of the whole database, safe while other processes write."""
        destination = Path(destination)
        if destination.exists():
            raise StoreError(f"{destination} exists; choose a new file for the backup")
        try:
            with sqlite3.connect(destination) as target:
                self.db.conn.backup(target)
            target.close()
        except sqlite3.DatabaseError as exc:
            destination.unlink(missing_ok=True)
            raise StoreError(f"backup to {destination} failed: {exc}") from exc

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- crawls ----------------------------------------------------------------------------

    @contextmanager
    def crawl_lock(self, source: str) -> Iterator[None]:
        """Hold the right to crawl ``source`` into this history (one process at a time).

        The lock is an ``flock`` on a file next to the database, so it ends with the
        process that holds it, however that process ends.
        """
        path = self.path.with_name(f"{self.path.name}.{source}.lock")
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CrawlInProgress(f"a crawl of {source!r} into {self.path} is already "
                                      "running in another process; try again when it ends"
                                      ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close_interrupted(self, source: str, finished_at: str) -> int:
        """Mark crawls of ``source`` left ``running`` by a process that died as failed.

        Call only while holding :meth:`crawl_lock`. Returns how many there were.
        """
        with self.db.atomic():
            cursor = self.db.execute(
                "UPDATE crawls SET outcome = ?, finished_at = ?, reason = ? "
                "WHERE source = ? AND outcome = ?",
                [str(Outcome.FAILED), finished_at,
                 "interrupted: the process ended before the crawl finished; "
                 "nothing it saw was concluded", source, str(Outcome.RUNNING)])
        return cursor.rowcount

    def begin_crawl(self, source: str, started_at: str, parser_version: str,
                    mode: str = "full") -> int:
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO crawls (source, started_at, outcome, parser_version, mode) "
                "VALUES (?, ?, ?, ?, ?)",
                [source, started_at, Outcome.RUNNING, parser_version, mode])
        return inserted_id(cursor)

    def needs_rebaseline(self, source: str, parser_version: str) -> bool:
        """Whether the source has a history that ``parser_version`` has not re-derived."""
        has_records = self.db.execute("SELECT 1 FROM records WHERE source = ? LIMIT 1",
                                      [source]).fetchone()
        known = self.db.execute(
            "SELECT 1 FROM source_parsers WHERE source = ? AND parser_version = ?",
            [source, parser_version]).fetchone()
        return bool(has_records) and not known

    def last_full_crawl_row(self, source: str) -> dict[str, Any] | None:
        """The last complete full crawl of ``source``."""
        rows = list(self.db.query(
            "SELECT * FROM crawls WHERE source = ? AND outcome = 'complete' AND mode = 'full' "
            "ORDER BY started_at DESC, id DESC LIMIT 1", [source]))
        return rows[0] if rows else None

    def has_complete_crawl(self, source: str) -> bool:
        """Whether ``source`` ever had a complete crawl of the directory (not a reparse)."""
        return self.db.execute(
            "SELECT 1 FROM crawls WHERE source = ? AND outcome = 'complete' "
            "AND mode != 'reparse' LIMIT 1", [source]).fetchone() is not None

    def rebaseline_crawl_row(self, source: str) -> dict[str, Any] | None:
        """The crawl whose archived payloads a new parser re-derives the history from: the
        last complete full crawl, else (a source that never had one, such as a ZuFi whose
        answers an old parser could not read) the newest partial one."""
        full = self.last_full_crawl_row(source)
        if full is not None:
            return full
        rows = list(self.db.query(
            "SELECT * FROM crawls WHERE source = ? AND outcome = 'partial' "
            "AND mode != 'reparse' AND manifest != '' ORDER BY started_at DESC, id DESC "
            "LIMIT 1", [source]))
        return rows[0] if rows else None

    def last_full_crawl(self, source: str) -> str | None:
        """When the last complete full crawl of ``source`` started, if ever."""
        row = self.db.execute(
            "SELECT max(started_at) FROM crawls WHERE source = ? AND outcome = 'complete' "
            "AND mode = 'full'", [source]).fetchone()
        return row[0] if row else None

    def set_mode(self, crawl_id: int, mode: str) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE crawls SET mode = ? WHERE id = ?", [mode, crawl_id])

    def archived_crawls(self) -> int:
        """How many crawls have their payloads in the archive (a manifest)."""
        row = self.db.execute("SELECT count(*) FROM crawls WHERE manifest != ''").fetchone()
        return int(row[0])

    def set_manifest(self, crawl_id: int, manifest: str) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE crawls SET manifest = ? WHERE id = ?", [manifest, crawl_id])

    def set_shapes_basis(self, crawl_id: int, digest: str) -> None:
        """The digest of the shapes the crawl ``crawl_id`` checked every answer it read
        against, where it read every listed entry (see ``sources/drift.py``)."""
        with self.db.atomic():
            self.db.execute("UPDATE crawls SET shapes_basis = ? WHERE id = ?",
                            [digest, crawl_id])

    def previous_crawl(self, source: str, crawl_id: int) -> dict[str, Any] | None:
        """The last crawl of ``source`` before ``crawl_id`` (whatever its outcome)."""
        rows = list(self.db.query(
            "SELECT * FROM crawls WHERE source = ? AND id != ? "
            "ORDER BY started_at DESC, id DESC LIMIT 1", [source, crawl_id]))
        return rows[0] if rows else None

    def finish_crawl(self, crawl_id: int, *, outcome: Outcome, finished_at: str,
                     reason: str = "", stats: dict[str, int] | None = None,
                     messages: Iterable[tuple[str, EmailMessage]] = (),
                     shapes: dict[str, Any] | None = None) -> None:
        """Record how a crawl ended without concluding anything (failed crawls), with the
        operator messages about it in the same transaction."""
        with self.db.atomic():
            self._finish(crawl_id, outcome, finished_at, reason, stats or {}, shapes)
            for kind, message in messages:
                outbox.enqueue(self.db.conn, kind, message, finished_at)

    def _finish(self, crawl_id: int, outcome: Outcome, finished_at: str, reason: str,
                stats: dict[str, int], shapes: dict[str, Any] | None = None) -> None:
        allowed = {"listed", "expected", "observed", "not_observed", "versions_added",
                   "changes", "requests", "bytes_received"}
        columns = {k: v for k, v in stats.items() if k in allowed}
        assignments = "".join(f", {k} = :{k}" for k in columns)
        self.db.execute(
            f"UPDATE crawls SET outcome = :outcome, finished_at = :finished_at, "
            f"reason = :reason, shapes = :shapes{assignments} WHERE id = :id",
            {"outcome": str(outcome), "finished_at": finished_at, "reason": reason,
             "shapes": json.dumps(shapes or {}, sort_keys=True, ensure_ascii=False),
             "id": crawl_id, **columns})

    def crawl(self, crawl_id: int) -> dict[str, Any]:
        rows = list(self.db.query("SELECT * FROM crawls WHERE id = ?", [crawl_id]))
        if not rows:
            raise QueryError(f"no crawl with id {crawl_id}")
        return rows[0]

    def crawls(self, *, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return list(self.db.query(
            f"SELECT * FROM crawls {where} ORDER BY started_at DESC, id DESC LIMIT ?",
            [*params, limit]))

    # -- what a crawl compares against -----------------------------------------------------

    def current(self, source: str) -> dict[str, Current]:
        """Every record of the source with its current version's hash."""
        rows = self.db.execute(
            f"SELECT r.key, r.id, r.current_version, v.content_hash, {VOLATILE}, "
            "r.status, "
            "r.fingerprint, r.missing_since, r.missing_count, "
            "CASE WHEN r.current_version IS NULL THEN (SELECT id FROM versions "
            "  WHERE record_id = r.id ORDER BY valid_from DESC, id DESC LIMIT 1) END, "
            "r.last_seen_at "
            "FROM records r LEFT JOIN versions v ON v.id = r.current_version "
            "WHERE r.source = ?", [source])
        return {row[0]: Current(row[1], row[2], row[3], row[4] or "{}", *row[5:])
                for row in rows}

    def strikes(self, source: str) -> dict[str, int]:
        """key → consecutive failed checks so far (entries with at least one)."""
        return dict(self.db.execute("SELECT key, count FROM strikes WHERE source = ?",
                                    [source]).fetchall())

    def strike_rows(self, source: str | None = None) -> list[dict[str, Any]]:
        """The failing entries: source, key, count, first_at, last_at, reason."""
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return list(self.db.query(f"SELECT * FROM strikes {where} ORDER BY source, key",
                                  params))

    def present_records(self, sources: Iterable[str]) -> Iterator[tuple[str, str, str,
                                                                           dict[str, Any]]]:
        """(source, key, kind, content) of every record of these sources held as present
        or missing (not removed), current version."""
        names = sorted(set(sources))
        if not names:
            return
        marks = ",".join("?" * len(names))
        for source, key, kind, content in self.db.execute(
                "SELECT r.source, r.key, r.kind, v.content FROM records r "
                "JOIN versions v ON v.id = r.current_version "
                f"WHERE r.source IN ({marks}) AND r.status IN ('present', 'missing') "
                "ORDER BY r.source, r.key", names):
            yield source, key, kind, json.loads(content)

    def sources(self) -> list[str]:
        """Names of the sources the history has crawled."""
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT source FROM crawls ORDER BY source")]

    def cached_answers(self, source: str) -> dict[str, tuple[str, str, str, str]]:
        """url → (etag, last_modified, sha256, content_type) of the last answers."""
        rows = self.db.execute("SELECT url, etag, last_modified, sha256, content_type "
                               "FROM http_cache WHERE source = ?", [source])
        return {url: (etag, modified, sha, ctype) for url, etag, modified, sha, ctype in rows}

    def content_of(self, version_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT content FROM versions WHERE id = ?",
                              [version_id]).fetchone()
        if row is None:
            raise QueryError(f"no version with id {version_id}")
        return json.loads(row[0])

    # -- the one write of a crawl ----------------------------------------------------------

    def commit_crawl(self, crawl_id: int, source: str, at: str, parser_version: str,
                     plan: CommitPlan, *, outcome: Outcome, finished_at: str, reason: str,
                     stats: dict[str, int], shapes: dict[str, Any] | None = None) -> None:
        """Write versions, changes, observations and the crawl's end in one transaction."""
        try:
            with self.db.atomic():
                self._write_plan(crawl_id, source, at, parser_version, plan)
                self._finish(crawl_id, outcome, finished_at, reason, stats, shapes)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"could not store crawl {crawl_id}: "
                             f"{dbstate.describe(self.path, exc)}") from exc

    def _write_plan(self, crawl_id: int, source: str, at: str, parser_version: str,
                    plan: CommitPlan) -> None:
        conn = self.db.conn
        new_records = conn.executemany(
            "INSERT INTO records (source, key, kind, title, status, first_seen_at, "
            "last_seen_at) VALUES (?, ?, ?, ?, 'present', ?, ?) "
            "ON CONFLICT (source, key) DO NOTHING",
            ((source, v.key, v.kind, v.title, at, at) for v in plan.new_versions)).rowcount
        # Read once the first write holds the lock (a read first could not become a write
        # if another process wrote in between): the rows written from here on have higher
        # ids, and the records just inserted are the highest.
        chain, before = ledger.Chain(conn, at), ledger.last_ids(conn)
        before["records"] -= max(new_records, 0)
        ids = self._record_ids(source, [v.key for v in plan.new_versions]
                               + [k for k, _ in plan.removed] + [k for k, _ in plan.changes]
                               + [k for k, _ in plan.not_observed])
        conn.executemany(
            "UPDATE versions SET valid_to = ? WHERE record_id = ? AND valid_to IS NULL",
            [(at, ids[v.key]) for v in plan.new_versions]
            + [(since, ids[k]) for k, since in plan.removed])
        version_ids = {}
        for v in plan.new_versions:
            cursor = conn.execute(
                "INSERT INTO versions (record_id, crawl_id, content_hash, content, volatile, "
                "parser_version, valid_from) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [ids[v.key], crawl_id, v.content_hash, v.content, v.volatile, parser_version,
                 at])
            version_ids[v.key] = cursor.lastrowid
            conn.execute(
                "UPDATE records SET current_version = ?, status = 'present', title = ?, "
                "missing_since = NULL, missing_count = 0 WHERE id = ?",
                [cursor.lastrowid, v.title, ids[v.key]])
        chain.after("record", before["records"])
        chain.after("version", before["versions"])  # with the title just set
        conn.executemany(
            "UPDATE records SET status = 'removed', current_version = NULL, fingerprint = '', "
            "missing_since = NULL, missing_count = 0 WHERE id = ?",
            ((ids[k],) for k, _ in plan.removed))
        conn.executemany(
            "UPDATE records SET status = 'missing', missing_since = ?, missing_count = ? "
            "WHERE source = ? AND key = ?",
            ((since, count, source, key) for key, since, count in plan.missing))
        conn.executemany(
            "UPDATE records SET status = 'present', missing_since = NULL, missing_count = 0 "
            "WHERE source = ? AND key = ? AND status = 'missing'",
            ((source, key) for key in plan.recovered))
        conn.executemany(
            "UPDATE records SET fingerprint = ? WHERE source = ? AND key = ?",
            ((fingerprint, source, key) for key, fingerprint in plan.fingerprints.items()))
        conn.executemany(
            "INSERT INTO observed_volatile (version_id, volatile) VALUES (?, ?) "
            "ON CONFLICT (version_id) DO UPDATE SET volatile = excluded.volatile",
            plan.volatile_updates)
        change_ids = []
        for index, (key, c) in enumerate(plan.changes):
            note = plan.annotations[index] if plan.annotations else {}
            cursor = conn.execute(
                "INSERT INTO changes (crawl_id, record_id, version_id, detected_at, "
                "change_type, path, label, old_value, new_value, cause, flap_of, severity, "
                "reasons, status, expectation_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [crawl_id, ids[key], version_ids.get(key), at, str(c.change_type), c.path,
                 c.label, _json_or_null(c.old), _json_or_null(c.new), plan.cause,
                 plan.flaps.get(index), note.get("severity", "low"),
                 canonical_json(list(note.get("reasons", ()))),
                 note.get("status", "untracked"), note.get("expectation_id")])
            change_ids.append(inserted_id(cursor))
            if note.get("expectation_id"):
                conn.execute("UPDATE expectations SET status = 'met', met_change_id = ? "
                             "WHERE id = ? AND status IN ('open', 'overdue')",
                             [change_ids[-1], note["expectation_id"]])
        inputs = plan.events or event_store.EventInputs(
            event_store.source_kind_of(parser_version))
        touched = event_store.group_crawl(
            conn, crawl_id=crawl_id, source=source, at=at, cause=plan.cause,
            changes=plan.changes, change_ids=change_ids, notes=plan.annotations,
            flaps=plan.flaps, inputs=inputs)
        chain.after("event", before["events"])
        chain.after("change", before["changes"])  # with the event each belongs to
        if plan.compose is not None:
            for kind, message, reported in plan.compose(conn, touched):
                outbox.enqueue(conn, kind, message, at)
                mark_notified(conn, kind, reported)
        conn.execute("INSERT OR IGNORE INTO source_parsers (source, parser_version, since) "
                     "VALUES (?, ?, ?)", [source, parser_version, at])
        conn.executemany(
            "UPDATE records SET last_seen_at = ? WHERE source = ? AND key = ?",
            ((at, source, key) for key in plan.seen))
        conn.executemany(
            "INSERT OR REPLACE INTO http_cache (source, url, etag, last_modified, sha256, "
            "content_type) VALUES (?, ?, ?, ?, ?, ?)",
            ((source, url, *answer) for url, answer in plan.answers.items()))
        conn.executemany(
            "INSERT INTO strikes (source, key, count, first_at, last_at, reason) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, key) DO UPDATE SET "
            "count = excluded.count, last_at = excluded.last_at, reason = excluded.reason",
            ((source, key, count, at, at, reason)
             for key, (count, reason) in plan.strikes.items()))
        conn.executemany("DELETE FROM strikes WHERE source = ? AND key = ?",
                         ((source, key) for key in plan.unstruck))
        conn.executemany(
            "INSERT OR REPLACE INTO observation_gaps (crawl_id, record_id, reason) "
            "VALUES (?, ?, ?)",
            ((crawl_id, ids[key], reason) for key, reason in plan.not_observed if key in ids))

    def _record_ids(self, source: str, keys: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        ids: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            ids.update(self.db.execute(
                f"SELECT key, id FROM records WHERE source = ? AND key IN ({marks})",
                [source, *chunk]).fetchall())
        return ids

    # -- questions about the past ----------------------------------------------------------

    def find_record(self, key: str, source: str | None = None) -> dict[str, Any]:
        where, params = ("key = ?", [key]) if source is None else (
            "key = ? AND source = ?", [key, source])
        rows = list(self.db.query(f"SELECT * FROM records WHERE {where}", params))
        if source is None and len(rows) > 1:  # a link watch's copy yields to the original
            rows = [r for r in rows if not r["source"].endswith(WATCH_SUFFIX)] or rows
        if not rows:
            raise UnknownRecord(f"no record {key!r}" + (f" in source {source!r}" if source
                                                       else "") +
                                " (keys look like leistung:<id>; 'zufiwatch state' lists them)")
        if len(rows) > 1:
            names = ", ".join(r["source"] for r in rows)
            raise QueryError(f"{key!r} exists in several sources ({names}); "
                             "choose one with --source")
        return rows[0]

    def versions(self, record_id: int) -> list[dict[str, Any]]:
        return list(self.db.query(
            f"SELECT {_VERSION_COLUMNS} FROM versions v WHERE record_id = ? "
            "ORDER BY valid_from, id", [record_id]))

    def version_at(self, record_id: int, at: str) -> dict[str, Any] | None:
        rows = list(self.db.query(
            f"SELECT {_VERSION_COLUMNS} FROM versions v "
            "WHERE record_id = ? AND valid_from <= ? "
            "ORDER BY valid_from DESC, id DESC LIMIT 1", [record_id, at]))
        if not rows or (rows[0]["valid_to"] is not None and rows[0]["valid_to"] <= at):
            return None
        return rows[0]

    def state_at(self, at: str, *, source: str | None = None,
                 kind: str | None = None) -> Iterator[dict[str, Any]]:
        """Every record as it was at ``at``: record columns plus its version. Without
        ``source``, the link watches' copies of the PVOG's Leistungen are left out."""
        filters, params = [], []
        if source:
            filters.append("r.source = ?")
            params.append(source)
        else:
            filters.append("r.source NOT LIKE ?")
            params.append(f"%{WATCH_SUFFIX}")
        if kind:
            filters.append("r.kind = ?")
            params.append(kind)
        where = ("AND " + " AND ".join(filters)) if filters else ""
        yield from self.db.query(
            "SELECT r.source, r.key, r.kind, v.id AS version_id, v.content, "
            f"{VOLATILE} AS volatile, "
            "v.valid_from, v.valid_to, v.parser_version FROM records r "
            "JOIN versions v ON v.id = (SELECT id FROM versions WHERE record_id = r.id "
            "  AND valid_from <= ? ORDER BY valid_from DESC, id DESC LIMIT 1) "
            f"WHERE (v.valid_to IS NULL OR v.valid_to > ?) {where} ORDER BY r.kind, r.key",
            [at, at, *params])

    def changes(self, *, since: str | None = None, until: str | None = None,
                kind: str | None = None, record_id: int | None = None,
                source: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        filters, params = [], []
        for column, op, value in (("c.detected_at", ">=", since), ("c.detected_at", "<=", until),
                                  ("r.kind", "=", kind), ("c.record_id", "=", record_id),
                                  ("r.source", "=", source)):
            if value is not None:
                filters.append(f"{column} {op} ?")
                params.append(value)
        where = ("WHERE " + " AND ".join(filters)) if filters else ""
        tail = f"LIMIT {int(limit)}" if limit else ""
        return list(self.db.query(
            "SELECT c.id, c.detected_at, r.source, r.key, r.kind, r.title, c.change_type, "
            "c.path, c.label, c.old_value, c.new_value, c.cause, c.flap_of, c.severity, "
            "c.reasons, c.status, c.crawl_id, c.version_id, c.event_id "
            f"FROM changes c JOIN records r ON r.id = c.record_id {where} "
            f"ORDER BY c.detected_at, c.id {tail}", params))

    def recent_changes(self, source: str, since: str) -> list[dict[str, Any]]:
        """Changes of ``source`` detected at or after ``since``, oldest first."""
        return list(self.db.query(
            "SELECT c.id, r.key, c.label, c.old_value, c.new_value, c.flap_of "
            "FROM changes c JOIN records r ON r.id = c.record_id "
            "WHERE r.source = ? AND c.detected_at >= ? AND c.cause = 'source' "
            "ORDER BY c.detected_at, c.id", [source, since]))

    def flap_sequence(self, root: int) -> list[Any]:
        """The values a back-and-forth went through: the first change's old and new value,
        then the new value of every change that continued it."""
        rows = self.db.execute(
            "SELECT old_value, new_value, id FROM changes WHERE id = ? OR flap_of = ? "
            "ORDER BY detected_at, id", [root, root]).fetchall()
        if not rows:
            return []
        values = [rows[0][0], rows[0][1], *(row[1] for row in rows[1:])]
        return [None if v is None else json.loads(v) for v in values]

    def observation_gaps(self, record_id: int) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT g.crawl_id, g.reason, c.started_at FROM observation_gaps g "
            "JOIN crawls c ON c.id = g.crawl_id WHERE g.record_id = ? ORDER BY c.started_at",
            [record_id]))


def mark_notified(conn: sqlite3.Connection, kind: str, event_ids: Iterable[int]) -> None:
    """Note that a message of ``kind`` reported these events (and so their changes)."""
    ids = [(kind, event_id) for event_id in event_ids]
    conn.executemany("UPDATE events SET notified = ? WHERE id = ?", ids)
    conn.executemany("UPDATE changes SET notified = ? WHERE event_id = ? AND notified IS NULL",
                     ids)


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid of the row the INSERT just run on ``cursor`` added."""
    if cursor.lastrowid is None:
        raise StoreError("the database reported no id for the row just inserted")
    return cursor.lastrowid


def _json_or_null(value: Any) -> str | None:
    return None if value is None else canonical_json(value)
