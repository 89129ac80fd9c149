"""Events in the history: the grouping of a crawl's changes, written in its transaction,
and the grouping of histories that were written before there were events.

Tables (see :mod:`.schema`): ``events`` (one edit: subject, title, office, severity,
status, when it was opened and how the working group heard of it), ``witnesses`` (the
crawls that saw it, with their source's kind) and ``changes.event_id``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import StoreError
from ..events import (
    Member,
    NewEvent,
    OpenEvent,
    ZufiIndex,
    assign,
    office_name,
    record_context,
    refs_of,
    status_of,
    subject_of,
    worst,
)
from ..model import Change, split_key
from ..timeutil import stored, system_clock
from . import ledger
from .schema import VOLATILE

__all__ = ["EventInputs", "Touched", "backfill", "group_crawl", "source_kind_of"]

#: How far back a link or Onlinedienst that appears or disappears looks for the edit
#: that brought it in or took it out (the link checker sees it a crawl later, and a record
#: is concluded removed only after consecutive misses).
REFERENCE_DAYS = 7


@dataclass(frozen=True)
class EventInputs:
    """What grouping a crawl's changes needs besides the changes and the history."""

    #: "tsa", "pvog" or "links" (the source's kind in the configuration).
    source_kind: str
    #: The PVOG's delay in importing the ZuFi: later witnesses join within it.
    window_hours: float = 48.0
    #: The source whose records' subjects the crawl's records share, key for key (a link
    #: watch: its PVOG source); "" for a source whose records are subjects of their own.
    subject_source: str = ""


@dataclass(frozen=True)
class Touched:
    """An event a crawl opened or joined, and whether the working group must hear now."""

    event_id: int
    opened: bool
    severity_before: str
    severity: str
    status: str
    notified: str | None


def source_kind_of(parser_version: str) -> str:
    """The kind of source a crawl read, from its parser version (``tsa-2`` → tsa)."""
    head = parser_version.split("-", 1)[0]
    return {"tsa": "tsa", "pvog": "pvog", "links": "links"}.get(head, head)


def _zufi_index(conn: sqlite3.Connection) -> ZufiIndex:
    """The ZuFi's Leistungen and offices, for pairing PVOG records with them; each part is
    read when first asked for."""
    sources = [row[0] for row in conn.execute(
        "SELECT DISTINCT source FROM crawls WHERE parser_version LIKE 'tsa-%'")]
    if not sources:
        return ZufiIndex()
    marks = ",".join("?" * len(sources))

    def has_leistung(key: str) -> bool:
        # A Leistung the ZuFi has removed is still the one the PVOG's deep link names.
        return conn.execute(f"SELECT 1 FROM records WHERE source IN ({marks}) AND key = ? "
                            "AND kind = 'leistung' LIMIT 1", [*sources, key]).fetchone() \
            is not None

    return ZufiIndex(has_leistung, functools.cache(lambda: _sole_owners(conn, sources, "leika")),
                     functools.cache(lambda: _sole_owners(conn, sources, "name")))


def _sole_owners(conn: sqlite3.Connection, sources: Sequence[str],
                 field: str) -> dict[str, str]:
    """LeiKa key → the one present Leistung of ``sources`` carrying it (``field`` "leika"),
    or office name (case and spacing aside) → the one office of that name ("name");
    values several records share are left out."""
    kind = "leistung" if field == "leika" else "organisationseinheit"
    owners: dict[str, set[str]] = {}
    for key, value in conn.execute(
            f"SELECT r.key, json_extract(v.content, '$.{field}') FROM records r "
            "JOIN versions v ON v.id = r.current_version "
            f"WHERE r.source IN ({','.join('?' * len(sources))}) AND r.kind = ?",
            [*sources, kind]):
        names = [str(item) for item in _json_list(value)] if field == "leika" \
            else [office_name(value)]
        for name in names:
            owners.setdefault(name, set()).add(key)
    return {name: next(iter(keys)) for name, keys in owners.items() if len(keys) == 1 and name}


