"""One crawl of one source: fetch → archive → parse → normalise → gate → diff → store.

:func:`run_crawl` is the composition root of a crawl: it is handed the history, the
archive, the fetcher and the clock, lets the source adapter fetch and parse, compares
every record with its current version as it arrives (keeping only what changed in
memory), asks the gate for a verdict and stores the conclusions in one transaction.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

from .alerts import Alerts
from .archive import Archive, read_manifest
from .config import Settings, SourceSettings
from .differ import diff_records, reappeared
from .errors import CrawlInProgress, ZufiwatchError
from .fetch import Fetcher, Validators
from .gate import Verdict, judge
from .limits import CrawlDeadline
from .model import (
    Change,
    ChangeType,
    Outcome,
    Record,
    canonical_json,
    split_key,
    text_hash,
)
from .progress import CrawlProgress, ProgressTracker
from .sources import Source, make_source
from .sources.base import (
    CachedAnswer,
    Confirmed,
    CrawlContext,
    CrawlItem,
    Fatal,
    Incomplete,
    Listing,
    Metered,
    Observed,
    Strike,
    Unobserved,
    Unverified,
    Vouched,
)
from .sources.drift import ShapeLog, known_shapes, shape_digest
from .sources.pvog.linkwatch import watched_source
from .store import CommitPlan, Current, History, NewVersion
from .store.events import EventInputs
from .timeutil import Clock, stored, system_clock

__all__ = ["CrawlResult", "Planner", "crawl_sources", "crosscheck_after", "rebaseline",
           "refresh_overview", "replay_crawl", "run_crawl"]

log = logging.getLogger(__name__)


@dataclass
class CrawlResult:
    crawl_id: int
    source: str
    outcome: Outcome
    reason: str
    stats: dict[str, int]
    changes: list[tuple[str, Change]]
    #: CPU seconds of the crawling thread spent processing: parse and normalise, diff and
    #: plan, store (not fetching, which runs in worker threads).
    process_seconds: float = 0.0


class Planner:
    """Compares observed records with the stored ones and plans what to write."""

    def __init__(self, current: dict[str, Current],
                 load_content: Callable[[int], dict[str, Any]], *,
                 removal_after: int = 2, incremental: bool = False,
                 strikes: Mapping[str, int] | None = None,
                 baseline: bool | None = None, only_when_gone: bool = False) -> None:
        self._current = current
        #: Removed only on a recheck's word (see ``Source.removes_only_when_gone``).
        self.only_when_gone = only_when_gone
        #: Consecutive failed checks before this crawl, by key.
        self._strikes = dict(strikes or {})
        self._struck: set[str] = set()
        self.removal_after = removal_after
        #: Read only what the listing says changed (never for a baseline).
        self.incremental = incremental and bool(current)
        #: Entries taken as unchanged on the listing's word, without reading them.
        self.vouched = 0
        #: Entries that took a part from their stored version instead of reading it
        #: (a PVOG Leistung's offices): the crawl did not verify everything.
        self.reused = 0
        #: The content of every record with changes (new, or old for removals), by key.
        self.contents: dict[str, dict[str, Any]] = {}
        self._load = load_content
        self.plan = CommitPlan()
        self._seen: set[str] = set()
        self._unobserved: set[str] = set()
        #: Until a source's first complete crawl, records are stored but none is reported
        #: as added: a record first seen then is not new in the directory, only newly read
        #: (after partial crawls, or a parser that could not read the answers).
        self.baseline = not current if baseline is None else baseline or not current

    @property
    def observed(self) -> int:
        return len(self._seen)

    def present_by_kind(self) -> dict[str, int]:
        """Records the history held as present for this source before the crawl."""
        return Counter(split_key(k)[0] for k, c in self._current.items()
                       if c.status == "present")

    def seen_by_kind(self) -> dict[str, int]:
        """Records this crawl read or at least knew of (listed but unreadable)."""
        return Counter(split_key(k)[0] for k in chain(self._seen, self._unobserved,
                                                       self._struck - self._seen))

    def fingerprints(self) -> dict[str, str]:
        """Stored fingerprints of the current versions, for sources to skip parsing."""
        return {key: c.fingerprint for key, c in self._current.items()
                if c.fingerprint and c.version_id is not None}

    def stored_content(self, key: str) -> dict[str, Any] | None:
        """The content of the current version of ``key``; None when it has none."""
        current = self._current.get(key)
        if current is None or current.version_id is None:
            return None
        return self._load(current.version_id)

    @property
    def strikes(self) -> Mapping[str, int]:
        """Consecutive failed checks before this crawl, by key."""
        return self._strikes

    def read_at(self, at: str) -> frozenset[str]:
        """The records with a current version that the crawl started ``at`` read: seen
        then (``last_seen_at``) with no failed check (a strike counts as seen, unread)."""
        return frozenset(key for key, c in self._current.items()
                         if c.version_id is not None and c.last_seen_at == at
                         and key not in self._strikes)

    def stamps(self) -> dict[str, str]:
        """The stored ``lastUpdate`` of every current version (incremental crawls only)."""
        if not self.incremental:
            return {}
        stamps = {}
        for key, current in self._current.items():
            if current.version_id is not None and '"lastUpdate"' in current.volatile:
                stamp = json.loads(current.volatile).get("lastUpdate")
                if isinstance(stamp, str):
                    stamps[key] = stamp
        return stamps

    def vouch(self, key: str) -> None:
        """The listing says the entry is unchanged since its current version: seen."""
        current = self._current.get(key)
        if current is None or current.version_id is None:
            raise ValueError(f"{key}: vouched for without a current version")
        if self._first_sighting(key):
            self.vouched += 1
            self.plan.seen.append(key)
            if current.status == "missing":
                self.plan.recovered.append(key)

    def confirm(self, key: str, fingerprint: str,
                volatile: dict[str, Any] | None = None) -> None:
        """The payloads carry the content of the current version: seen, unchanged; its
        ``volatile`` values (if given) are kept as an observation keeps them."""
        current = self._current.get(key)
        if current is None or current.fingerprint != fingerprint or current.version_id is None:
            raise ValueError(f"{key}: confirmed against a fingerprint the history does not hold")
        self._unstrike(key)
        if self._first_sighting(key):
            self.plan.seen.append(key)
            if current.status == "missing":
                self.plan.recovered.append(key)
            if volatile is not None:
                values = canonical_json(volatile)
                if values != current.volatile:
                    self.plan.volatile_updates.append((current.version_id, values))

    def strike(self, key: str, reason: str) -> None:
        """A check of the entry failed: one more consecutive strike. A stored entry keeps
        its last known state and counts as seen (it is still listed)."""
        if key in self._struck:
            return
        self._struck.add(key)
        self.plan.strikes[key] = (self._strikes.get(key, 0) + 1, reason)
        current = self._current.get(key)
        if current is not None and current.version_id is not None \
                and self._first_sighting(key):
            self.plan.seen.append(key)
            if current.status == "missing":
                self.plan.recovered.append(key)

    def _unstrike(self, key: str) -> None:
        if key in self._strikes:
            self.plan.unstruck.append(key)

    def _first_sighting(self, key: str) -> bool:
        if key in self._seen:
            log.warning("%s observed twice in one crawl; keeping the first", key)
            return False
        self._seen.add(key)
        return True

    def observe(self, record: Record, fingerprint: str = "") -> None:
        key = record.key
        if not self._first_sighting(key):
            return
        self._unstrike(key)
        self.plan.seen.append(key)
        current = self._current.get(key)
        if fingerprint != (current.fingerprint if current else ""):
            self.plan.fingerprints[key] = fingerprint
        if current is not None and current.status == "missing":
            self.plan.recovered.append(key)
        content = canonical_json(record.content)
        digest = text_hash(content)
        volatile = canonical_json(record.volatile)
        if current is None:
            added = [] if self.baseline else diff_records(record.kind, None, record.content)
            self._new_version(record, digest, content, volatile, added)
        elif current.version_id is None:
            last = self._load(current.last_version_id) if current.last_version_id else None
            self._new_version(record, digest, content, volatile,
                              reappeared(record.kind, last, record.content))
        elif current.content_hash != digest:
            old = self._load(current.version_id)
            self._new_version(record, digest, content, volatile,
                              diff_records(record.kind, old, record.content))
        elif current.volatile != volatile:
            self.plan.volatile_updates.append((current.version_id, volatile))

    def not_observed(self, key: str, reason: str) -> None:
        self._unobserved.add(key)
        if key in self._current:
            self.plan.not_observed.append((key, reason))

    def removal_candidates(self, incomplete_kinds: frozenset[str]) -> list[str]:
        """After a complete crawl: records held as present or missing that it did not see."""
        return sorted(key for key, current in self._current.items()
                      if current.status in ("present", "missing") and key not in self._seen
                      and split_key(key)[0] not in incomplete_kinds
                      and current.version_id is not None)

    def conclude_removals(self, candidates: list[str], gone: Mapping[str, bool | None],
                          at: str) -> None:
        """A candidate is removed when a recheck says it is gone (404/410) or when it has
        been missing from ``removal_after`` consecutive complete crawls (not for a source
        that removes only on a recheck's word); until then it is ``missing``. A removed
        record's last version ends when it was first missed."""
        for key in candidates:
            current = self._current[key]
            misses = current.missing_count + 1
            since = current.missing_since or at
            counted = misses >= self.removal_after and not self.only_when_gone
            if gone.get(key) is True or counted:
                old = self._load(current.version_id) if current.version_id else None
                self.contents[key] = old or {}
                self.plan.removed.append((key, since))
                self.plan.changes.extend(
                    (key, c) for c in diff_records(split_key(key)[0], old, None))
            else:
                self.plan.missing.append((key, since, misses))

    def _new_version(self, record: Record, digest: str, content: str, volatile: str,
                     changes: list[Change]) -> None:
        self.plan.new_versions.append(
            NewVersion(record.key, record.kind, record.title, digest, content, volatile))
        self.plan.changes.extend((record.key, c) for c in changes)
        if changes:
            self.contents[record.key] = record.content


@dataclass
class _Tally:
    fatal: str | None = None
    listings: list[Listing] = field(default_factory=list)
    unobserved: list[str] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)
    unverified: dict[str, str] = field(default_factory=dict)
    #: Why the crawl stopped after its current step ("" when it did not): the service
    #: was shutting down, or the crawl's deadline passed.
    stopped: str = ""


