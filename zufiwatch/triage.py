"""Tracked or untracked: the expected-change register and acknowledgements.

The AG OZG records beforehand what it intends to change (``expect``); a detected change
that matches an open expectation is ``expected``. Afterwards, events (an edit with the
changes its witnesses saw) can be marked as reviewed (``ack``): ``acknowledged``. Everything
else stays ``untracked`` and is what the alerts are about. Expectations and
acknowledgements are chained into the evidence ledger.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from .differ import field_paths, record_labels
from .errors import QueryError
from .model import Change, split_key
from .render import short_value
from .store import History
from .store import ledger as evidence
from .store.history import inserted_id
from .timeutil import stored

__all__ = ["acknowledge", "check_field", "expect", "expectations", "mark_overdue", "match",
           "open_for", "record_fields", "unknown_events", "withdraw"]


def expect(history: History, *, key: str, field: str, value: str, until: datetime,
           by: str, note: str = "", now: datetime) -> int:
    """Record an intended change; returns the expectation's id."""
    try:
        split_key(key)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    record = history.find_record(key)
    if not field.strip() or not by.strip():
        raise QueryError("an expectation needs --field and --by")
    check_field(history, record, field)
    if until <= now:
        raise QueryError("--until must be in the future")
    at = stored(now)
    with history.db.atomic():
        cursor = history.db.execute(
            "INSERT INTO expectations (created_at, key, field, value, until, by, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", [at, key, field.strip(), value, stored(until),
                                           by.strip(), note])
        expectation_id = inserted_id(cursor)
        evidence.append(history.db.conn, "expectation", expectation_id, at)
    return expectation_id


def record_fields(history: History, record: dict[str, Any]) -> dict[str, str]:
    """The fields a record's changes can name, path → label: every field of its newest
    version (labelled as the differ labels them) and the record-level changes."""
    versions = history.versions(record["id"])
    content = json.loads(versions[-1]["content"]) if versions else {}
    fields = field_paths(record["kind"], content)
    fields.update({label: label for label in record_labels(record["kind"], record["status"])})
    return fields


def check_field(history: History, record: dict[str, Any], field: str) -> None:
    """QueryError naming the field and listing the record's fields, unless ``field`` is the
    label or path of one of them, or their start (case-insensitive, as :func:`match`)."""
    wanted = field.strip().casefold()
    fields = record_fields(history, record)
    if any(label.casefold().startswith(wanted) or path.casefold().startswith(wanted)
           for path, label in fields.items()):
        return
    labels = sorted({label for label in fields.values() if label}, key=str.casefold)
    raise QueryError(f"{record['key']} has no field {field.strip()!r}; --field takes one of "
                     "these labels, or its start:\n  " + "\n  ".join(labels))


def acknowledge(history: History, event_ids: Sequence[int], *, by: str, note: str = "",
                now: datetime) -> list[int]:
    """Mark events as reviewed, and with them every change their witnesses reported;
    returns the ids of the events that were not acknowledged before. Each change gets its
    acknowledgement in the evidence ledger."""
    if not by.strip():
        raise QueryError("an acknowledgement needs --by")
    wanted = list(dict.fromkeys(event_ids))
    known = _event_status(history, wanted)
    missing = [i for i in wanted if i not in known]
    if missing:
        raise QueryError(f"no change with id {', '.join(map(str, missing))} "
                         "('zufiwatch changes' lists them)")
    at = stored(now)
    fresh = [i for i in wanted if known[i] != "acknowledged"]
    with history.db.atomic():
        for event_id in fresh:
            for (change_id,) in history.db.execute(
                    "SELECT id FROM changes WHERE event_id = ? AND status != 'acknowledged' "
                    "ORDER BY id", [event_id]).fetchall():
                cursor = history.db.execute(
                    "INSERT INTO acknowledgements (change_id, at, by, note) "
                    "VALUES (?, ?, ?, ?)", [change_id, at, by.strip(), note])
                evidence.append(history.db.conn, "acknowledgement", inserted_id(cursor), at)
                history.db.execute("UPDATE changes SET status = 'acknowledged' WHERE id = ?",
                                   [change_id])
            history.db.execute("UPDATE events SET status = 'acknowledged' WHERE id = ?",
                               [event_id])
    return fresh


