"""From detected changes to the messages the AG OZG acts on (composition, no sending).

:class:`Alerts` classifies a crawl's changes (severity rules, expected-change register)
and composes, inside the crawl's transaction, the immediate message about untracked high
and critical changes; operator messages about failed crawls. :func:`run_notify` (the
``notify`` command, later the daemon) queues digests, reminders and stale-source notices
and delivers the outbox.

A crawl needs :class:`Alerts` to classify its changes; the mail machinery
(:mod:`.notify.messages`, :mod:`.notify.model`) is imported by the functions that compose a
message, so a crawl with nothing to report never loads it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from .config import Settings
from .events import fields_of, headline, record_context
from .model import Change, split_key
from .rules import SEVERITY_ORDER, classify
from .store import History
from .store import outbox as queue
from .store.events import Touched, read_events
from .store.history import mark_notified
from .store.schema import VOLATILE
from .timeutil import Clock, stored
from .triage import mark_overdue, match, open_for

if TYPE_CHECKING:
    from .notify import messages
    from .notify.model import ChangeNotice

__all__ = ["Alerts", "NotifyReport", "event_notices", "record_context", "run_notify"]

log = logging.getLogger(__name__)

Composed = list[tuple[str, EmailMessage, list[int]]]


class Alerts:
    """Severity, tracking status and messages for one installation's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def mail(self, recipients: Sequence[str]) -> messages.Mail:
        from .notify import messages

        notify = self.settings.notify
        domain = notify.sender.rsplit("@", 1)[-1] or "zufiwatch.local"
        return messages.Mail(sender=notify.sender, recipients=tuple(recipients),
                             language=notify.language, domain=domain,
                             timezone=self.settings.timezone,
                             web_base=self.settings.web.base_url)

    def annotate(self, history: History, changes: Sequence[tuple[str, Change]],
                 at: str, contents: Mapping[str, dict[str, Any]] | None = None,
                 ) -> list[dict[str, Any]]:
        """Severity, reasons and status (expected or untracked) of each change;
        ``contents`` holds the records' contents after the changes, by key."""
        candidates = open_for(history, (key for key, _ in changes), at)
        contents = contents or {}
        today = datetime.fromisoformat(at).date()
        notes = []
        for key, change in changes:
            result = classify(split_key(key)[0], change, self.settings.rules,
                              contents.get(key), today)
            expectation = match(candidates.get(key, []), change)
            if expectation is not None:
                candidates[key].remove(expectation)
            notes.append({"severity": result.severity, "reasons": result.reasons,
                          "status": "expected" if expectation else "untracked",
                          "expectation_id": expectation["id"] if expectation else None,
                          "expected_by": expectation["by"] if expectation else "",
                          "expected_note": expectation["note"] if expectation else ""})
        return notes

    def composer(self, source: str, now: datetime,
                 ) -> Callable[[sqlite3.Connection, list[Touched]], Composed]:
        """The immediate message about the events a crawl opened or joined that are
        untracked and high or critical: new ones, and earlier ones that a later witness
        made more serious (a link check finding that the new link names another
        authority); a later witness that adds nothing worse is never reported again."""

        def compose(conn: sqlite3.Connection, touched: list[Touched]) -> Composed:
            due = [t.event_id for t in touched if _alert_now(t)]
            recipients = self.settings.notify.recipients
            if not due or not recipients:
                return []
            from .notify import messages

            message = messages.immediate_alert(event_notices(conn, due),
                                               self.mail(recipients), now=now, source=source)
            return [("immediate", message, due)]

        return compose

    def disagreement(self, rows: Sequence[Mapping[str, Any]], now: datetime,
                     window_hours: float) -> EmailMessage | None:
        """The message about differences between ZuFi and PVOG that outlasted the sync
        window, when their severity goes out at once (high, critical) and anyone is to hear
        it; ``None`` otherwise (the overview still shows them)."""
        recipients = self.settings.notify.recipients
        urgent = [row for row in rows
                  if SEVERITY_ORDER.get(row["severity"], 0) >= SEVERITY_ORDER["high"]]
        if not urgent or not recipients:
            return None
        from .notify import messages
        from .notify.model import DisagreementNotice

        items = [DisagreementNotice(
            zufi_id=row["zufi_id"], title=row["title"], office=row["office"],
            aspect=row["aspect"], zufi_value=tuple(json.loads(row["zufi_value"])),
            pvog_value=tuple(json.loads(row["pvog_value"])), first_seen=row["first_seen"],
            severity=row["severity"], tsa_key=row["tsa_key"], pvog_key=row["pvog_key"])
            for row in urgent]
        return messages.disagreement_alert(items, self.mail(recipients), now=now,
                                           window_hours=window_hours)

    def failed_crawl(self, source: str, crawl_id: int, reason: str,
                     now: datetime) -> list[tuple[str, EmailMessage]]:
        operators = self.settings.notify.operators
        if not operators:
            return []
        from .notify import messages
        from .notify.model import CrawlProblem

        kind = "suspicious" if reason.startswith("suspicious") else "failed"
        problem = CrawlProblem(kind, source, stored(now), reason, {"crawl_id": crawl_id})
        return [("operator", messages.operator_alert([problem], self.mail(operators),
                                                     now=now))]


