"""Evidence: what a reader sees, chained by hashes in the order it was written.

Every row that holds what a reader sees gets a ledger entry in the transaction that writes
it: the canonical JSON of the row's facts (``body``), the hash of the entry before
(``prev``) and ``hash = sha256(prev, kind, body)``. The kinds of entries and their facts:

    record           records: id, source, key, kind, first_seen_at
    version          versions: id, record_id, crawl_id, content_hash, the content's SHA-256,
                     parser_version, valid_from, and the record's title with this version
    event            events: id, subject, kind, key, source, title, opened_at, crawl_id, cause
    change           changes: id, crawl, record, version, when, type, path, label, old and
                     new value, cause, flap_of, event_id (the event it belongs to)
    grouping         changes: id, event_id, for a change chained before it had an event
    expectation, acknowledgement, withdrawal   the working group's register and reviews

Columns that change later by design (``valid_to``, ``volatile`` and the table
``observed_volatile``, ``last_seen_at``, status, severity, what was sent, fingerprints,
missing counts) are outside: their changes are
evidenced by their own entries or are not evidence. A record's ``title`` changes only with a
new version, so it must equal the title chained with its newest version.

:func:`verify` walks the chain, then reads each table once in id order and compares every
row with the keys its entries' bodies hold (entries written by earlier versions hold fewer
keys and still verify); an edited, inserted (written around the ledger) or deleted row is
named by table and row. :func:`verify` also gives the chain's head, which an operator can
keep elsewhere: a chain rewritten from some entry on ends in another head.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import canonical_json

__all__ = ["GENESIS", "Chain", "Verification", "append", "body_of", "chain_existing",
           "chain_groupings", "last_ids", "verify"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class _Kind:
    """A kind of ledger entry: the table it vouches for and the facts it holds."""

    table: str
    #: Columns read from the table; ``content`` is chained as ``content_sha256``.
    columns: tuple[str, ...]
    #: Whether every row of the table must have an entry of this kind.
    required: bool = True


_KINDS: dict[str, _Kind] = {
    "record": _Kind("records", ("id", "source", "key", "kind", "first_seen_at")),
    "version": _Kind("versions", ("id", "record_id", "crawl_id", "content_hash", "content",
                                  "parser_version", "valid_from")),
    "event": _Kind("events", ("id", "subject", "kind", "key", "source", "title", "opened_at",
                              "crawl_id", "cause")),
    "change": _Kind("changes", ("id", "crawl_id", "record_id", "version_id", "detected_at",
                                "change_type", "path", "label", "old_value", "new_value",
                                "cause", "flap_of", "event_id")),
    "grouping": _Kind("changes", ("id", "event_id"), required=False),
    "expectation": _Kind("expectations", ("id", "created_at", "key", "field", "value",
                                          "until", "by", "note")),
    "acknowledgement": _Kind("acknowledgements", ("id", "change_id", "at", "by", "note")),
    "withdrawal": _Kind("withdrawals", ("id", "expectation_id", "at", "by", "note")),
}

#: Per table, in the order verify reads them (versions before records: a record's title is
#: checked against its newest version's): how a row is named for people, and the join it
#: needs for that.
_TABLES: dict[str, tuple[str, str]] = {
    "versions": ("'record ' || coalesce(r.key, t.record_id)",
                 "LEFT JOIN records r ON r.id = t.record_id"),
    "records": ("t.key", ""),
    "changes": ("'record ' || coalesce(r.key, t.record_id)",
                "LEFT JOIN records r ON r.id = t.record_id"),
    "events": ("t.subject", ""),
    "expectations": ("t.key", ""),
    "acknowledgements": ("'change ' || t.change_id", ""),
    "withdrawals": ("'expectation ' || t.expectation_id", ""),
}

#: Facts of an entry that are not a column of its row (checked elsewhere).
_NOT_COLUMNS = {"version": {"title"}}


def _hash(prev: str, event: str, body: str) -> str:
    return hashlib.sha256(f"{prev}\n{event}\n{body}".encode()).hexdigest()


def _facts(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The facts an entry of ``kind`` holds about ``row`` (a mapping of its columns)."""
    facts = {column: row[column] for column in _KINDS[kind].columns}
    if "content" in facts:
        facts["content_sha256"] = hashlib.sha256(
            str(facts.pop("content")).encode("utf-8")).hexdigest()
    if kind == "version" and row.get("title") is not None:
        facts["title"] = row["title"]
    return facts


def _select(kind: str, where: str, title: str = "r.title") -> str:
    """The query of the facts of ``kind`` for rows ``t`` matching ``where``, in id order;
    a version also reads its record's title (``title``, NULL to leave it out)."""
    spec = _KINDS[kind]
    columns = ", ".join(f"t.{column}" for column in spec.columns)
    join = ""
    if kind == "version":
        columns += f", {title} AS title"
        join = "LEFT JOIN records r ON r.id = t.record_id"
    return f"SELECT {columns} FROM {spec.table} t {join} WHERE {where} ORDER BY t.id"


