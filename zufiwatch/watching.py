"""The link watch: one cheap run per PVOG source, between its full crawls.

Each run reads the source's CSV listing (one request) through :func:`run_crawl` under the
source ``<name>:links`` (see :mod:`zufiwatch.sources.pvog.watch`): what it finds is gated,
stored and alerted like a crawl's changes, as events the next full crawl joins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from .alerts import Alerts
from .archive import Archive
from .config import Settings, SourceSettings
from .errors import ConfigError, CrawlInProgress
from .fetch import Fetcher
from .model import Outcome
from .runner import CrawlResult, refresh_overview, run_crawl
from .sources.pvog.linkwatch import watch_settings
from .store import History
from .timeutil import Clock, system_clock

__all__ = ["run_link_watches", "watched_sources"]

log = logging.getLogger(__name__)


def watched_sources(settings: Settings, names: Sequence[str] = ()) -> list[SourceSettings]:
    """The PVOG sources named (default: every PVOG source with a ``link_watch_schedule``);
    a named source that is not a PVOG source is a :class:`ConfigError`."""
    if names:
        chosen = [settings.source(name) for name in names]
        for source in chosen:
            if source.kind != "pvog":
                raise ConfigError(f"{settings.origin}: source {source.name!r} is of kind "
                                  f"{source.kind!r}; only a pvog source has a link watch")
        return chosen
    return [s for s in settings.sources if s.kind == "pvog" and s.link_watch_schedule]


def run_link_watches(settings: Settings, sources: Sequence[SourceSettings], *,
                     history: History, archive: Archive, clock: Clock = system_clock,
                     fetcher: Fetcher | None = None, alerts: Alerts | None = None,
                     stop: threading.Event | None = None) -> list[CrawlResult]:
    """Run the link watch of each source once; one failure never stops the next."""
    results = []
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings.http)
    try:
        for source in sources:
            if stop is not None and stop.is_set():
                break
            watch = watch_settings(source)
            try:
                results.append(run_crawl(watch, history=history, archive=archive,
                                         fetcher=fetcher, clock=clock, alerts=alerts,
                                         stop=stop))
            except CrawlInProgress as exc:
                log.error("%s", exc)
                results.append(CrawlResult(0, watch.name, Outcome.FAILED, str(exc),
                                           {"observed": 0, "changes": 0, "requests": 0}, []))
    finally:
        if own:
            fetcher.close()
    if any(result.changes for result in results):
        refresh_overview(settings, history, clock)
    return results