def run_crawl(settings: SourceSettings, *, history: History, archive: Archive,
              fetcher: Fetcher, clock: Clock = system_clock,
              alerts: Alerts | None = None, stop: threading.Event | None = None,
              progress: Callable[[CrawlProgress], None] | None = None) -> CrawlResult:
    """Crawl one source and store what it concludes. Never raises for a bad source.

    With ``alerts``, changes are classified and the messages about them are queued in the
    same transaction. When ``stop`` is set, the crawl finishes the step it is in and is
    stored as partial. ``progress`` is told how far the crawl has got after every item
    the source yields (see :mod:`zufiwatch.progress`)."""
    source = make_source(settings)
    requests_before, bytes_before = fetcher.requests, fetcher.bytes_received
    clients: list[Metered] = []  # the source's own HTTP clients (the link checker's)

    @contextmanager
    def gather(crawl_id: int, at: str, planner: Planner,
               timings: dict[str, float]) -> Iterator[_Session]:
        with archive.open_manifest(source.name, crawl_id, at) as manifest:
            history.set_manifest(crawl_id, str(manifest.path))
            digest = shape_digest(source.answer_shapes)
            known = known_shapes(history.previous_crawl(source.name, crawl_id),
                                 parser_version=source.parser_version, digest=digest,
                                 read=planner.read_at)
            deadline = CrawlDeadline(settings.max_crawl_minutes, clock) \
                if settings.kind in ("pvog", "tsa") else None
            ctx = CrawlContext(settings=settings, fetcher=fetcher, archive_put=manifest.put,
                               manifest=manifest, now=clock,
                               parser_version=source.parser_version, timings=timings,
                               fingerprints=planner.fingerprints(),
                               stored=planner.stored_content, archive_get=archive.get,
                               cached=_cached_answers(history, source.name),
                               incremental=planner.incremental, stamps=planner.stamps(),
                               strikes=planner.strikes,
                               directory=lambda: _directory(history, settings), stop=stop,
                               deadline=deadline, clients=clients,
                               shapes=ShapeLog(known))
            yield _Session(source.crawl(ctx), lambda keys: source.recheck(ctx, keys),
                           ctx.shapes, deadline)
            planner.plan.answers = {
                url: (a.validators.etag, a.validators.last_modified, a.sha256, a.content_type)
                for url, a in ctx.fresh.items()}
            planner.reused = ctx.reused
            if not planner.vouched:  # every listed entry read: its shapes summary covers all
                history.set_shapes_basis(crawl_id, digest)

    def traffic() -> tuple[int, int]:
        return (fetcher.requests - requests_before + sum(c.requests for c in clients),
                fetcher.bytes_received - bytes_before + sum(c.bytes_received for c in clients))

    if history.needs_rebaseline(source.name, source.parser_version):
        result = rebaseline(settings, history=history, archive=archive, clock=clock)
        log.warning("parser %s is new for %s: %s", source.parser_version, source.name,
                    f"history re-derived in crawl {result.crawl_id} ({result.outcome})"
                    if result else "no archived crawl to re-derive from")
    return _conclude(settings, source, history, clock, gather, traffic, mode="live",
                     alerts=alerts, stop=stop, progress=progress)


