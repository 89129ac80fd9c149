"""The hourly link watch of a PVOG source: one request, the CSV listing.

A source of its own (kind ``linkwatch``, named ``<PVOG source>:links``, see
:mod:`.linkwatch`) crawled through the runner like any other: its records are diffed,
gated, stored and grouped into events, so a link it sees replaced is one event that the
next full crawl of the PVOG joins as a second witness. No detail is read, except the
detail of a Leistung the CSV no longer names (the recheck of the full crawl): 404 or 410
there concludes it removed; while the detail still answers, or cannot be asked, it is only
held as missing, however many runs miss it (the full crawl decides by its own count).

A CSV that cannot be read, or that lacks a column the records rest on, fails the run
with the reason: nothing is concluded from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from ...errors import ArchiveError, ZufiwatchError
from ..base import CrawlContext, CrawlItem, Fatal, Listing, Observed, Source
from .csvlisting import parse_csv_listing
from .linkwatch import KIND, PARSER_VERSION, watch_records, watched_source
from .shapes import EP_CSV, SHAPES
from .walk import PvogSource, _Archived, _Live

__all__ = ["LinkWatchSource"]


class LinkWatchSource(Source):
    """The online-service links of a PVOG source's Leistungen, from its CSV listing."""

    kind = KIND
    parser_version = PARSER_VERSION
    removes_only_when_gone = True

    @property
    def subject_source(self) -> str:
        """The PVOG source whose Leistungen the records are (events pair them)."""
        return watched_source(self.name)

    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        if ctx.fetcher is None:
            raise RuntimeError("a live crawl needs a fetcher")
        ctx.fetcher.limit_host(urlsplit(self.settings.base_url).netloc,
                               max_concurrency=self.settings.max_concurrency,
                               min_interval=self.settings.min_interval)
        yield from self._learn(ctx, _Live(self.settings, ctx, None).csv_listing)

    def recheck(self, ctx: CrawlContext, keys: list[str]) -> dict[str, bool | None]:
        """As the full crawl: a Leistung's detail answering 404 or 410 is gone."""
        return PvogSource(self.settings).recheck(ctx, keys)

    def replay(self, ctx: CrawlContext, entries: Iterable[dict[str, Any]],
               load: Callable[[str], bytes]) -> Iterator[CrawlItem]:
        yield from self._learn(ctx, _Archived(list(entries), load).csv_listing)

    @staticmethod
    def _learn(ctx: CrawlContext, csv_listing: Callable[[], Any]) -> Iterator[CrawlItem]:
        try:
            response = csv_listing()
            if response is None:
                raise ArchiveError("the archived crawl has no CSV listing")
            with ctx.timed("parse"):
                listing = parse_csv_listing(response.body)
                ctx.shapes.check(EP_CSV, dict.fromkeys(listing.columns), SHAPES[EP_CSV])
                records = watch_records(listing)
        except ZufiwatchError as exc:
            yield Fatal(f"CSV listing {EP_CSV} not read: {exc}")
            return
        yield Listing("leistungen", expected=len(records), received=len(records))
        for record in records:
            yield Observed((record,))
