"""Crawling the PVOG Suchdienst for one ARS: paging, concurrency, completeness, replay.

Endpoints, as public clients of the live service call them (production base URL
``https://pvog.fitko.net/suchdienst/api``; optional header ``pvog-sud-api-client-id``)::

    GET /v7/servicedescriptions/{ars}?page=N&size=K      listing, a Spring page inside
                                                         "serviceDescriptions" (size >= 5)
    GET /v5/servicedescriptions/csv?ars={ars}            the CSV listing (one request)
    GET /v6/servicedescriptions/{lbid}/detail?ars={ars}&applyDynamicParams=true
                                                         one Leistung
    GET /v2/organisationunits/titles?ars=&lbId=          offices of a Leistung (role 01 =
                                                         zuständige Stelle, 03 = Ansprechpunkt)
    GET /v5/organisationunits/detail?q={oeId}            one office
    GET /v1beta2/onlineservices?ars=[&nextPageToken=]    online services, token paging;
                                                         inherited Land/Bund ones included

Details and offices are fetched in parallel (in order, a bounded window ahead); every
answer is archived, so an earlier crawl can be replayed through the same parsers. The paged
listing is what is crawled; the CSV listing is read once per crawl as a cross-check: a
Leistung in one and not the other, or a CSV that cannot be read, makes the crawl partial
for Leistungen (nothing concluded removed), never failed. An archived crawl without a CSV
answer (made by ``pvog-1``) is replayed without the cross-check.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from ...config import SourceSettings
from ...errors import (
    ArchiveError,
    FetchError,
    HTTPStatusError,
    PayloadError,
    ZufiwatchError,
)
from ...fetch import Response
from ...limits import LimitReached, WalkBudget
from ...model import Record, record_key, split_key
from .._concurrency import ordered_map
from ..base import (
    Confirmed,
    CrawlContext,
    CrawlItem,
    Fatal,
    Incomplete,
    Listing,
    Observed,
    Source,
    Unobserved,
    Unverified,
    Vouched,
    decode_json,
    unreadable,
)
from .csvlisting import compare_listings, parse_csv_listing
from .parse import (
    PARSER_VERSION,
    leistung_office_ids,
    parse_listing,
    parse_office,
    parse_onlineservices,
)
from .shapes import EP_CSV, EP_DETAIL, EP_LISTING, EP_OFFICE, EP_ONLINE, EP_TITLES, SHAPES

__all__ = ["PvogSource"]

log = logging.getLogger(__name__)



def _parse_leistung(detail: Any, titles: Any) -> Record:
    """The package's ``parse_leistung``, looked up when called: a parser replaced on the
    package (an upgrade, a test counting calls) is the one the crawl uses."""
    parser: Callable[[Any, Any], Record] = sys.modules[__package__].parse_leistung
    return parser(detail, titles)


# -- the crawl -----------------------------------------------------------------------------




class PvogSource(Source):
    """Crawls the PVOG Suchdienst for one ARS."""

    kind = "pvog"
    parser_version = PARSER_VERSION

    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        host = urlsplit(self.settings.base_url).netloc
        if ctx.fetcher is None:
            raise RuntimeError("a live crawl needs a fetcher")
        ctx.fetcher.limit_host(host, max_concurrency=self.settings.max_concurrency,
                               min_interval=self.settings.min_interval)
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency,
                                thread_name_prefix="pvog") as pool:
            yield from self._learn(ctx, _Live(self.settings, ctx, pool))

    def recheck(self, ctx: CrawlContext, keys: list[str]) -> dict[str, bool | None]:
        """Leistungen and offices have a detail endpoint: 404 or 410 there means gone.
        Onlinedienste have none, so only repeated absence can remove them."""
        if ctx.fetcher is None:
            return dict.fromkeys(keys)
        live = _Live(self.settings, ctx, None)
        answers: dict[str, bool | None] = {}
        for key in keys:
            kind, source_id = split_key(key)
            try:
                if kind == "leistung":
                    live.get_detail(source_id, endpoint=f"recheck {EP_DETAIL}")
                elif kind == "organisationseinheit":
                    live.get_office(source_id, endpoint=f"recheck {EP_OFFICE}")
                else:
                    answers[key] = None
                    continue
                answers[key] = False
            except HTTPStatusError as exc:
                answers[key] = True if exc.status in (404, 410) else None
            except ZufiwatchError:
                answers[key] = None
        return answers

    def replay(self, ctx: CrawlContext, entries: Iterable[dict[str, Any]],
               load: Callable[[str], bytes]) -> Iterator[CrawlItem]:
        """What an earlier crawl learned, parsed again from its archived payloads."""
        yield from self._learn(ctx, _Archived(list(entries), load))

    def _learn(self, ctx: CrawlContext, payloads: _Payloads) -> Iterator[CrawlItem]:
        try:
            ids, stamps = yield from self._listing(ctx, payloads)
        except ZufiwatchError as exc:
            yield Fatal(f"listing of Leistungen failed: {exc}")
            return
        yield from self._crosscheck(ctx, payloads, ids)
        office_ids: set[str] = set()
        listed = len(ids)
        if ctx.incremental:
            ids = yield from self._unchanged_per_listing(ctx, ids, stamps)
        yield from self._leistungen(ctx, payloads, ids, office_ids)
        yield from self._offices(ctx, payloads, sorted(office_ids))
        if len(ids) < listed:
            yield Unverified("organisationseinheit", "incremental crawl: only the offices of "
                             "changed Leistungen were read")
        yield from self._onlineservices(ctx, payloads)

    def _unchanged_per_listing(self, ctx: CrawlContext, ids: list[str], stamps: dict[str, str]
                               ) -> Generator[CrawlItem, None, list[str]]:
        """Vouch for Leistungen whose listing ``lastUpdate`` equals the stored one; return
        the ids that must be fetched."""
        fetch = []
        for lb_id in ids:
            key = record_key("leistung", lb_id)
            stamp = stamps.get(lb_id)
            if stamp and ctx.stamps.get(key) == stamp:
                yield Vouched(key)
            else:
                fetch.append(lb_id)
        return fetch

    def _listing(self, ctx: CrawlContext, payloads: _Payloads
                 ) -> Generator[CrawlItem, None, tuple[list[str], dict[str, str]]]:
        ids: list[str] = []
        stamps: dict[str, str] = {}
        page_number = 0
        total = None
        budget = WalkBudget(EP_LISTING, self.settings.max_pages, self.settings.max_items)
        while True:
            budget.take_page()
            response = payloads.listing_page(page_number, self.settings.page_size)
            with ctx.timed("parse"):
                payload = decode_json(response, EP_LISTING)
                ctx.shapes.check(EP_LISTING, payload, SHAPES[EP_LISTING])
                page = parse_listing(payload)
            total = page.total_elements if total is None else total
            budget.take_items(len(page.ids))
            ids.extend(page.ids)
            stamps.update(page.last_update)
            page_number += 1
            if page.last or not page.ids or len(ids) >= total or (
                    page.total_pages and page_number >= page.total_pages):
                break
        unique = list(dict.fromkeys(ids))
        yield Listing("leistungen", expected=total or 0, received=len(unique))
        if len(unique) != total:
            raise PayloadError(f"{EP_LISTING}: totalElements said {total}, "
                               f"the pages listed {len(unique)} distinct ids",
                               endpoint=EP_LISTING)
        return unique, stamps

    def _crosscheck(self, ctx: CrawlContext, payloads: _Payloads,
                    ids: list[str]) -> Iterator[CrawlItem]:
        """The CSV listing against the paged one: Leistungen in one and not the other, or
        a CSV that cannot be read, make Leistungen incomplete (nothing concluded removed)."""
        try:
            response = payloads.csv_listing()
            if response is None:  # an archived crawl from before the CSV was read
                return
            with ctx.timed("parse"):
                listing = parse_csv_listing(response.body)
        except ZufiwatchError as exc:
            yield Incomplete("leistung", f"CSV listing {EP_CSV} not read, no cross-check: "
                                         f"{exc}")
            return
        ctx.shapes.check(EP_CSV, dict.fromkeys(listing.columns), SHAPES[EP_CSV])
        reason = compare_listings(ids, listing.leistung_ids)
        if reason:
            yield Incomplete("leistung", reason)

    def _leistungen(self, ctx: CrawlContext, payloads: _Payloads, ids: list[str],
                    office_ids: set[str]) -> Iterator[CrawlItem]:
        """Detail and offices of every listed Leistung; collects the offices' ids."""
        for lb_id, result in payloads.leistungen(ids):
            key = record_key("leistung", lb_id)
            if isinstance(result, Exception):
                yield Unobserved(key, str(result))
                continue
            try:
                yield self._leistung(ctx, lb_id, result, office_ids)
            except Exception as exc:  # one bad entry is that entry not observed
                yield unreadable(key, exc, ctx.shapes)

    @staticmethod
    def _leistung(ctx: CrawlContext, lb_id: str, result: tuple[Response, Response],
                  office_ids: set[str]) -> CrawlItem:
        """One Leistung from its detail and office titles (or confirmed unchanged)."""
        key = record_key("leistung", lb_id)
        fingerprint = ctx.fingerprint(result[0].body, result[1].body)
        with ctx.timed("parse"):
            detail = decode_json(result[0], EP_DETAIL)
            titles = decode_json(result[1], EP_TITLES)
            ctx.shapes.check(EP_DETAIL, detail, SHAPES[EP_DETAIL])
            ctx.shapes.check(EP_TITLES, titles, SHAPES[EP_TITLES])
            office_ids.update(leistung_office_ids(detail, titles))
            if ctx.fingerprints.get(key) == fingerprint:
                return Confirmed(key, fingerprint)
            record = _parse_leistung(detail, titles)
        if record.source_id != lb_id:
            return Unobserved(key, f"{EP_DETAIL}: asked for {lb_id}, got {record.source_id}")
        return Observed((record,), fingerprint)

    def _offices(self, ctx: CrawlContext, payloads: _Payloads,
                 office_ids: list[str]) -> Iterator[CrawlItem]:
        for oe_id, result in payloads.offices(office_ids):
            key = record_key("organisationseinheit", oe_id)
            if isinstance(result, HTTPStatusError) and result.status in (404, 410):
                # A Leistung names an office that does not exist: not seen, so a stored
                # one becomes missing and the recheck concludes it removed.
                log.warning("%s is named by a Leistung but answers %s", key, result.status)
                continue
            if isinstance(result, Exception):
                yield Unobserved(key, str(result))
                continue
            try:
                yield self._office(ctx, oe_id, result)
            except Exception as exc:  # one bad entry is that entry not observed
                yield unreadable(key, exc, ctx.shapes)

    @staticmethod
    def _office(ctx: CrawlContext, oe_id: str, result: Response) -> CrawlItem:
        """One office from its detail (or confirmed unchanged)."""
        key = record_key("organisationseinheit", oe_id)
        fingerprint = ctx.fingerprint(result.body)
        with ctx.timed("parse"):
            payload = decode_json(result, EP_OFFICE)
            ctx.shapes.check(EP_OFFICE, payload, SHAPES[EP_OFFICE])
            if ctx.fingerprints.get(key) == fingerprint:
                return Confirmed(key, fingerprint)
            record = parse_office(payload)
        if record.source_id != oe_id:
            return Unobserved(key, f"{EP_OFFICE}: asked for {oe_id}, got {record.source_id}")
        return Observed((record,), fingerprint)

    def _onlineservices(self, ctx: CrawlContext, payloads: _Payloads) -> Iterator[CrawlItem]:
        token: str | None = None
        received = 0
        total: int | None = None
        seen_tokens: set[str] = set()
        budget = WalkBudget(EP_ONLINE, self.settings.max_pages, self.settings.max_items)
        try:
            while True:
                budget.take_page()
                response = payloads.online_page(token)
                with ctx.timed("parse"):
                    payload = decode_json(response, EP_ONLINE)
                    ctx.shapes.check(EP_ONLINE, payload, SHAPES[EP_ONLINE])
                    page = parse_onlineservices(payload, self.settings.ars)
                total = page.total_hits if total is None else total
                received += page.received
                budget.take_items(page.received)
                if page.records:
                    yield Observed(page.records)
                if page.next_token is None:
                    break
                if page.next_token in seen_tokens:
                    raise PayloadError(f"{EP_ONLINE}: nextPageToken repeats; stopped paging",
                                       endpoint=EP_ONLINE)
                seen_tokens.add(page.next_token)
                token = page.next_token
        except LimitReached as exc:
            # Online services that do not end: nothing is concluded from this crawl.
            yield Fatal(str(exc))
            return
        except ZufiwatchError as exc:
            yield Incomplete("onlinedienst", f"online services incomplete: {exc}")
            return
        yield Listing("onlinedienste", expected=total if total is not None else received,
                      received=received)


