"""The check behind ``zufiwatch health``: one status line for Nagios, Icinga and friends.

The result follows the monitoring-plugin conventions: exit status 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN, and exactly one line of output::

    ZUFIWATCH <STATE> - <summary> | <perfdata>

The summary names the worst findings first (at most four, then "+N more"); when all is
well it names the age of each source's last complete crawl and the open untracked changes.
``|`` and line breaks in crawl reasons are replaced, so the line stays one line and the
perfdata stays parseable.

Checks and thresholds (``S`` = ``[notify] stale_after_hours``, default 36 h):

=========================  ===============================================  =============
finding                    WARNING                                          CRITICAL
=========================  ===============================================  =============
age of the last complete   older than ``S`` hours                           older than
crawl, per configured                                                       ``2 × S`` hours
source
no complete crawl ever     the source has no crawl older than ``S`` hours   it has one
                           ("no complete crawl yet"), or no crawl at all
                           ("no crawl yet")
failed crawls in a row,    ≥ 1                                              ≥ 3
per configured source
outbox: ``pending``        any created more than 1 hour ago                 –
outbox: ``failed``         –                                                any created at
(undeliverable)                                                             most 7 days ago
untracked changes (cause   any of severity ``high`` or ``critical``         –
``source``)                detected more than 24 hours ago
keys the parser does not   the newest finished crawl of the source met      –
know (shape drift), per    any (see ``sources/drift.py``)
configured source
the database file          –                                                damaged
                                                                            (``PRAGMA
                                                                            quick_check``)
                                                                            or written by
                                                                            a newer
                                                                            zufiwatch
=========================  ===============================================  =============

- "Complete crawl" means outcome ``complete`` and not a ``reparse`` (re-deriving archived
  payloads says nothing about the directory now); the age is measured from its start,
  as the operator notice about stale sources does.
- "Failed in a row" counts the newest crawls of the source with outcome ``failed``,
  newest first, until the first ``complete`` or ``partial`` one; crawls still ``running``
  and reparses are skipped.
- The untracked count (all open untracked changes with cause ``source``) is reported as
  perfdata and in the OK summary only; it never raises the state by itself.
- The overall state is the worst finding (CRITICAL > WARNING > UNKNOWN > OK). Without a
  history database (``history`` is None), without configured sources, or when the
  database cannot be read for another reason (locked, unreadable file), the state is
  UNKNOWN; a damaged database or one written by a newer zufiwatch is CRITICAL.

Perfdata (``'label'=value[UOM];[warn];[crit];[min];[max]``). Thresholds are plugin
ranges: a bare number ``N`` means "alert when the value is above N", so "WARNING at one
failed crawl" is written ``0`` and "CRITICAL at three" is written ``2``::

    'age_<source>'=<seconds>s;<S×3600>;<2×S×3600>;0   (U when there is no complete crawl)
    'failed_in_row_<source>'=<n>;0;2;0
    'pending_overdue'=<n>;0;;0                        (pending for more than 1 h)
    'undeliverable'=<n>;;0;0                          (failed, created within 7 days)
    'untracked'=<n>;;;0
    'untracked_overdue'=<n>;0;;0                      (high/critical, untracked > 24 h)
    'unknown_keys_<source>'=<n>;0;;0                  (distinct unknown keys, newest crawl)

Each finding is a :class:`Check` named ``age:<source>``, ``failed:<source>``,
``outbox:failed``, ``outbox:pending``, ``untracked``, ``drift:<source>`` (``config``
without sources, ``health`` in :func:`unknown`, ``database`` in :func:`bad_database`).
Ages of outbox messages are counted from ``created_at``.

The database is only read, with plain SQL. A caller prints ``report.line`` and exits
with ``report.state``; it reports a missing or unreadable database, or a configuration
error, with :func:`unknown`.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import Settings
from .sources.drift import format_drift
from .store import History
from .timeutil import stored

__all__ = [
    "CRITICAL",
    "FAILED_CRIT",
    "FAILED_WARN",
    "OK",
    "PENDING_AFTER",
    "STATE_NAMES",
    "UNDELIVERABLE_WITHIN",
    "UNKNOWN",
    "UNTRACKED_AFTER",
    "WARNING",
    "Check",
    "HealthReport",
    "bad_database",
    "evaluate",
    "unknown",
]

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
#: Which state is worse: CRITICAL > WARNING > UNKNOWN > OK.
_RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}

#: A message still pending after this long means delivery is stuck.
PENDING_AFTER = timedelta(hours=1)
#: An undeliverable message is CRITICAL for this long after it was queued.
UNDELIVERABLE_WITHIN = timedelta(days=7)
#: A high or critical change nobody triaged for this long is a WARNING.
UNTRACKED_AFTER = timedelta(hours=24)
#: Failed crawls in a row: WARNING from, CRITICAL from.
FAILED_WARN, FAILED_CRIT = 1, 3
#: Findings named in the summary before "+N more".
_SUMMARY_ITEMS = 4


@dataclass(frozen=True)
class Check:
    """One finding: ``name`` such as ``age:pvog-jena``, a plugin state, a short message."""

    name: str
    state: int
    message: str


@dataclass(frozen=True)
class HealthReport:
    """The overall state (the exit status), the one output line, and every finding."""

    state: int
    line: str
    checks: tuple[Check, ...]


def unknown(reason: str) -> HealthReport:
    """The report when there is nothing to judge: no or unreadable database, bad config."""
    reason = _clean(reason) or "health cannot be determined"
    return HealthReport(UNKNOWN, f"ZUFIWATCH UNKNOWN - {reason}",
                        (Check("health", UNKNOWN, reason),))


def bad_database(reason: str) -> HealthReport:
    """The report for a database that must not be used: damaged (``PRAGMA quick_check``
    failed) or upgraded by a newer zufiwatch. Nothing can be crawled into it: CRITICAL."""
    reason = _clean(reason)
    return HealthReport(CRITICAL, f"ZUFIWATCH CRITICAL - {reason}",
                        (Check("database", CRITICAL, reason),))


def evaluate(settings: Settings, history: History | None, now: datetime) -> HealthReport:
    """Judge the installation at ``now`` (an aware datetime) from its history database."""
    if history is None:
        return unknown(f"no history database at {settings.database}")
    try:
        return _evaluate(settings, history, now)
    except sqlite3.Error as exc:
        return unknown(f"cannot read the history database {history.path}: {exc}")


# -- the checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    check: Check
    #: Named in the summary when everything is OK.
    headline: bool = False


def _evaluate(settings: Settings, history: History, now: datetime) -> HealthReport:
    if now.tzinfo is None:
        raise ValueError("naive datetime; pass an aware time such as datetime.now(UTC)")
    stale = timedelta(hours=settings.notify.stale_after_hours)
    findings: list[_Finding] = []
    perf: list[str] = []
    if not settings.sources:
        findings.append(_Finding(Check("config", UNKNOWN, "no sources configured"), True))
    for source in settings.sources:
        age, finding = _age(history, source.name, now, stale)
        findings.append(finding)
        perf.append(_perf(f"age_{source.name}", age, "s", _seconds(stale),
                          _seconds(2 * stale), 0))
        failed, finding = _failed_in_row(history, source.name)
        findings.append(finding)
        perf.append(_perf(f"failed_in_row_{source.name}", failed, "", FAILED_WARN - 1,
                          FAILED_CRIT - 1, 0))
        unknown_keys, finding = _drift(history, source.name)
        findings.append(finding)
        perf.append(_perf(f"unknown_keys_{source.name}", unknown_keys, "", 0, None, 0))
    undeliverable, finding = _undeliverable(history, now)
    findings.append(finding)
    pending, finding = _pending(history, now)
    findings.append(finding)
    (untracked, overdue), finding = _untracked(history, now)
    findings.append(finding)
    perf += [_perf("pending_overdue", pending, "", 0, None, 0),
             _perf("undeliverable", undeliverable, "", None, 0, 0),
             _perf("untracked", untracked, "", None, None, 0),
             _perf("untracked_overdue", overdue, "", 0, None, 0)]
    return _report(findings, perf)


def _age(history: History, source: str, now: datetime,
         stale: timedelta) -> tuple[int | None, _Finding]:
    name = f"age:{source}"
    last = history.db.execute(
        "SELECT max(started_at) FROM crawls WHERE source = ? AND outcome = 'complete' "
        "AND mode != 'reparse'", [source]).fetchone()[0]
    if last is None:
        first = history.db.execute("SELECT min(started_at) FROM crawls WHERE source = ?",
                                   [source]).fetchone()[0]
        if first is None:
            return None, _Finding(Check(name, WARNING, f"{source}: no crawl yet"), True)
        since = now - datetime.fromisoformat(first)
        if since > stale:
            message = f"{source}: no complete crawl in {_duration(since)}"
            return None, _Finding(Check(name, CRITICAL, message), True)
        return None, _Finding(Check(name, WARNING, f"{source}: no complete crawl yet"), True)
    age = max(now - datetime.fromisoformat(last), timedelta(0))
    state = CRITICAL if age > 2 * stale else WARNING if age > stale else OK
    message = f"{source}: last complete crawl {_duration(age)} ago"
    return int(age.total_seconds()), _Finding(Check(name, state, message), True)


def _failed_in_row(history: History, source: str) -> tuple[int, _Finding]:
    rows = history.db.execute(
        "SELECT outcome, reason FROM crawls WHERE source = ? AND outcome != 'running' "
        "AND mode != 'reparse' ORDER BY started_at DESC, id DESC", [source])
    count, newest_reason = 0, ""
    for outcome, reason in rows:
        if outcome != "failed":
            break
        if count == 0:
            newest_reason = reason
        count += 1
    rows.close()
    name = f"failed:{source}"
    if count == 0:
        return 0, _Finding(Check(name, OK, f"{source}: last crawl did not fail"))
    state = CRITICAL if count >= FAILED_CRIT else WARNING if count >= FAILED_WARN else OK
    what = "last crawl failed" if count == 1 else f"{count} crawls failed in a row"
    reason = _shorten(_clean(newest_reason), 60)
    message = f"{source}: {what}" + (f" ({reason})" if reason else "")
    return count, _Finding(Check(name, state, message))


def _drift(history: History, source: str) -> tuple[int, _Finding]:
    """Keys the parser does not know in the answers of the newest finished crawl."""
    row = history.db.execute(
        "SELECT shapes FROM crawls WHERE source = ? AND outcome != 'running' "
        "AND mode != 'reparse' ORDER BY started_at DESC, id DESC LIMIT 1", [source]).fetchone()
    try:
        shapes = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        shapes = {}
    count = sum(len(tally.get("unknown") or {}) for tally in shapes.values()
                if isinstance(tally, dict)) if isinstance(shapes, dict) else 0
    name = f"drift:{source}"
    if not count:
        return 0, _Finding(Check(name, OK, f"{source}: answers in the known shape"))
    detail = _shorten(_clean(format_drift(shapes, limit=3)), 120)
    message = f"{source}: {_plural(count, 'unknown key')} in the answers ({detail})"
    return count, _Finding(Check(name, WARNING, message))


def _undeliverable(history: History, now: datetime) -> tuple[int, _Finding]:
    count = history.db.execute(
        "SELECT count(*) FROM outbox WHERE status = 'failed' AND created_at >= ?",
        [stored(now - UNDELIVERABLE_WITHIN)]).fetchone()[0]
    if count:
        message = f"{_plural(count, 'message')} undeliverable"
        return count, _Finding(Check("outbox:failed", CRITICAL, message))
    return 0, _Finding(Check("outbox:failed", OK, "no undeliverable message in 7 d"))


def _pending(history: History, now: datetime) -> tuple[int, _Finding]:
    count, oldest = history.db.execute(
        "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending' "
        "AND created_at < ?", [stored(now - PENDING_AFTER)]).fetchone()
    if count:
        waited = _duration(now - datetime.fromisoformat(oldest))
        message = (f"{_plural(count, 'message')} pending > 1 h (oldest {waited})")
        return count, _Finding(Check("outbox:pending", WARNING, message))
    return 0, _Finding(Check("outbox:pending", OK, "no message pending > 1 h"))


def _untracked(history: History, now: datetime) -> tuple[tuple[int, int], _Finding]:
    total, overdue = history.db.execute(
        "SELECT count(*), coalesce(sum(severity IN ('high', 'critical') "
        "AND opened_at < ?), 0) FROM events WHERE status = 'untracked' "
        "AND cause = 'source'", [stored(now - UNTRACKED_AFTER)]).fetchone()
    if overdue:
        verb = "is" if overdue == 1 else "are"
        message = (f"{_plural(overdue, 'high/critical change')} {verb} untracked > 24 h "
                   f"({total} untracked in all)")
        return (total, overdue), _Finding(Check("untracked", WARNING, message))
    message = f"{_plural(total, 'untracked change')} open" if total else "no untracked change"
    return (total, 0), _Finding(Check("untracked", OK, message), headline=bool(total))


# -- the line ------------------------------------------------------------------------------


def _report(findings: Sequence[_Finding], perf: Sequence[str]) -> HealthReport:
    checks = tuple(f.check for f in findings)
    state = max((c.state for c in checks), key=_RANK.__getitem__, default=OK)
    problems = sorted((c for c in checks if c.state != OK), key=lambda c: -_RANK[c.state])
    named = [c.message for c in problems] or [f.check.message for f in findings if f.headline]
    summary = "; ".join(named[:_SUMMARY_ITEMS]) or "all checks passed"
    if len(named) > _SUMMARY_ITEMS:
        summary += f"; +{len(named) - _SUMMARY_ITEMS} more"
    line = f"ZUFIWATCH {STATE_NAMES[state]} - {_clean(summary)}"
    if perf:
        line += " | " + " ".join(perf)
    return HealthReport(state, line, checks)


def _perf(label: str, value: float | None, uom: str, warn: float | None, crit: float | None,
          minimum: float | None) -> str:
    """``'label'=value[UOM];[warn];[crit];[min]`` (``U`` for an undetermined value)."""
    quoted = "'" + label.replace("'", "''").replace("=", "_") + "'"
    shown = "U" if value is None else f"{_number(value)}{uom}"
    fields = [shown, *("" if v is None else _number(v) for v in (warn, crit, minimum))]
    return f"{quoted}={';'.join(fields)}"


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def _duration(delta: timedelta) -> str:
    """A short age for people: ``45 min``, ``5.5 h``, ``3 d``; rounded down, so an age
    just under a threshold never reads as the threshold."""
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{_number(math.floor(seconds / 360) / 10)} h"
    return f"{_number(math.floor(seconds / 8640) / 10)} d"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _clean(text: str) -> str:
    """One line without ``|`` (which would start the perfdata)."""
    return " ".join(text.replace("|", "/").split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