def _alert_now(event: Touched) -> bool:
    high = SEVERITY_ORDER["high"]
    if event.status != "untracked" or SEVERITY_ORDER.get(event.severity, 0) < high:
        return False
    return event.opened or (SEVERITY_ORDER.get(event.severity, 0)
                            > SEVERITY_ORDER.get(event.severity_before, 0))


def event_notices(conn: sqlite3.Connection, event_ids: Sequence[int]) -> list[ChangeNotice]:
    """The events as messages show them, in the order of ``event_ids``."""
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        return []
    rows = {e["id"]: e for e in read_events(
        conn, f"e.id IN ({','.join('?' * len(wanted))})", wanted)}
    return [_event_notice(conn, rows[i]) for i in wanted if i in rows]


def _event_notice(conn: sqlite3.Connection, event: dict[str, Any]) -> ChangeNotice:
    from .notify.model import ChangeNotice

    fields = fields_of(event["changes"])
    head = fields[0]
    version = conn.execute(
        f"SELECT v.content, {VOLATILE} FROM versions v WHERE v.record_id = "
        "(SELECT id FROM records WHERE key = ? AND source = ?) "
        "ORDER BY valid_from DESC, id DESC LIMIT 1",
        [event["key"], event["source"]]).fetchone()
    context = record_context(event["kind"], json.loads(version[0]) if version else {},
                             json.loads(version[1]) if version else {})
    continued = [c["new_value"] for c in event["changes"] if c.get("flap_of") == head["id"]]
    sequence = (head["old_value"], head["new_value"], *continued) if continued else ()
    return ChangeNotice(
        change_id=event["id"], detected_at=event["opened_at"], source=event["source"],
        key=event["key"], kind=event["kind"], title=event["title"] or context["title"],
        leika=tuple(context["leika"]), office=event["office"],
        change_type=str(head["change_type"]), label=headline(event, fields),
        old=head["old_value"], new=head["new_value"], severity=event["severity"],
        reasons=tuple(dict.fromkeys(r for c in event["changes"] for r in c["reasons"])),
        status=event["status"], expected_by=_expected(conn, event, "by"),
        expected_note=_expected(conn, event, "note"), deeplink=context["deeplink"],
        flap_sequence=sequence,
        fields=tuple((f["label"], f["old_value"], f["new_value"]) for f in fields[1:]),
        witnesses=tuple((w["source_kind"], w["source"], w["at"]) for w in event["witnesses"]))


def _expected(conn: sqlite3.Connection, event: dict[str, Any], column: str) -> str:
    if event["status"] != "expected":
        return ""
    row = conn.execute(
        f"SELECT x.{column} FROM expectations x JOIN changes c ON c.expectation_id = x.id "
        "WHERE c.event_id = ? ORDER BY c.id LIMIT 1", [event["id"]]).fetchone()
    return str(row[0]) if row else ""