def _directory(history: History, settings: SourceSettings) -> Iterator[tuple[str, str, str,
                                                                            dict[str, Any]]]:
    """The records a link checker follows: of the sources it watches (default: all others)."""
    watched = settings.watch or [name for name in history.sources()
                                 if name != settings.name and not watched_source(name)]
    for row in history.present_records(watched):
        if row[2] != "link":
            yield row


def find_flaps(changes: list[tuple[str, Change]],
               recent: list[dict[str, Any]]) -> dict[int, int]:
    """Which new changes return a field to a value it had in ``recent`` changes.

    A change flaps when its new value equals the old value of an earlier change of the
    same record and field (label) in the window. It is linked to the first change of that
    back-and-forth. Pure: ``recent`` rows carry id, key, label, old/new value (JSON text)
    and flap_of.
    """
    earlier: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in recent:
        earlier.setdefault((row["key"], row["label"]), []).append(row)
    flaps = {}
    for index, (key, change) in enumerate(changes):
        if change.change_type is not ChangeType.MODIFIED:
            continue
        new = canonical_json(change.new)
        for row in earlier.get((key, change.label), []):
            if row["old_value"] == new:
                flaps[index] = row["flap_of"] or row["id"]
                break
    return flaps


def _verified_lately(history: History, source: str, settings: SourceSettings,
                     clock: Clock) -> bool:
    """Whether a complete full crawl ran within ``verify_every_days``."""
    last = history.last_full_crawl(source)
    if last is None or not settings.incremental:
        return False
    age = clock() - datetime.fromisoformat(last)
    return age < timedelta(days=settings.verify_every_days)


