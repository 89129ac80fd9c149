"""How far one crawl may go: a deadline for the whole crawl and caps on a paged walk.

A source that pages for ever, or drips its answers, must not hold a crawl (and the
source's lock) for ever, nor fill the memory. Three limits, per source
(``[[sources]]``):

- ``max_crawl_minutes``: the :class:`CrawlDeadline`. After it the fetcher refuses new
  requests (and cuts the ones under way), and the runner stops the crawl like a service
  that shuts down: what was read is stored, nothing else is concluded.
- ``max_pages`` and ``max_items``: the pages and the entries one paged walk reads at most
  (:class:`WalkBudget`). Counting the entries as they arrive, not the ones kept, also
  bounds the memory a walk can fill, whatever the server sends.

Reaching a cap raises :class:`LimitReached` naming the endpoint and the limit; the walks
turn it into a failed crawl (nothing is concluded from a listing that does not end).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from .errors import FetchError, ZufiwatchError

__all__ = ["CrawlDeadline", "LimitReached", "WalkBudget"]


class LimitReached(ZufiwatchError):
    """A paged walk reached ``max_pages`` or a listing ``max_items``."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class WalkBudget:
    """The pages and entries one paged walk may still read; thread-safe (a walk may page
    in parallel, as the office tree does)."""

    def __init__(self, endpoint: str, max_pages: int, max_items: int) -> None:
        self.endpoint = endpoint
        self.max_pages = max_pages
        self.max_items = max_items
        self.pages = 0
        self.items = 0
        self._lock = threading.Lock()

    def take_page(self) -> None:
        """Count one more page before it is asked for; :class:`LimitReached` when it would
        be one too many."""
        with self._lock:
            if self.pages >= self.max_pages:
                raise LimitReached(self._message(f"max_pages = {self.max_pages} pages"),
                                   endpoint=self.endpoint)
            self.pages += 1

    def take_items(self, count: int) -> None:
        """Count the entries a page delivered; :class:`LimitReached` beyond ``max_items``."""
        with self._lock:
            self.items += count
            if self.items > self.max_items:
                raise LimitReached(self._message(f"max_items = {self.max_items} entries"),
                                   endpoint=self.endpoint)

    def _message(self, limit: str) -> str:
        return (f"{self.endpoint}: stopped after {limit} (the walk did not end; raise "
                f"{limit.split()[0]} of this source if the directory really is this large)")


class CrawlDeadline:
    """The end of one crawl (``max_crawl_minutes`` after its start, on the crawl's clock).

    :meth:`refuse` is what the fetcher raises for a request after the deadline; the first
    refused request is kept, to say where the crawl was.
    """

    def __init__(self, minutes: float, clock: Callable[[], datetime]) -> None:
        self.minutes = minutes
        self._clock = clock
        self.ends = clock() + timedelta(minutes=minutes)
        #: Requests refused after the deadline, and where the first one was.
        self.refused = 0
        self.first_refused = ""
        #: The endpoint of the latest request (noted by the crawl), to say where it was.
        self.endpoint = ""
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds left (<= 0 once the deadline passed)."""
        return (self.ends - self._clock()).total_seconds()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def refuse(self, url: str) -> FetchError:
        """The error for a request that the deadline does not let start, or cut short."""
        with self._lock:
            self.refused += 1
            if not self.first_refused:
                self.first_refused = url
        return FetchError(f"crawl deadline of {self.minutes:g} min reached: {url}", url=url)

    def reason(self) -> str:
        """Why a crawl stopped at the deadline, naming where it was."""
        place = f" in {self.endpoint}" if self.endpoint else ""
        if self.first_refused:
            place += f" (refused from {self.first_refused} on)"
        return (f"crawl deadline of {self.minutes:g} min reached{place}; what was read so far "
                "is stored, nothing else is concluded")