def _bodies(conn: sqlite3.Connection, kind: str, where: str, params: Sequence[Any],
            title: str = "r.title") -> Iterator[tuple[int, str]]:
    cursor = conn.execute(_select(kind, where, title), list(params))
    names = [d[0] for d in cursor.description]
    for row in cursor:
        facts = _facts(kind, dict(zip(names, row, strict=True)))
        yield facts["id"], canonical_json(facts)


def body_of(conn: sqlite3.Connection, event: str, ref: int) -> str | None:
    """The canonical facts of row ``ref`` of the ``event`` kind, or None if it is gone."""
    found = list(_bodies(conn, event, "t.id = ?", [ref]))
    return found[0][1] if found else None


class Chain:
    """Appends to the ledger in one transaction, keeping the head in hand (it is read once,
    on the first append)."""

    def __init__(self, conn: sqlite3.Connection, at: str) -> None:
        self.conn, self.at = conn, at
        self.head: str | None = None

    def _head(self) -> str:
        if self.head is None:
            last = self.conn.execute(
                "SELECT hash FROM ledger ORDER BY id DESC LIMIT 1").fetchone()
            self.head = last[0] if last else GENESIS
        return self.head

    def add(self, entries: Iterable[tuple[str, int, str]]) -> int:
        """Chain (kind, ref, body) entries in the order given; returns how many."""
        entries = list(entries)
        if not entries:
            return 0
        rows = []
        prev = self._head()
        for kind, ref, body in entries:
            digest = _hash(prev, kind, body)
            rows.append((self.at, kind, ref, body, prev, digest))
            prev = digest
        self.conn.executemany(
            "INSERT INTO ledger (at, event, ref, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
            rows)
        self.head = prev
        return len(rows)

    def rows(self, kind: str, where: str = "1", params: Sequence[Any] = (), *,
             title: str = "r.title") -> int:
        """Chain every row of ``kind`` matching ``where`` (on ``t``), in id order, with one
        query; returns how many."""
        return self.add([(kind, ref, body)
                          for ref, body in _bodies(self.conn, kind, where, params, title)])

    def after(self, kind: str, last_id: int) -> int:
        """Chain the rows of ``kind`` written after ``last_id`` (see :func:`last_ids`)."""
        return self.rows(kind, "t.id > ?", [last_id])


def last_ids(conn: sqlite3.Connection) -> dict[str, int]:
    """The highest id of each chained table now: rows written later have higher ids."""
    tables = ("records", "versions", "changes", "events")
    row = conn.execute("SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {table})"
                                             for table in tables)).fetchone()
    return dict(zip(tables, row, strict=True))


def append(conn: sqlite3.Connection, event: str, ref: int, at: str) -> None:
    """Chain row ``ref`` (already written in this transaction) into the ledger."""
    body = body_of(conn, event, ref)
    if body is None:
        raise ValueError(f"{event} {ref} does not exist")
    Chain(conn, at).add([(event, ref, body)])


def chain_groupings(chain: Chain) -> int:
    """Chain the event of every change whose entries do not hold it yet (changes chained
    before events, grouped later); returns how many."""
    known = {ref for (ref,) in chain.conn.execute(
        "SELECT ref FROM ledger WHERE event IN ('change', 'grouping') "
        "AND json_type(body, '$.event_id') IS NOT NULL")}
    return chain.add([("grouping", ref, body) for ref, body in _bodies(
        chain.conn, "grouping", "t.event_id IS NOT NULL", ()) if ref not in known])


def chain_existing(conn: sqlite3.Connection, at: str) -> dict[str, int]:
    """Chain every record, version and event not in the ledger yet, and the grouping of
    changes into events (a history written before they were evidence). A version is chained
    with its record's title only if it is the record's newest; what title an older one had
    is not known. Returns how many entries of each kind were added."""
    chain = Chain(conn, at)
    newest = ("CASE WHEN t.id = (SELECT id FROM versions WHERE record_id = t.record_id "
              "ORDER BY valid_from DESC, id DESC LIMIT 1) THEN r.title END")
    added = {}
    for kind in ("record", "version", "event"):
        added[kind] = chain.rows(
            kind, "t.id NOT IN (SELECT ref FROM ledger WHERE event = ?)", [kind],
            title=newest)
    added["grouping"] = chain_groupings(chain)
    return added


# ---------------------------------------------------------------------------------------
# Verifying


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    #: What does not hold, one line each, naming table and row; empty when all holds.
    problems: tuple[str, ...] = ()
    #: The hash of the last entry and its id (GENESIS and 0 for an empty ledger).
    head: str = GENESIS
    head_id: int = 0
    #: Entries per kind.
    kinds: Mapping[str, int] = field(default_factory=dict)

    @property
    def problem(self) -> str:
        """The first problem, or empty."""
        return self.problems[0] if self.problems else ""