def _cached_answers(history: History, source: str) -> dict[str, CachedAnswer]:
    return {url: CachedAnswer(Validators(etag, modified), sha, ctype)
            for url, (etag, modified, sha, ctype) in history.cached_answers(source).items()}


def replay_crawl(settings: SourceSettings, manifest: Path, *, history: History,
                 archive: Archive, clock: Clock = system_clock,
                 rebaseline: bool = False) -> CrawlResult:
    """Process the archived payloads of an earlier crawl again, with the current parser.

    Stored as a crawl of its own. With ``rebaseline`` (a new parser re-derives the
    history) its changes are recorded with cause ``parser``, and it concludes nothing
    about presence: no entry becomes missing or removed, none is "confirmed" now.
    """
    source = make_source(settings)
    entries = list(read_manifest(manifest))

    @contextmanager
    def gather(crawl_id: int, at: str, planner: Planner,
               timings: dict[str, float]) -> Iterator[_Session]:
        history.set_manifest(crawl_id, str(manifest))
        ctx = CrawlContext(settings=settings, fetcher=None, archive_put=_replayed,
                           manifest=None, now=clock, parser_version=source.parser_version,
                           timings=timings, fingerprints=planner.fingerprints(),
                           stored=planner.stored_content)
        yield _Session(source.replay(ctx, entries, archive.get), lambda keys: {}, ctx.shapes)

    return _conclude(settings, source, history, clock, gather, lambda: (0, 0),
                     mode="reparse" if rebaseline else "full")