def unknown_events(history: History, event_ids: Sequence[int]) -> list[int]:
    """The ids among ``event_ids`` that name no event, in the order given."""
    known = _event_status(history, list(dict.fromkeys(event_ids)))
    return [i for i in dict.fromkeys(event_ids) if i not in known]


def _event_status(history: History, event_ids: list[int]) -> dict[int, str]:
    return {row[0]: row[1] for row in history.db.execute(
        f"SELECT id, status FROM events WHERE id IN ({','.join('?' * len(event_ids))})",
        event_ids)}


def withdraw(history: History, expectation_id: int, *, by: str, note: str = "",
             now: datetime) -> None:
    """Withdraw an open or overdue expectation (status ``withdrawn``): it no longer makes
    changes expected nor is reminded. The withdrawal is in the evidence ledger."""
    if not by.strip():
        raise QueryError("a withdrawal needs --by")
    at = stored(now)
    with history.db.atomic():
        row = history.db.execute("SELECT status FROM expectations WHERE id = ?",
                                 [expectation_id]).fetchone()
        if row is None:
            raise QueryError(f"no expectation with id {expectation_id} "
                             "('zufiwatch expectations' lists them)")
        if row[0] not in ("open", "overdue"):
            raise QueryError(f"expectation {expectation_id} is {row[0]}; only an open or "
                             "overdue expectation can be withdrawn")
        cursor = history.db.execute(
            "INSERT INTO withdrawals (expectation_id, at, by, note) VALUES (?, ?, ?, ?)",
            [expectation_id, at, by.strip(), note])
        evidence.append(history.db.conn, "withdrawal", inserted_id(cursor), at)
        history.db.execute("UPDATE expectations SET status = 'withdrawn' WHERE id = ?",
                           [expectation_id])


def expectations(history: History, *, status: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    return list(history.db.query(f"SELECT * FROM expectations {where} ORDER BY until, id",
                                 params))


def open_for(history: History, keys: Iterable[str], at: str) -> dict[str, list[dict[str, Any]]]:
    """Open expectations of these records whose date has not passed at ``at``."""
    wanted = sorted(set(keys))
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in history.db.query(
                f"SELECT * FROM expectations WHERE status IN ('open', 'overdue') "
                f"AND key IN ({','.join('?' * len(chunk))}) ORDER BY id", chunk):
            if row["until"] >= at or row["status"] == "overdue":
                found.setdefault(row["key"], []).append(row)
    return found


def match(candidates: Sequence[dict[str, Any]], change: Change) -> dict[str, Any] | None:
    """The first expectation this change fulfils: same field (label or path, or their
    start) and the expected value found in the new value (case-insensitive)."""
    new_text = short_value(change.new).casefold()
    for expectation in candidates:
        field = expectation["field"].casefold()
        if not (change.label.casefold().startswith(field)
                or change.path.casefold().startswith(field)):
            continue
        value = expectation["value"].casefold().strip()
        if not value or value in new_text:
            return expectation
    return None


def mark_overdue(history: History, now: datetime) -> list[dict[str, Any]]:
    """Open expectations whose date passed become ``overdue``; returns those not yet
    reported (and marks them reported)."""
    at = stored(now)
    with history.db.atomic():
        history.db.execute("UPDATE expectations SET status = 'overdue' "
                           "WHERE status = 'open' AND until < ?", [at])
        rows = list(history.db.query(
            "SELECT * FROM expectations WHERE status = 'overdue' AND "
            "overdue_reported_at IS NULL ORDER BY until"))
    return rows