@dataclass
class NotifyReport:
    queued: dict[str, int]
    sent: int
    failed: int
    errors: list[str]


def _state(history: History, name: str) -> str | None:
    row = history.db.execute("SELECT value FROM notify_state WHERE name = ?",
                             [name]).fetchone()
    return row[0] if row else None


def _set_state(history: History, name: str, value: str) -> None:
    history.db.execute("INSERT OR REPLACE INTO notify_state (name, value) VALUES (?, ?)",
                       [name, value])


def _due(history: History, name: str, every: timedelta, now: datetime) -> bool:
    """Whether a period has passed; a tenth of it (at most an hour) early counts, so that a
    daily run that ends a little earlier than yesterday's is not a day late."""
    last = _state(history, name)
    if last is None:
        _set_state(history, name, stored(now))  # the period starts with the first run
        return False
    slack = min(every / 10, timedelta(hours=1))
    return now - datetime.fromisoformat(last) >= every - slack


def queue_digest(history: History, alerts: Alerts, now: datetime, *,
                 force: bool = False) -> int:
    """Queue the digest of untracked events no message reported yet; returns how many."""
    settings = alerts.settings.notify
    with history.db.atomic():
        if not (force or _due(history, "digest", timedelta(hours=settings.digest_every_hours),
                              now)):
            return 0
        ids = [row[0] for row in history.db.execute(
            "SELECT id FROM events WHERE status = 'untracked' AND notified IS NULL AND "
            "cause = 'source' ORDER BY opened_at, id")]
        _set_state(history, "digest", stored(now))
        if not ids or not settings.recipients:
            return 0
        from .notify import messages

        notices = event_notices(history.db.conn, ids)
        seen = [w[2] for n in notices for w in n.witnesses] or [n.detected_at for n in notices]
        message = messages.digest(notices, alerts.mail(settings.recipients), now=now,
                                  period_start=min(seen), period_end=max(seen))
        queue.enqueue(history.db.conn, "digest", message, stored(now))
        mark_notified(history.db.conn, "digest", ids)
    return len(ids)


def queue_reminder(history: History, alerts: Alerts, now: datetime, *,
                   force: bool = False) -> int:
    """Queue the reminder of changes still untracked and of overdue expectations."""
    settings = alerts.settings.notify
    overdue = mark_overdue(history, now)
    with history.db.atomic():
        every = timedelta(days=settings.reminder_every_days)
        if not (force or _due(history, "reminder", every, now) or overdue):
            return 0
        cutoff = stored(now - timedelta(days=1))
        ids = [row[0] for row in history.db.execute(
            "SELECT id FROM events WHERE status = 'untracked' AND cause = 'source' AND "
            "notified IS NOT NULL AND opened_at <= ? ORDER BY opened_at, id", [cutoff])]
        _set_state(history, "reminder", stored(now))
        if not (ids or overdue) or not settings.recipients:
            return 0
        from .notify import messages
        from .notify.model import OverdueExpectation

        late = [OverdueExpectation(e["id"], e["key"], _title(history, e["key"]), e["field"],
                                   e["value"], e["until"], e["by"], e["note"])
                for e in overdue]
        message = messages.reminder(event_notices(history.db.conn, ids), late,
                                    alerts.mail(settings.recipients), now=now)
        queue.enqueue(history.db.conn, "reminder", message, stored(now))
        history.db.conn.executemany("UPDATE events SET reminded_at = ? WHERE id = ?",
                                    [(stored(now), event_id) for event_id in ids])
        history.db.conn.executemany(
            "UPDATE expectations SET overdue_reported_at = ? WHERE id = ?",
            [(stored(now), e["id"]) for e in overdue])
    return len(ids) + len(overdue)


def _title(history: History, key: str) -> str:
    row = history.db.execute("SELECT title FROM records WHERE key = ?", [key]).fetchone()
    return row[0] if row else key