def _replayed(body: bytes, *, url: str = "", status: int | None = None,
              content_type: str = "") -> str:
    raise RuntimeError("a replayed crawl archives nothing")


def rebaseline(settings: SourceSettings, *, history: History, archive: Archive,
               clock: Clock = system_clock, crawl_id: int | None = None) -> CrawlResult | None:
    """Re-derive the history of a source with the current parser from the archived payloads
    of a crawl (default: the last complete full crawl, else the newest partial one), so
    that what the new parser reads differently is recorded as such (cause ``parser``) and
    not as changes of the directory.

    Returns ``None`` when there is no archived crawl to re-derive from.
    """
    crawl = history.crawl(crawl_id) if crawl_id else history.rebaseline_crawl_row(settings.name)
    if crawl is None or not crawl["manifest"] or not Path(crawl["manifest"]).exists():
        return None
    return replay_crawl(settings, Path(crawl["manifest"]), history=history, archive=archive,
                        clock=clock, rebaseline=True)


@dataclass
class _Session:
    """One crawl's access to its source: what it learned, and direct rechecks."""

    items: Iterator[CrawlItem]
    #: key → True (the source says it is gone: 404/410), False (still there), None.
    recheck: Callable[[list[str]], dict[str, bool | None]]
    #: What the crawl saw of its answers' shapes.
    shapes: ShapeLog = field(default_factory=ShapeLog)
    #: When the crawl must end (live crawls of directory sources).
    deadline: CrawlDeadline | None = None


Gather = Callable[[int, str, "Planner", dict[str, float]], AbstractContextManager[_Session]]


def _conclude(settings: SourceSettings, source: Source, history: History, clock: Clock,
              gather: Gather, traffic: Callable[[], tuple[int, int]], *,
              mode: str, alerts: Alerts | None = None,
              stop: threading.Event | None = None,
              progress: Callable[[CrawlProgress], None] | None = None) -> CrawlResult:
    """Take in what the source learned, ask the gate, store the conclusions.

    Raises :class:`CrawlInProgress` when another process crawls the same source now.
    """
    with history.crawl_lock(source.name):
        interrupted = history.close_interrupted(source.name, stored(clock()))
        if interrupted:
            log.warning("%d earlier crawl(s) of %s were interrupted; marked failed",
                        interrupted, source.name)
        if mode == "live":
            lately = _verified_lately(history, source.name, settings, clock)
            mode = "incremental" if lately else "full"
        try:
            return _conclude_locked(settings, source, history, clock, gather, traffic, mode,
                                    alerts, stop, progress)
        except Exception as exc:
            return _ended_by(exc, history, source.name, clock, alerts)


def _ended_by(exc: Exception, history: History, source: str, clock: Clock,
              alerts: Alerts | None) -> CrawlResult:
    """The crawl of ``source`` this process runs (under its lock), ended as failed by an
    exception after it began: while concluding or storing (the commit is one transaction,
    so the history is as before). Raises ``exc`` when no crawl of ours is running (it
    ended before one began, or after it was stored) or the crawl row cannot be written."""
    reason = str(exc) if isinstance(exc, ZufiwatchError) else \
        f"internal error: {type(exc).__name__}: {exc}"
    reason = f"{reason} (nothing of this crawl was stored)"
    try:
        running = [c["id"] for c in history.crawls(source=source, limit=1)
                   if c["outcome"] == str(Outcome.RUNNING)]
        if running:
            log.error("crawl %s of %s failed: %s", running[0], source, reason, exc_info=exc)
            notices = alerts.failed_crawl(source, running[0], reason, clock()) if alerts \
                else []
            history.finish_crawl(running[0], outcome=Outcome.FAILED,
                                 finished_at=stored(clock()), reason=reason, messages=notices)
    except Exception:
        log.exception("a crawl of %s could not be marked failed", source)
        raise exc from None
    if not running:
        raise exc
    return CrawlResult(running[0], source, Outcome.FAILED, reason, _stats_none(), [])


