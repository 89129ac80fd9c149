"""How far a crawl has got: counts, rate and time left, from an injected clock (pure).

The runner hands every item a source yields to a :class:`ProgressTracker` and passes a
:class:`CrawlProgress` snapshot to whoever watches: the terminal bars of ``zufiwatch
crawl`` (``cli/progressbars.py``) and the daemon's log line (:func:`log_line`, at most once
per :class:`Throttle` interval). Both are thin edges over the snapshot.

What is counted:

- ``total``: the entries the source's listing named (the Leistungen); unknown (``None``)
  until the listing is read. A source that concludes only at the end (the link checker)
  reports its own ``done`` of ``total`` with :class:`~.sources.base.Progress` items.
- ``done``: entries of that kind taken so far, whatever became of them (observed,
  confirmed unchanged, vouched for by the listing, or not observed).
- ``errors``: entries of any kind not observed (an answer that failed or could not be
  read, a failed check).
- ``other``: entries of other kinds (offices, online services) read along the way.
- ``requests`` and ``bytes_received``: what the crawl's HTTP clients sent and received.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from .sources.base import (
    Confirmed,
    Listing,
    Observed,
    Progress,
    Strike,
    Unobserved,
    Vouched,
)

__all__ = ["CrawlProgress", "ProgressTracker", "Throttle", "format_left", "log_line"]

#: The listing whose entries a crawl's ``total`` counts, and their kind.
MAIN_LISTING = "leistungen"
MAIN_KIND = "leistung"


@dataclass(frozen=True)
class CrawlProgress:
    """One crawl's progress at ``now`` (immutable)."""

    source: str
    started: datetime
    now: datetime
    total: int | None = None
    done: int = 0
    errors: int = 0
    other: int = 0
    requests: int = 0
    bytes_received: int = 0
    #: When the total became known, and how many were done then: the rate is measured
    #: from there (the listing pages before it are no measure of the details after it).
    counting_since: datetime | None = None
    done_before: int = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the crawl began."""
        return max(0.0, (self.now - self.started).total_seconds())

    @property
    def rate(self) -> float | None:
        """Entries per second since the total became known (None before any)."""
        if self.counting_since is None:
            return None
        seconds = (self.now - self.counting_since).total_seconds()
        counted = self.done - self.done_before
        if counted <= 0 or seconds <= 0:
            return None
        return counted / seconds

    @property
    def left(self) -> float | None:
        """Seconds until ``done`` reaches ``total`` at the rate so far (None: unknown)."""
        if self.total is None:
            return None
        if self.done >= self.total:
            return 0.0
        rate = self.rate
        return None if rate is None else (self.total - self.done) / rate

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


class ProgressTracker:
    """Counts the items of one crawl as they pass through the runner (not thread-safe:
    the runner's loop is its only user)."""

    def __init__(self, source: str, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._state = CrawlProgress(source, started=clock(), now=clock())
        #: The source reports its own progress: its entries are not counted again.
        self._reported = False

    def take(self, item: object) -> None:
        """Count one item a source yielded (an item that says nothing of progress is
        ignored)."""
        state = self._state
        if isinstance(item, Progress):
            self._reported = True
            if state.total is None or state.counting_since is None:
                state = replace(state, counting_since=self._clock(), done_before=item.done)
            self._state = replace(state, total=item.total, done=item.done,
                                  errors=item.errors)
            return
        if isinstance(item, Listing):
            if item.name == MAIN_LISTING and state.total is None and not self._reported:
                self._state = replace(state, total=item.expected, counting_since=self._clock(),
                                      done_before=state.done)
            return
        if self._reported:
            return
        key, entries, failed = _entries(item)
        if not entries:
            return
        if key.startswith(f"{MAIN_KIND}:"):
            state = replace(state, done=state.done + entries)
        else:
            state = replace(state, other=state.other + entries)
        self._state = replace(state, errors=state.errors + failed)

    def snapshot(self, requests: int, bytes_received: int) -> CrawlProgress:
        """The progress now, with the crawl's traffic so far."""
        self._state = replace(self._state, now=self._clock(), requests=requests,
                              bytes_received=bytes_received)
        return self._state


def _entries(item: object) -> tuple[str, int, int]:
    """(a key, how many entries, how many of them failed) an item stands for."""
    if isinstance(item, Observed):
        if not item.records:
            return "", 0, 0
        return item.records[0].key, len(item.records), 0
    if isinstance(item, Confirmed | Vouched):
        return item.key, 1, 0
    if isinstance(item, Unobserved | Strike):
        return item.key, 1, 1
    return "", 0, 0


@dataclass
class Throttle:
    """Lets one report through per ``interval`` seconds of the snapshots' own clock;
    the first after ``interval`` seconds of the crawl (a short crawl reports only its end)."""

    interval: float = 60.0
    _last: dict[str, datetime] = field(default_factory=dict)

    def due(self, progress: CrawlProgress) -> bool:
        last = self._last.get(progress.source, progress.started)
        if (progress.now - last).total_seconds() < self.interval:
            return False
        self._last[progress.source] = progress.now
        return True


def format_left(seconds: float | None) -> str:
    """Time left as people read it: ``4:05`` (minutes), ``1:02:05`` (hours), ``-:--``."""
    if seconds is None:
        return "-:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def count_text(progress: CrawlProgress) -> str:
    """``1,200 of 2,000`` (``1,200 of ?`` until the listing is read), and the entries of
    other kinds."""
    total = "?" if progress.total is None else f"{progress.total:,}"
    text = f"{progress.done:,} of {total}"
    if progress.other:
        text += f" (+{progress.other:,} other entries)"
    return text


def log_line(progress: CrawlProgress) -> str:
    """The daemon's progress line of one running crawl."""
    return (f"crawl of {progress.source} under way: {count_text(progress)} done, "
            f"{progress.requests:,} requests, {progress.errors:,} errors, "
            f"{format_left(progress.left)} left")