def queue_stale(history: History, alerts: Alerts, now: datetime) -> int:
    """Operator notices for sources without a complete crawl within stale_after_hours."""
    from .notify import messages
    from .notify.model import CrawlProblem

    settings = alerts.settings
    limit = timedelta(hours=settings.notify.stale_after_hours)
    problems = []
    with history.db.atomic():
        for source in settings.sources:
            row = history.db.execute(
                "SELECT max(started_at) FROM crawls WHERE source = ? AND outcome = 'complete'",
                [source.name]).fetchone()
            last = row[0] if row else None
            first = history.db.execute("SELECT min(started_at) FROM crawls WHERE source = ?",
                                       [source.name]).fetchone()[0]
            reference = last or first
            if reference is None or now - datetime.fromisoformat(reference) < limit:
                continue
            reported = _state(history, f"stale:{source.name}")
            if reported and now - datetime.fromisoformat(reported) < limit:
                continue
            _set_state(history, f"stale:{source.name}", stored(now))
            detail = (f"last complete crawl {last}" if last else "no complete crawl yet")
            problems.append(CrawlProblem("stale", source.name, stored(now), detail,
                                         {"last_complete": last} if last else {}))
        if problems and settings.notify.operators:
            message = messages.operator_alert(problems, alerts.mail(settings.notify.operators),
                                              now=now)
            queue.enqueue(history.db.conn, "operator", message, stored(now))
    return len(problems)


def deliver(history: History, alerts: Alerts, send: Callable[[EmailMessage], None],
            clock: Clock) -> NotifyReport:
    """Send every due message once; failures wait with exponential backoff."""
    from .notify.smtp import DeliveryError

    report = NotifyReport({}, 0, 0, [])
    limit = alerts.settings.notify.max_attempts
    for item in queue.due(history.db.conn, stored(clock())):
        try:
            send(queue.parse(item.raw))
        except DeliveryError as exc:
            if exc.accepted:  # some recipients have it: never send it to them twice
                with history.db.atomic():
                    queue.mark_sent(history.db.conn, item.id, stored(clock()))
                report.failed += 1
                report.errors.append(f"{item.subject}: {exc}")
                continue
            attempts = item.attempts + 1
            final = exc.permanent or attempts >= limit
            wait = timedelta(minutes=min(360, 2 ** attempts))
            with history.db.atomic():
                queue.mark_failed(history.db.conn, item.id, str(exc),
                                  stored(clock() + wait), final=final)
                if final and item.kind != "undeliverable":
                    _queue_undeliverable(history, alerts, item, str(exc), clock())
            report.failed += 1
            report.errors.append(f"{item.subject}: {exc}")
            log.warning("message %s not delivered (attempt %d): %s", item.message_id,
                        attempts, exc)
            continue
        with history.db.atomic():
            queue.mark_sent(history.db.conn, item.id, stored(clock()))
        report.sent += 1
    return report


def _queue_undeliverable(history: History, alerts: Alerts, item: queue.Queued, error: str,
                         now: datetime) -> None:
    operators = alerts.settings.notify.operators
    if not operators:
        return
    from .notify import messages
    from .notify.model import CrawlProblem

    problem = CrawlProblem("undeliverable", "", stored(now),
                           f"{item.subject} ({item.message_id}): {error}")
    message = messages.operator_alert([problem], alerts.mail(operators), now=now)
    queue.enqueue(history.db.conn, "undeliverable", message, stored(now))


def run_notify(history: History, alerts: Alerts, send: Callable[[EmailMessage], None],
               clock: Clock, *, digest: bool = False, reminder: bool = False) -> NotifyReport:
    """Queue what is due (digest, reminder, stale sources), then deliver the outbox."""
    now = clock()
    queued = {"digest": queue_digest(history, alerts, now, force=digest),
              "reminder": queue_reminder(history, alerts, now, force=reminder),
              "stale": queue_stale(history, alerts, now)}
    report = deliver(history, alerts, send, clock)
    report.queued = queued
    return report