def _conclude_locked(settings: SourceSettings, source: Source, history: History,
                     clock: Clock, gather: Gather, traffic: Callable[[], tuple[int, int]],
                     mode: str, alerts: Alerts | None,
                     stop: threading.Event | None = None,
                     progress: Callable[[CrawlProgress], None] | None = None) -> CrawlResult:
    at = stored(clock())
    planner = Planner(history.current(source.name), history.content_of,
                      removal_after=settings.removal_after,
                      only_when_gone=source.removes_only_when_gone,
                      incremental=mode == "incremental",
                      strikes=history.strikes(source.name) if mode != "reparse" else {},
                      baseline=not history.has_complete_crawl(source.name))
    if mode == "reparse":
        planner.plan.cause = "parser"
    crawl_id = history.begin_crawl(source.name, at, source.parser_version, mode)
    tally = _Tally()
    shapes: dict[str, Any] = {}
    process = 0.0
    timings: dict[str, float] = {}
    verdict = None
    report = _reporter(source.name, clock, traffic, progress)
    try:
        with gather(crawl_id, at, planner, timings) as session:
            report(None)
            for item in session.items:
                begin = time.thread_time()
                _take(item, planner, tally)
                process += time.thread_time() - begin
                report(item)
                tally.stopped = _halted(stop, session.deadline)
                if tally.stopped:
                    close = getattr(session.items, "close", None)
                    if close is not None:
                        close()  # a generator: lets in-flight requests finish, then stops
                    break
            if not tally.stopped and session.deadline is not None \
                    and session.deadline.refused:
                tally.stopped = session.deadline.reason()
            shapes = session.shapes.summary()
            _drifted(session.shapes, planner, tally)
            verdict = _verdict(settings, planner, tally)
            if mode == "reparse":
                planner.plan.seen.clear()  # old payloads confirm nothing about now
                planner.plan.recovered.clear()
                planner.plan.strikes.clear()
                planner.plan.unstruck.clear()
            elif verdict.outcome is Outcome.COMPLETE:
                candidates = planner.removal_candidates(verdict.incomplete_kinds)
                gone = session.recheck(candidates) if candidates else {}
                planner.conclude_removals(candidates, gone, at)
    except ZufiwatchError as exc:
        tally.fatal = f"crawl aborted: {exc}"
        verdict = None
    except Exception as exc:  # a fault of ours or an answer no check foresaw
        log.error("crawl %s of %s: internal error", crawl_id, source.name, exc_info=exc)
        tally.fatal = f"internal error: {type(exc).__name__}: {exc}"
        verdict = None
    process += timings.get("parse", 0.0)
    verdict = verdict or _verdict(settings, planner, tally)
    begin = time.thread_time()
    stats = _stats(planner, tally, *traffic(), verdict)
    if mode == "incremental" and not planner.vouched and not planner.reused:
        history.set_mode(crawl_id, "full")  # it read every entry: a verification crawl
    finished = stored(clock())
    if verdict.outcome is Outcome.FAILED:
        notices = alerts.failed_crawl(source.name, crawl_id, verdict.reason, clock()) \
            if alerts else []
        history.finish_crawl(crawl_id, outcome=verdict.outcome, finished_at=finished,
                             reason=verdict.reason, stats=stats, messages=notices,
                             shapes=shapes)
        log.error("crawl %s of %s failed: %s", crawl_id, source.name, verdict.reason)
        return CrawlResult(crawl_id, source.name, verdict.outcome, verdict.reason, stats, [],
                           process)
    if settings.flap_window_days and planner.plan.changes and planner.plan.cause == "source":
        since = stored(clock() - timedelta(days=settings.flap_window_days))
        planner.plan.flaps = find_flaps(planner.plan.changes,
                                        history.recent_changes(source.name, since))
    plan = planner.plan
    plan.events = EventInputs(settings.kind, window_hours=_sync_window(settings, alerts),
                              subject_source=getattr(source, "subject_source", ""))
    if alerts is not None and plan.changes and plan.cause == "source":
        plan.annotations = alerts.annotate(history, plan.changes, at, planner.contents)
        plan.compose = alerts.composer(source.name, clock())
    reason = verdict.reason
    if planner.baseline:
        note = (f"baseline: no complete crawl of this source before, {planner.observed} "
                "records stored, no additions reported")
        reason = f"{note} | {reason}" if reason else note
    history.commit_crawl(crawl_id, source.name, at, source.parser_version, planner.plan,
                         outcome=verdict.outcome, finished_at=finished, reason=reason,
                         stats=stats, shapes=shapes)
    process += time.thread_time() - begin
    log.info("crawl %s of %s %s: %d observed, %d changes%s", crawl_id, source.name,
             verdict.outcome, stats["observed"], stats["changes"],
             f" ({reason})" if reason else "")
    return CrawlResult(crawl_id, source.name, verdict.outcome, reason, stats,
                       list(planner.plan.changes), process)