def _json_list(text: str | None) -> list[Any]:
    """A JSON array as ``json_extract`` gives it (text), or nothing."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _candidates(conn: sqlite3.Connection, since: str) -> list[OpenEvent]:
    """Events opened at or after ``since`` with their changes and witnesses."""
    events: dict[int, dict[str, Any]] = {}
    for event_id, subject, opened_at in conn.execute(
            "SELECT id, subject, opened_at FROM events WHERE opened_at >= ? "
            "AND cause = 'source'", [since]):
        events[event_id] = {"subject": subject, "opened_at": opened_at,
                            "witnesses": set(), "changes": []}
    if not events:
        return []
    for event_id, source in conn.execute(
            "SELECT w.event_id, w.source FROM witnesses w JOIN events e ON e.id = w.event_id "
            "WHERE e.opened_at >= ?", [since]):
        if event_id in events:
            events[event_id]["witnesses"].add(source)
    for event_id, key, change in _event_changes(conn, since):
        if event_id in events:
            events[event_id]["changes"].append((key, change))
    return [OpenEvent(i, e["subject"], e["opened_at"], frozenset(e["witnesses"]),
                      tuple(e["changes"])) for i, e in events.items()]


def _event_changes(conn: sqlite3.Connection, since: str) -> list[tuple[int, str, Change]]:
    rows = conn.execute(
        "SELECT c.event_id, r.key, c.change_type, c.path, c.label, c.old_value, c.new_value "
        "FROM changes c JOIN records r ON r.id = c.record_id JOIN events e "
        "ON e.id = c.event_id WHERE e.opened_at >= ? AND e.cause = 'source' "
        "ORDER BY c.id", [since])
    return [(event_id, key, Change(kind, path, label, _load(old), _load(new)))
            for event_id, key, kind, path, label, old, new in rows]


def _recent_refs(conn: sqlite3.Connection, since: str) -> list[tuple[int, str, frozenset[str]]]:
    """(event id, opened at, links and Onlinedienste its Leistung changes name)."""
    found: dict[int, set[str]] = {}
    opened = dict(conn.execute("SELECT id, opened_at FROM events WHERE opened_at >= ?",
                               [since]).fetchall())
    for event_id, key, change in _event_changes(conn, since):
        if split_key(key)[0] == "leistung":
            refs = refs_of(key, change)
            if refs:
                found.setdefault(event_id, set()).update(refs)
    return [(event_id, opened[event_id], frozenset(refs)) for event_id, refs in found.items()]


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def group_crawl(conn: sqlite3.Connection, *, crawl_id: int, source: str, at: str,
                cause: str, changes: Sequence[tuple[str, Change]], change_ids: Sequence[int],
                notes: Sequence[Mapping[str, Any]], flaps: Mapping[int, int],
                inputs: EventInputs, adopt_status: bool = True) -> list[Touched]:
    """Put a crawl's stored changes into events: open new ones, join earlier ones, note
    the crawl as a witness. A change that joins an expected or acknowledged event takes
    its status (unless ``adopt_status`` is false: grouping an earlier history keeps every
    change as it was). Returns the events touched."""
    if not changes:
        return []
    records = _records_of(conn, change_ids)
    members = [Member(i, key, change, str(notes[i].get("severity", "low")) if notes else "low",
                      str(notes[i].get("status", "untracked")) if notes else "untracked",
                      flaps.get(i)) for i, (key, change) in enumerate(changes)]
    now = datetime.fromisoformat(at)
    window_start = (now - timedelta(hours=inputs.window_hours)).isoformat()
    refs_since = (now - timedelta(days=REFERENCE_DAYS)).isoformat()
    if cause != "source":  # a parser's re-reading: its own events, joining nothing
        candidates: list[OpenEvent] = []
        subjects = {key: key for key, _ in changes}
        flap_events: dict[int, int] = {}
        recent = None
    else:
        candidates = _candidates(conn, window_start)
        subjects = (_subjects_of(conn, inputs.subject_source, records)
                    if inputs.subject_source else
                    _subjects(conn, source, inputs.source_kind, records))
        roots = sorted({root for root in flaps.values()})
        flap_events = dict(conn.execute(
            f"SELECT id, event_id FROM changes WHERE id IN ({','.join('?' * len(roots))}) "
            "AND event_id IS NOT NULL", roots).fetchall()) if roots else {}

        def recent() -> list[tuple[int, str, frozenset[str]]]:
            return _recent_refs(conn, refs_since)

    plan = assign(source, members, subjects, candidates, flap_events=flap_events,
                  recent_refs=recent, window_start=window_start)
    witness = (crawl_id, source, inputs.source_kind, at)
    touched = [_open(conn, event, [members[i] for i in event.members], records, cause,
                     [change_ids[i] for i in event.members], witness)
               for event in plan.new]
    joined: dict[int, list[int]] = {}
    for index, event_id in plan.joins.items():
        joined.setdefault(event_id, []).append(index)
    for event_id, indices in sorted(joined.items()):
        touched.append(_join(conn, event_id, [members[i] for i in indices], records,
                             [change_ids[i] for i in indices], witness, adopt_status))
    return touched


Witness = tuple[int, str, str, str]  # crawl id, source, source kind, when


def _open(conn: sqlite3.Connection, event: NewEvent, members: list[Member],
          records: Mapping[str, tuple[dict[str, Any], dict[str, Any]]], cause: str,
          change_ids: list[int], witness: Witness) -> Touched:
    """Write a new event: its subject, the title and office of the record that opened it,
    the worst severity and the status of its changes."""
    kind = split_key(event.key)[0]
    context = record_context(kind, *records.get(event.key, ({}, {})))
    severity, status = worst(m.severity for m in members), status_of(members)
    crawl_id, source, _kind, at = witness
    cursor = conn.execute(
        "INSERT INTO events (subject, kind, key, source, title, office, opened_at, "
        "crawl_id, cause, severity, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [event.subject, kind, event.key, source, str(context["title"] or ""),
         str(context["office"] or ""), at, crawl_id, cause, severity, status])
    if cursor.lastrowid is None:
        raise StoreError("the database reported no id for the event just inserted")
    _attach(conn, cursor.lastrowid, change_ids, witness)
    return Touched(cursor.lastrowid, True, "low", severity, status, None)


def _join(conn: sqlite3.Connection, event_id: int, members: list[Member],
          records: Mapping[str, tuple[dict[str, Any], dict[str, Any]]],
          change_ids: list[int], witness: Witness, adopt_status: bool) -> Touched:
    """Add a later witness's changes to an event. What it adds that is worse than what was
    known reopens the edit; otherwise what it shows was expected or reviewed with it."""
    before, status, notified, office = conn.execute(
        "SELECT severity, status, notified, office FROM events WHERE id = ?",
        [event_id]).fetchone()
    severity = worst([before, *(m.severity for m in members)])
    status = "untracked" if severity != before else status
    office = office or _office_of(records, [m.key for m in members])
    conn.execute("UPDATE events SET severity = ?, office = ?, status = ? WHERE id = ?",
                 [severity, office, status, event_id])
    _attach(conn, event_id, change_ids, witness)
    if status != "untracked" and adopt_status:
        conn.executemany("UPDATE changes SET status = ? WHERE id = ?",
                         [(status, change_id) for change_id in change_ids])
    return Touched(event_id, False, before, severity, status, notified)


def _records_of(conn: sqlite3.Connection, change_ids: Sequence[int],
                ) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Record key → (content, volatile fields) the changes led to: the version a change
    wrote, or for a removal the record's last version."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    ids = list(change_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for key, content, volatile in conn.execute(
                f"SELECT r.key, v.content, {VOLATILE} FROM changes c "
                "JOIN records r ON r.id = c.record_id JOIN versions v ON v.id = "
                "coalesce(c.version_id, (SELECT id FROM versions WHERE record_id = r.id "
                "  ORDER BY valid_from DESC, id DESC LIMIT 1)) "
                f"WHERE c.id IN ({','.join('?' * len(chunk))})", chunk):
            if key not in found:
                found[key] = (json.loads(content), json.loads(volatile or "{}"))
    return found


def _office_of(records: Mapping[str, tuple[dict[str, Any], dict[str, Any]]],
               keys: Sequence[str]) -> str:
    for key in keys:
        context = record_context(split_key(key)[0], *records.get(key, ({}, {})))
        if context["office"]:
            return str(context["office"])
    return ""


def _attach(conn: sqlite3.Connection, event_id: int, change_ids: Sequence[int],
            witness: Witness) -> None:
    conn.executemany("UPDATE changes SET event_id = ? WHERE id = ?",
                     [(event_id, change_id) for change_id in change_ids])
    conn.execute("INSERT OR IGNORE INTO witnesses (event_id, crawl_id, source, source_kind, at) "
                 "VALUES (?, ?, ?, ?, ?)", [event_id, *witness])


def _subjects(conn: sqlite3.Connection, source: str, source_kind: str,
              records: Mapping[str, tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, str]:
    if source_kind != "pvog":
        return {key: key for key in records}
    zufi = _zufi_index(conn)
    pvog_leika = functools.cache(lambda: _sole_owners(conn, [source], "leika"))
    return {key: subject_of("pvog", key, content, zufi, pvog_leika)
            for key, (content, _volatile) in records.items()}


def _subjects_of(conn: sqlite3.Connection, source: str,
                 records: Mapping[str, tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, str]:
    """The subjects of records that are another source's records seen another way (a link
    watch's Leistungen are its PVOG source's): that source's record of the same key decides
    (its current or last version); a key it does not hold (yet) is paired by the record's
    own content."""
    theirs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    keys = list(records)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        for key, content in conn.execute(
                "SELECT r.key, v.content FROM records r JOIN versions v ON v.id = "
                "coalesce(r.current_version, (SELECT id FROM versions WHERE record_id = r.id "
                "  ORDER BY valid_from DESC, id DESC LIMIT 1)) "
                f"WHERE r.source = ? AND r.key IN ({','.join('?' * len(chunk))})",
                [source, *chunk]):
            theirs[key] = (json.loads(content), {})
    subjects = _subjects(conn, source, "pvog", {**records, **theirs})
    zufi: ZufiIndex | None = None
    for key, (_content, volatile) in records.items():
        leika = [str(k) for k in volatile.get("leika") or []]
        if key in theirs or subjects.get(key) != key or not leika:
            continue
        zufi = zufi or _zufi_index(conn)
        subjects[key] = _paired_by_leika(conn, source, key, leika, zufi)
    return subjects


def _paired_by_leika(conn: sqlite3.Connection, source: str, key: str, leika: Sequence[str],
                     zufi: ZufiIndex) -> str:
    """A Leistung ``source`` does not hold yet, paired with the one ZuFi Leistung of one of
    its LeiKa keys that no other Leistung of ``source`` carries; else ``key``."""
    for code in leika:
        paired = zufi.leika().get(code)
        if not paired:
            continue
        others = conn.execute(
            "SELECT 1 FROM records r JOIN versions v ON v.id = r.current_version "
            "JOIN json_each(json_extract(v.content, '$.leika')) j WHERE r.source = ? "
            "AND r.kind = 'leistung' AND r.key != ? AND j.value = ? LIMIT 1",
            [source, key, code]).fetchone()
        if others is None:
            return paired
    return key


# ---------------------------------------------------------------------------------------
# Histories from before events


def backfill(conn: sqlite3.Connection, window_hours: float = 48.0) -> int:
    """Group the changes that belong to no event yet, crawl by crawl in the order they were
    stored, by the rules new crawls follow; their triage state carries over (an event is
    acknowledged when all its changes are, reported when one of them was). Nothing is
    deleted or altered but the changes' ``event_id``. The events opened and the grouping
    are chained into the evidence ledger. Returns how many events it opened."""
    first_event = ledger.last_ids(conn)["events"]
    crawls = conn.execute(
        "SELECT DISTINCT c.crawl_id, k.source, k.parser_version, k.mode FROM changes c "
        "JOIN crawls k ON k.id = c.crawl_id WHERE c.event_id IS NULL "
        "ORDER BY k.started_at, k.id").fetchall()
    opened = 0
    for crawl_id, source, parser_version, mode in crawls:
        rows = conn.execute(
            "SELECT c.id, r.key, c.change_type, c.path, c.label, c.old_value, c.new_value, "
            "c.severity, c.status, c.flap_of, c.cause, c.detected_at, c.notified, "
            "c.reminded_at, c.version_id, c.record_id FROM changes c "
            "JOIN records r ON r.id = c.record_id WHERE c.crawl_id = ? AND "
            "c.event_id IS NULL ORDER BY c.id", [crawl_id]).fetchall()
        changes = [(row[1], Change(row[2], row[3], row[4], _load(row[5]), _load(row[6])))
                   for row in rows]
        notes = [{"severity": row[7], "status": row[8]} for row in rows]
        ids = [row[0] for row in rows]
        flaps = {i: row[9] for i, row in enumerate(rows) if row[9] is not None}
        cause = "parser" if mode == "reparse" or any(row[10] == "parser" for row in rows) \
            else "source"
        inputs = EventInputs(source_kind_of(parser_version), window_hours)
        touched = group_crawl(conn, crawl_id=crawl_id, source=source, at=rows[0][11],
                              cause=cause, changes=changes, change_ids=ids, notes=notes,
                              flaps=flaps, inputs=inputs, adopt_status=False)
        for item in touched:
            _carry_over(conn, item.event_id)
        opened += sum(1 for item in touched if item.opened)
    chain = ledger.Chain(conn, stored(system_clock()))
    chain.after("event", first_event)
    ledger.chain_groupings(chain)
    return opened


def _carry_over(conn: sqlite3.Connection, event_id: int) -> None:
    """An event grouped from earlier changes keeps what was done about them."""
    statuses, notified, reminded = set(), [], []
    for status, note, reminded_at in conn.execute(
            "SELECT status, notified, reminded_at FROM changes WHERE event_id = ?",
            [event_id]):
        statuses.add(status)
        if note:
            notified.append(note)
        if reminded_at:
            reminded.append(reminded_at)
    status = ("acknowledged" if statuses == {"acknowledged"} else
              conn.execute("SELECT status FROM events WHERE id = ?", [event_id]).fetchone()[0])
    conn.execute("UPDATE events SET status = ?, notified = ?, reminded_at = ? WHERE id = ?",
                 [status, _first_notice(notified), max(reminded, default=None), event_id])


def _first_notice(kinds: list[str]) -> str | None:
    for kind in ("immediate", "digest"):
        if kind in kinds:
            return kind
    return kinds[0] if kinds else None


# ---------------------------------------------------------------------------------------
# Reading events


def read_events(conn: sqlite3.Connection, where: str = "", params: Sequence[Any] = (), *,
                order: str = "e.opened_at, e.id", limit: int | None = None,
                ) -> list[dict[str, Any]]:
    """Events as dicts: the event's columns, ``witnesses`` (source, source_kind, at,
    crawl_id; first first) and ``changes`` (every change, decoded, with its record's key,
    kind, source and title; oldest first). ``where`` filters on ``e`` (events)."""
    clause = f"WHERE {where}" if where else ""
    tail = f" LIMIT {int(limit)}" if limit else ""
    events = [dict(zip([d[0] for d in cursor.description], row, strict=True))
              for cursor in [conn.execute(f"SELECT e.* FROM events e {clause} "
                                          f"ORDER BY {order}{tail}", list(params))]
              for row in cursor.fetchall()]
    if not events:
        return []
    by_id = {event["id"]: event for event in events}
    for event in events:
        event["witnesses"], event["changes"] = [], []
    ids = sorted(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for event_id, crawl_id, source, kind, at in conn.execute(
                f"SELECT event_id, crawl_id, source, source_kind, at FROM witnesses "
                f"WHERE event_id IN ({marks}) ORDER BY at, crawl_id", chunk):
            by_id[event_id]["witnesses"].append(
                {"source": source, "source_kind": kind, "at": at, "crawl_id": crawl_id})
        cursor = conn.execute(
            "SELECT c.event_id, c.id, c.detected_at, r.source, r.key, r.kind, r.title, "
            "c.change_type, c.path, c.label, c.old_value, c.new_value, c.cause, c.flap_of, "
            "c.severity, c.reasons, c.status, c.crawl_id, c.version_id FROM changes c "
            f"JOIN records r ON r.id = c.record_id WHERE c.event_id IN ({marks}) "
            "ORDER BY c.detected_at, c.id", chunk)
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            change = dict(zip(names, row, strict=True))
            event_id = change.pop("event_id")
            change["reasons"] = json.loads(change["reasons"] or "[]")
            change["old_value"] = _load(change["old_value"])
            change["new_value"] = _load(change["new_value"])
            by_id[event_id]["changes"].append(change)
    return events
