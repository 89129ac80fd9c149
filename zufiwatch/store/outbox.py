"""The outbox: messages written in the same transaction as what they report, sent later.

A message is ``pending`` until an SMTP server accepted it (``sent``), or until it failed
``max_attempts`` times (``failed``). Its Message-ID is stable and unique here, so the same
message is never queued twice.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded only when messages are read back (see parse)
    from email.message import EmailMessage

__all__ = ["Queued", "due", "enqueue", "mark_failed", "mark_sent", "parse"]


@dataclass(frozen=True)
class Queued:
    id: int
    kind: str
    message_id: str
    subject: str
    attempts: int
    raw: bytes


def enqueue(conn: sqlite3.Connection, kind: str, message: EmailMessage, at: str) -> bool:
    """Queue ``message`` (inside the caller's transaction); False if already queued."""
    recipients = ", ".join(str(a) for a in (message.get_all("To") or []))
    cursor = conn.execute(
        "INSERT OR IGNORE INTO outbox (created_at, kind, message_id, subject, recipients, "
        "message, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [at, kind, str(message["Message-ID"]), str(message["Subject"]), recipients,
         bytes(message), at])
    return cursor.rowcount == 1


def due(conn: sqlite3.Connection, now: str) -> list[Queued]:
    """Pending messages whose next attempt is due, oldest first."""
    return [Queued(*row) for row in conn.execute(
        "SELECT id, kind, message_id, subject, attempts, message FROM outbox "
        "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id", [now])]


def parse(raw: bytes) -> EmailMessage:
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email.policy import default as default_policy

    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def mark_sent(conn: sqlite3.Connection, outbox_id: int, at: str) -> None:
    conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
                 "last_error = '' WHERE id = ?", [at, outbox_id])


def mark_failed(conn: sqlite3.Connection, outbox_id: int, error: str, next_attempt_at: str,
                *, final: bool) -> None:
    conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                 "next_attempt_at = ?, status = ? WHERE id = ?",
                 [error, next_attempt_at, "failed" if final else "pending", outbox_id])