def _reporter(source: str, clock: Clock, traffic: Callable[[], tuple[int, int]],
              progress: Callable[[CrawlProgress], None] | None
              ) -> Callable[[object], None]:
    """Counts each item (``None``: none yet) and tells ``progress`` how far the crawl is."""
    if progress is None:
        return lambda item: None
    tracker = ProgressTracker(source, clock)

    def report(item: object) -> None:
        if item is not None:
            tracker.take(item)
        progress(tracker.snapshot(*traffic()))

    return report


def _sync_window(settings: SourceSettings, alerts: Alerts | None) -> float:
    """How long after one witness another may report the same edit: the sync window of
    the tsa source that is cross-checked with this one (or this one's own)."""
    if settings.kind == "tsa" or alerts is None:
        return settings.sync_window_hours
    name = watched_source(settings.name) or settings.name  # a link watch: its PVOG source's
    windows = [s.sync_window_hours for s in alerts.settings.sources
               if s.kind == "tsa" and s.crosscheck == name]
    return max(windows, default=settings.sync_window_hours)


def _verdict(settings: SourceSettings, planner: Planner, tally: _Tally) -> Verdict:
    if tally.stopped and not tally.fatal:
        return Verdict(Outcome.PARTIAL, tally.stopped,
                       frozenset(("leistung", "organisationseinheit", "onlinedienst", "link")))
    return judge(fatal=tally.fatal, listings=tally.listings, unobserved=tally.unobserved,
                 incomplete=tally.incomplete, observed=planner.observed,
                 seen_by_kind=planner.seen_by_kind(), present_by_kind=planner.present_by_kind(),
                 max_loss=_max_loss(settings), unverified=tally.unverified)


def _halted(stop: threading.Event | None, deadline: CrawlDeadline | None) -> str:
    """Why the crawl must stop after the item it took ("" to go on)."""
    if stop is not None and stop.is_set():
        return ("stopped: the service was shutting down; what was read so far is stored, "
                "nothing else is concluded")
    if deadline is not None and deadline.passed():
        return deadline.reason()
    return ""


def _max_loss(settings: SourceSettings) -> float:
    """The share of records a crawl may see fewer than the history holds. The link
    checker's listing is the history itself (already gated): links that left the directory
    are gone, however many; it never fails for that."""
    return 1.0 if settings.kind == "links" else settings.max_loss


def _take(item: object, planner: Planner, tally: _Tally) -> None:
    if isinstance(item, Observed):
        for record in item.records:
            planner.observe(record, item.fingerprint)
    elif isinstance(item, Confirmed):
        planner.confirm(item.key, item.fingerprint, item.volatile)
    elif isinstance(item, Vouched):
        planner.vouch(item.key)
    elif isinstance(item, Strike):
        planner.strike(item.key, item.reason)
    elif isinstance(item, Unverified):
        tally.unverified[item.kind] = item.reason
    elif isinstance(item, Unobserved):
        planner.not_observed(item.key, item.reason)
        tally.unobserved.append(f"{item.key}: {item.reason}")
    elif isinstance(item, Incomplete):
        tally.incomplete[item.kind] = item.reason
    elif isinstance(item, Listing):
        tally.listings.append(item)
    elif isinstance(item, Fatal):
        tally.fatal = item.reason