LeistungPayloads = tuple[Response, Response] | Exception


class _Payloads(Protocol):
    """Where a crawl's payloads come from: the live API or the archive of an earlier crawl."""

    def listing_page(self, number: int, size: int) -> Response: ...

    def leistungen(self, ids: list[str]) -> Iterator[tuple[str, LeistungPayloads]]: ...

    def offices(self, ids: list[str]) -> Iterator[tuple[str, Response | Exception]]: ...

    def online_page(self, token: str | None) -> Response: ...

    def csv_listing(self) -> Response | None:
        """The CSV listing; None where an archived crawl has none (made by pvog-1)."""


class _Live:
    """Payloads fetched now, details in parallel (in order, a bounded window ahead)."""

    def __init__(self, settings: SourceSettings, ctx: CrawlContext,
                 pool: ThreadPoolExecutor | None) -> None:
        self.settings = settings
        self.ctx = ctx
        self.pool = pool
        self.window = 4 * settings.max_concurrency
        self.headers = {"Accept": "application/json"}
        if settings.client_id:
            self.headers["pvog-sud-api-client-id"] = settings.client_id

    def _get(self, path: str, endpoint: str, params: dict[str, str], key: str = "",
             headers: dict[str, str] | None = None) -> Response:
        url = self.settings.base_url.rstrip("/") + path
        return self.ctx.fetch(url, endpoint=endpoint, key=key, params=params,
                              headers=headers or self.headers)

    def csv_listing(self) -> Response:
        return self._get("/v5/servicedescriptions/csv", EP_CSV, {"ars": self.settings.ars},
                         headers={**self.headers, "Accept": "text/csv, */*;q=0.5"})

    def listing_page(self, number: int, size: int) -> Response:
        return self._get(f"/v7/servicedescriptions/{quote(self.settings.ars)}", EP_LISTING,
                         {"page": str(number), "size": str(size)})

    def get_detail(self, lb_id: str, endpoint: str = EP_DETAIL) -> Response:
        return self._get(f"/v6/servicedescriptions/{quote(lb_id)}/detail", endpoint,
                         {"ars": self.settings.ars, "applyDynamicParams": "true"},
                         record_key("leistung", lb_id))

    def get_office(self, oe_id: str, endpoint: str = EP_OFFICE) -> Response:
        return self._get("/v5/organisationunits/detail", endpoint, {"q": oe_id},
                         record_key("organisationseinheit", oe_id))

    def _leistung(self, lb_id: str) -> tuple[str, LeistungPayloads]:
        key = record_key("leistung", lb_id)
        try:
            detail = self.get_detail(lb_id)
            titles = self._get("/v2/organisationunits/titles", EP_TITLES,
                               {"ars": self.settings.ars, "lbId": lb_id}, key)
        except ZufiwatchError as exc:
            return lb_id, exc
        return lb_id, (detail, titles)

    def leistungen(self, ids: list[str]) -> Iterator[tuple[str, LeistungPayloads]]:
        assert self.pool is not None
        return ordered_map(self.pool, self._leistung, ids, window=self.window)

    def _office(self, oe_id: str) -> tuple[str, Response | Exception]:
        try:
            return oe_id, self.get_office(oe_id)
        except ZufiwatchError as exc:
            return oe_id, exc

    def offices(self, ids: list[str]) -> Iterator[tuple[str, Response | Exception]]:
        assert self.pool is not None
        return ordered_map(self.pool, self._office, ids, window=self.window)

    def online_page(self, token: str | None) -> Response:
        params = {"ars": self.settings.ars}
        if token:
            params["nextPageToken"] = token
        return self._get("/v1beta2/onlineservices", EP_ONLINE, params)


