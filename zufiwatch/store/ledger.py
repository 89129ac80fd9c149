"""Evidence: changes, expectations, acknowledgements and withdrawals chained by hashes, in order.

Every such row gets a ledger entry in the same transaction that writes it: the canonical
JSON of the row's facts (``body``), the hash of the entry before (``prev``) and
``hash = sha256(prev, event, body)``. :func:`verify` recomputes the chain and compares each
body with the row as it is now, so rewriting history (a changed value, a deleted
acknowledgement, a reordered entry) shows up as the first break.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from ..model import canonical_json

__all__ = ["GENESIS", "Verification", "append", "body_of", "verify"]

GENESIS = "0" * 64

#: The facts of each kind of row that the ledger vouches for (status columns that change
#: later, such as a change's triage status, are evidenced by their own events).
_FACTS = {
    "change": ("changes", ["id", "crawl_id", "record_id", "detected_at", "change_type",
                           "path", "label", "old_value", "new_value", "cause"]),
    "expectation": ("expectations", ["id", "created_at", "key", "field", "value", "until",
                                     "by", "note"]),
    "acknowledgement": ("acknowledgements", ["id", "change_id", "at", "by", "note"]),
    "withdrawal": ("withdrawals", ["id", "expectation_id", "at", "by", "note"]),
}


def _hash(prev: str, event: str, body: str) -> str:
    return hashlib.sha256(f"{prev}\n{event}\n{body}".encode()).hexdigest()


def body_of(conn: sqlite3.Connection, event: str, ref: int) -> str | None:
    """The canonical facts of row ``ref`` of the ``event`` kind, or None if it is gone."""
    table, columns = _FACTS[event]
    row = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?",
                       [ref]).fetchone()
    return None if row is None else canonical_json(dict(zip(columns, row, strict=True)))


def append(conn: sqlite3.Connection, event: str, ref: int, at: str) -> None:
    """Chain row ``ref`` (already written in this transaction) into the ledger."""
    body = body_of(conn, event, ref)
    if body is None:
        raise ValueError(f"{event} {ref} does not exist")
    last = conn.execute("SELECT hash FROM ledger ORDER BY id DESC LIMIT 1").fetchone()
    prev = last[0] if last else GENESIS
    conn.execute("INSERT INTO ledger (at, event, ref, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
                 [at, event, ref, body, prev, _hash(prev, event, body)])


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    #: The first break, in words; empty when the chain holds.
    problem: str = ""


def verify(conn: sqlite3.Connection) -> Verification:
    """Walk the ledger; report the first entry that does not hold."""
    prev = GENESIS
    count = 0
    covered: dict[str, set[int]] = {event: set() for event in _FACTS}
    for entry_id, event, ref, body, entry_prev, entry_hash in conn.execute(
            "SELECT id, event, ref, body, prev, hash FROM ledger ORDER BY id"):
        count += 1
        where = f"ledger entry {entry_id} ({event} {ref})"
        if entry_prev != prev:
            return Verification(False, count, f"{where}: the chain is broken here (an entry "
                                "before it was removed or reordered)")
        if _hash(prev, event, body) != entry_hash:
            return Verification(False, count, f"{where}: the entry itself was altered")
        now = body_of(conn, event, ref)
        if now is None:
            return Verification(False, count, f"{where}: the {event} was deleted")
        if now != body:
            return Verification(False, count, f"{where}: the {event} was altered since")
        covered[event].add(ref)
        prev = entry_hash
    for event, (table, _columns) in _FACTS.items():
        for (ref,) in conn.execute(f"SELECT id FROM {table} ORDER BY id"):
            if ref not in covered[event]:
                return Verification(False, count, f"{event} {ref} is not in the ledger "
                                    "(written around it)")
    return Verification(True, count)