def _drifted(shapes: ShapeLog, planner: Planner, tally: _Tally) -> None:
    """A field the parser needs that every answer of an endpoint lacked: the source moved
    or renamed it, so nothing of the kinds this crawl reads may be concluded."""
    lost = shapes.missing_everywhere()
    if not lost:
        return
    reason = "answers changed shape: " + "; ".join(
        f"required field {name!r} missing in all {answers} answers of {endpoint}"
        for endpoint, name, answers in lost)
    kinds = set(planner.present_by_kind()) | set(planner.seen_by_kind())
    for kind in kinds or {"leistung", "organisationseinheit", "onlinedienst"}:
        tally.incomplete.setdefault(kind, reason)


def _stats_none() -> dict[str, int]:
    return dict.fromkeys(("listed", "expected", "observed", "not_observed", "versions_added",
                          "changes", "requests", "bytes_received"), 0)


def _stats(planner: Planner, tally: _Tally, requests: int, received: int,
           verdict: Verdict) -> dict[str, int]:
    leistungen = [x for x in tally.listings if x.name == "leistungen"]
    return {
        "listed": sum(x.received for x in leistungen),
        "expected": sum(x.expected for x in leistungen),
        "observed": planner.observed,
        "not_observed": len(tally.unobserved),
        "versions_added": len(planner.plan.new_versions),
        "changes": len(planner.plan.changes) if verdict.outcome is not Outcome.FAILED else 0,
        "requests": requests,
        "bytes_received": received,
    }


def crosscheck_after(settings: Settings, crawled: SourceSettings, *, history: History,
                     clock: Clock = system_clock, alerts: Alerts | None = None) -> list[Any]:
    """After a complete crawl: compare every tsa source with its PVOG source where the
    crawled source is one of the two. A failure is logged, never raised."""
    results = []
    for tsa in settings.sources:
        if tsa.kind != "tsa" or not tsa.crosscheck or crawled.name not in (tsa.name,
                                                                            tsa.crosscheck):
            continue
        from .crosscheck import run_crosscheck  # only where there is a pair to compare

        try:
            results.append(run_crosscheck(history, settings, tsa, now=clock(), alerts=alerts))
        except (ZufiwatchError, ValueError) as exc:
            log.error("cross-check of %s and %s failed: %s", tsa.name, tsa.crosscheck, exc)
    return results


def refresh_overview(settings: Settings, history: History, clock: Clock) -> Path | None:
    """Write the static overview if one is configured; a failure is logged, not raised."""
    if not settings.report.directory:
        return None
    from .report import build_overview

    try:
        return build_overview(history, settings, Path(settings.report.directory), now=clock(),
                              language=settings.report.language)
    except (OSError, ValueError, ZufiwatchError) as exc:
        log.error("overview not written to %s: %s", settings.report.directory, exc)
        return None


def crawl_sources(settings: Settings, sources: list[SourceSettings], *, history: History,
                  archive: Archive, clock: Clock = system_clock,
                  fetcher: Fetcher | None = None, alerts: Alerts | None = None,
                  stop: threading.Event | None = None,
                  progress: Callable[[CrawlProgress], None] | None = None
                  ) -> list[CrawlResult]:
    """Crawl several sources one after another; one source's failure never stops the next.
    ``progress`` hears how far each crawl has got (its snapshots name the source)."""
    results = []
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings.http)
    try:
        for source in sources:
            try:
                if stop is not None and stop.is_set():
                    break
                results.append(run_crawl(source, history=history, archive=archive,
                                         fetcher=fetcher, clock=clock, alerts=alerts,
                                         stop=stop, progress=progress))
                if results[-1].outcome is Outcome.COMPLETE:
                    crosscheck_after(settings, source, history=history, clock=clock,
                                     alerts=alerts)
            except CrawlInProgress as exc:
                log.error("%s", exc)
                results.append(CrawlResult(0, source.name, Outcome.FAILED, str(exc),
                                           _stats_none(), []))
    finally:
        if own:
            fetcher.close()
    refresh_overview(settings, history, clock)
    return results