class _Archived:
    """The payloads an earlier crawl received, from its manifest and the archive."""

    def __init__(self, entries: list[dict[str, Any]], load: Callable[[str], bytes]) -> None:
        self.load = load
        self.by_endpoint: dict[str, list[dict[str, Any]]] = {}
        self.by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in entries:
            self.by_endpoint.setdefault(entry["endpoint"], []).append(entry)
            if entry.get("key"):
                self.by_key[(entry["endpoint"], entry["key"])] = entry
        self.online_pages = iter(self.by_endpoint.get(EP_ONLINE, []))

    def _response(self, entry: dict[str, Any] | None, what: str) -> Response:
        if entry is None:
            raise ArchiveError(f"the archived crawl has no payload for {what}")
        if entry.get("error"):
            raise FetchError(f"archived fetch failed: {entry['error']}", url=entry["url"])
        return Response(entry["url"], entry.get("status") or 200,
                        entry.get("content_type", ""), self.load(entry["sha256"]))

    def listing_page(self, number: int, size: int) -> Response:
        pages = self.by_endpoint.get(EP_LISTING, [])
        return self._response(pages[number] if number < len(pages) else None,
                              f"listing page {number}")

    def _pair(self, lb_id: str) -> LeistungPayloads:
        key = record_key("leistung", lb_id)
        try:
            return (self._response(self.by_key.get((EP_DETAIL, key)), f"{key} detail"),
                    self._response(self.by_key.get((EP_TITLES, key)), f"{key} offices"))
        except ZufiwatchError as exc:
            return exc

    def leistungen(self, ids: list[str]) -> Iterator[tuple[str, LeistungPayloads]]:
        return ((lb_id, self._pair(lb_id)) for lb_id in ids)

    def _office(self, oe_id: str) -> Response | Exception:
        key = record_key("organisationseinheit", oe_id)
        try:
            return self._response(self.by_key.get((EP_OFFICE, key)), key)
        except ZufiwatchError as exc:
            return exc

    def offices(self, ids: list[str]) -> Iterator[tuple[str, Response | Exception]]:
        return ((oe_id, self._office(oe_id)) for oe_id in ids)

    def online_page(self, token: str | None) -> Response:
        return self._response(next(self.online_pages, None), "an online-services page")

    def csv_listing(self) -> Response | None:
        entries = self.by_endpoint.get(EP_CSV)
        return self._response(entries[0], "the CSV listing") if entries else None