@dataclass(frozen=True)
class _Entry:
    id: int
    kind: str
    body: str


@dataclass
class _Walk:
    """What the walk along the chain found: the entries per table and row."""

    count: int = 0
    head: str = GENESIS
    head_id: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    chained: dict[str, dict[int, list[_Entry]]] = field(
        default_factory=lambda: {table: {} for table in _TABLES})
    problem: str = ""


def _walk(conn: sqlite3.Connection) -> _Walk:
    walk = _Walk()
    for entry_id, kind, ref, body, entry_prev, entry_hash in conn.execute(
            "SELECT id, event, ref, body, prev, hash FROM ledger ORDER BY id"):
        walk.count += 1
        where = f"ledger entry {entry_id} ({kind} {ref})"
        if entry_prev != walk.head:
            walk.problem = (f"{where}: the chain is broken here (an entry before it was "
                            "removed or reordered)")
        elif _hash(walk.head, kind, body) != entry_hash:
            walk.problem = f"{where}: the entry itself was altered"
        elif kind not in _KINDS:
            walk.problem = f"{where}: unknown kind of entry {kind!r}"
        if walk.problem:
            return walk
        walk.head, walk.head_id = entry_hash, entry_id
        walk.kinds[kind] = walk.kinds.get(kind, 0) + 1
        walk.chained[_KINDS[kind].table].setdefault(ref, []).append(
            _Entry(entry_id, kind, body))
    return walk


def verify(conn: sqlite3.Connection) -> Verification:
    """Walk the ledger, then compare every row of the chained tables with its entries."""
    walk = _walk(conn)
    problems: list[str] = []
    if walk.problem:
        problems.append(walk.problem)
    else:
        titles: dict[int, tuple[str, int, int, str | None]] = {}
        for table in _TABLES:
            problems.extend(_check_table(conn, table, walk.chained[table], titles))
    return Verification(not problems, walk.count, tuple(problems), walk.head, walk.head_id,
                        dict(walk.kinds))


def _check_table(conn: sqlite3.Connection, table: str, chained: dict[int, list[_Entry]],
                 titles: dict[int, tuple[str, int, int, str | None]]) -> Iterator[str]:
    """Stream ``table`` in id order and compare each row with its entries; then name the
    chained rows that are gone. ``titles`` (record id → valid_from, version id, entry id
    and title of its newest version) is filled from versions and checked with records."""
    kinds = [kind for kind, spec in _KINDS.items() if spec.table == table]
    columns = sorted({c for kind in kinds for c in _KINDS[kind].columns}
                     | ({"title"} if table == "records" else set()))
    context, join = _TABLES[table]
    cursor = conn.execute(f"SELECT {', '.join(f't.{c}' for c in columns)}, {context} "
                          f"FROM {table} t {join} ORDER BY t.id")
    for row in cursor:
        values = dict(zip(columns, row[:-1], strict=True))
        name = f"{table} row {values['id']}" + (f" ({row[-1]})" if row[-1] else "")
        entries = chained.pop(values["id"], [])
        missing = [k for k in kinds if _KINDS[k].required
                   and not any(e.kind == k for e in entries)]
        if missing:
            yield f"{name}: not in the ledger (written around it)"
        for entry in entries:
            stored = json.loads(entry.body)
            altered = _altered(entry.kind, stored, _facts(entry.kind, values))
            if altered:
                yield (f"{name}: {', '.join(altered)} altered since it was chained in "
                       f"ledger entry {entry.id}")
            if entry.kind == "version":
                _note_title(titles, values, entry.id, stored)
        if table == "records" and values["id"] in titles:
            _valid_from, version_id, entry_id, title = titles[values["id"]]
            if title is not None and title != values["title"]:
                yield (f"{name}: title altered since it was chained with its newest version "
                       f"(versions row {version_id}) in ledger entry {entry_id}")
    for ref, entries in sorted(chained.items()):
        yield f"{table} row {ref}: deleted, but chained in ledger entry {entries[0].id}"


def _altered(kind: str, stored: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The facts (as people call them) whose stored value differs from the row's now."""
    skip = _NOT_COLUMNS.get(kind, set())
    names = [key for key, value in stored.items()
             if key not in skip and (key not in now or now[key] != value)]
    return ["content" if name == "content_sha256" else name for name in sorted(names)]


def _note_title(titles: dict[int, tuple[str, int, int, str | None]],
                values: Mapping[str, Any], entry_id: int, stored: Mapping[str, Any]) -> None:
    """Keep the newest version of each record (by valid_from, then id) and its title."""
    record_id = values["record_id"]
    newest = (values["valid_from"], values["id"])
    if record_id not in titles or newest > titles[record_id][:2]:
        titles[record_id] = (*newest, entry_id, stored.get("title"))
