"""Crawling the PVOG Suchdienst for one ARS: paging, concurrency, completeness, replay.

Endpoints, as public clients of the live service call them (production base URL
``https://pvog.fitko.net/suchdienst/api``; optional header ``pvog-sud-api-client-id``)::

    GET /v7/servicedescriptions/{ars}?page=N&size=K      listing, a Spring page inside
                                                         "serviceDescriptions" (size >= 5)
    GET /v5/servicedescriptions/csv?ars={ars}            the CSV listing (one request)
    GET /v6/servicedescriptions/{lbid}/detail?ars={ars}&applyDynamicParams=true
                                                         one Leistung
    GET /v2/organisationunits/titles?ars=&lbId=          offices of a Leistung (role 01 =
                                                         zuständige Stelle, 03 = Ansprechpunkt);
                                                         only where their names and roles are
                                                         not known (see :mod:`.prints`)
    GET /v5/organisationunits/detail?q={oeId}            one office
    GET /v1beta2/onlineservices?ars=[&nextPageToken=]    online services, token paging;
                                                         inherited Land/Bund ones included

Details and offices are fetched in parallel (in order, a bounded window ahead), each office
once per crawl; a Leistung whose detail's content (volatile fields aside) and offices are
those of its stored version is confirmed without parsing (and, where the previous crawl
vouches for it, without walking its shape: :mod:`..drift`). Every answer is archived, so an
earlier crawl can be replayed through the same parsers. The paged listing is what is
crawled; the CSV listing is read once per crawl as a cross-check: a Leistung in one and not
the other, or a CSV that cannot be read, makes the crawl partial for Leistungen (nothing
concluded removed), never failed. An archived crawl without a CSV answer (made by
``pvog-1``) is replayed without the cross-check.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
    without,
)
from ..drift import Answer
from .csvlisting import compare_listings, parse_csv_listing
from .parse import (
    DETAIL_VOLATILE,
    OFFICE_VOLATILE,
    PARSER_VERSION,
    detail_volatile,
    leistung_offices,
    office_volatile,
    onlineservice_id,
    onlineservice_items,
    onlineservice_record,
    parse_listing,
    parse_office,
)
from .prints import LeistungPrint, leistung_print, named_offices, reusable_offices
from .shapes import EP_CSV, EP_DETAIL, EP_LISTING, EP_OFFICE, EP_ONLINE, EP_TITLES, SHAPES

__all__ = ["PvogSource"]

log = logging.getLogger(__name__)



def _parse_leistung(detail: Any, titles: Any,
                    offices: list[dict[str, str]] | None = None) -> Record:
    """The package's ``parse_leistung``, looked up when called: a parser replaced on the
    package (an upgrade, a test counting calls) is the one the crawl uses. ``offices``:
    the Zuständigkeiten taken from the stored version (no titles asked for)."""
    parser: Callable[..., Record] = sys.modules[__package__].parse_leistung
    if offices is None:
        return parser(detail, titles)
    return parser(detail, titles, zustaendigkeiten=offices)


# -- the crawl -----------------------------------------------------------------------------




class PvogSource(Source):
    """Crawls the PVOG Suchdienst for one ARS."""

    kind = "pvog"
    parser_version = PARSER_VERSION
    answer_shapes = SHAPES

    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        host = urlsplit(self.settings.base_url).netloc
        if ctx.fetcher is None:
            raise RuntimeError("a live crawl needs a fetcher")
        ctx.fetcher.limit_host(host, max_concurrency=self.settings.max_concurrency,
                               min_interval=self.settings.min_interval)
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency,
                                thread_name_prefix="pvog") as pool:
            yield from self._learn(ctx, _Live(self.settings, ctx, pool,
                                              verify_offices=not ctx.incremental))

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
                yield self._leistung(ctx, payloads, lb_id, result, office_ids)
            except Exception as exc:  # one bad entry is that entry not observed
                yield unreadable(key, exc, ctx.shapes)

    @staticmethod
    def _leistung(ctx: CrawlContext, payloads: _Payloads, lb_id: str,
                  answers: LeistungAnswers, office_ids: set[str]) -> CrawlItem:
        """One Leistung from its detail and its offices (the titles, or the stored
        version's where the detail names the same offices), or confirmed unchanged. The
        detail's shape is walked before it is parsed; a confirmed one's where the previous
        crawl does not vouch for it (see :mod:`..drift`)."""
        key = record_key("leistung", lb_id)
        if isinstance(answers.detail, Exception):
            raise answers.detail
        detail = answers.detail
        with ctx.shapes.answer(EP_DETAIL, key, detail, SHAPES[EP_DETAIL]) as shape:
            return PvogSource._read_leistung(ctx, payloads, key, lb_id, detail,
                                             answers.titles, office_ids, shape)

    @staticmethod
    def _read_leistung(ctx: CrawlContext, payloads: _Payloads, key: str, lb_id: str,
                       detail: Any, titles_answer: Response | None, office_ids: set[str],
                       shape: Answer) -> CrawlItem:
        offices = None
        with ctx.timed("parse"):
            content = ctx.content_fingerprint(without(detail, DETAIL_VOLATILE))
            ids = named_offices(detail)
            if titles_answer is None:
                stored = LeistungPrint.parse(ctx.fingerprints.get(key, ""))
                if ids and stored and stored.detail == content and stored.agree:
                    office_ids.update(ids)
                    ctx.reused += 1
                    shape.confirmed()
                    return Confirmed(key, str(stored), detail_volatile(detail))
                offices = reusable_offices(ctx.stored(key), ids)
        if titles_answer is None and offices is None:
            titles_answer = payloads.titles(lb_id)  # other offices: names, roles unknown
        with ctx.timed("parse"):
            titles = None
            if titles_answer is not None:
                titles = decode_json(titles_answer, EP_TITLES)
                ctx.shapes.check(EP_TITLES, titles, SHAPES[EP_TITLES])
                offices = leistung_offices(detail, titles)
            else:
                ctx.reused += 1
            assert offices is not None
            fingerprint = str(leistung_print(ctx.parser_version, content, offices, ids))
            office_ids.update(ids or ())
            office_ids.update(o["id"] for o in offices if o.get("id"))
            if ctx.fingerprints.get(key) == fingerprint:
                shape.confirmed()
                return Confirmed(key, fingerprint, detail_volatile(detail))
            shape.read()
            record = _parse_leistung(detail, titles, None if titles_answer else offices)
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
        """One office from its detail (or confirmed unchanged; its shape walked as a
        detail's is)."""
        key = record_key("organisationseinheit", oe_id)
        with ctx.timed("parse"):
            payload = decode_json(result, EP_OFFICE)
            with ctx.shapes.answer(EP_OFFICE, key, payload, SHAPES[EP_OFFICE]) as shape:
                fingerprint = ctx.content_fingerprint(without(payload, OFFICE_VOLATILE))
                if ctx.fingerprints.get(key) == fingerprint:
                    shape.confirmed()
                    return Confirmed(key, fingerprint, office_volatile(payload))
                shape.read()
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
                    items, next_token, announced = onlineservice_items(payload)
                    read = [self._onlineservice(ctx, item) for item in items]
                total = announced if total is None else total
                received += len(items)
                budget.take_items(len(items))
                yield from read
                if next_token is None:
                    break
                if next_token in seen_tokens:
                    raise PayloadError(f"{EP_ONLINE}: nextPageToken repeats; stopped paging",
                                       endpoint=EP_ONLINE)
                seen_tokens.add(next_token)
                token = next_token
        except LimitReached as exc:
            # Online services that do not end: nothing is concluded from this crawl.
            yield Fatal(str(exc))
            return
        except ZufiwatchError as exc:
            yield Incomplete("onlinedienst", f"online services incomplete: {exc}")
            return
        yield Listing("onlinedienste", expected=total if total is not None else received,
                      received=received)

    def _onlineservice(self, ctx: CrawlContext, item: Any) -> CrawlItem:
        """One online service from its item of a page, or confirmed unchanged: its
        fingerprint is the item's content (with the ARS, which decides ``geerbt``)."""
        key = record_key("onlinedienst", onlineservice_id(item))
        fingerprint = ctx.content_fingerprint("onlinedienst", self.settings.ars, item)
        if ctx.fingerprints.get(key) == fingerprint:
            return Confirmed(key, fingerprint)
        return Observed((onlineservice_record(item, self.settings.ars),), fingerprint)


@dataclass(frozen=True)
class LeistungAnswers:
    """A Leistung's detail (decoded, or why it cannot be) and, where asked for, its
    office titles."""

    detail: Any
    titles: Response | None = None


LeistungPayloads = LeistungAnswers | Exception


def _answers(detail: Response, titles: Callable[[Any], Response | None]) -> LeistungAnswers:
    """The detail decoded and the titles ``titles(decoded detail)`` gives."""
    try:
        payload = decode_json(detail, EP_DETAIL)
    except ZufiwatchError as exc:
        return LeistungAnswers(exc)
    return LeistungAnswers(payload, titles(payload))


class _Payloads(Protocol):
    """Where a crawl's payloads come from: the live API or the archive of an earlier crawl."""

    def listing_page(self, number: int, size: int) -> Response: ...

    def leistungen(self, ids: list[str]) -> Iterator[tuple[str, LeistungPayloads]]: ...

    def titles(self, lb_id: str) -> Response:
        """The office titles of a Leistung (asked for where the walk needs them)."""

    def offices(self, ids: list[str]) -> Iterator[tuple[str, Response | Exception]]: ...

    def online_page(self, token: str | None) -> Response: ...

    def csv_listing(self) -> Response | None:
        """The CSV listing; None where an archived crawl has none (made by pvog-1)."""


class _Live:
    """Payloads fetched now, details in parallel (in order, a bounded window ahead)."""

    def __init__(self, settings: SourceSettings, ctx: CrawlContext,
                 pool: ThreadPoolExecutor | None, *, verify_offices: bool = True) -> None:
        self.settings = settings
        #: Ask for every Leistung's office titles (a full crawl), not only where the
        #: detail names no offices.
        self.verify_offices = verify_offices
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

    def titles(self, lb_id: str) -> Response:
        return self._get("/v2/organisationunits/titles", EP_TITLES,
                         {"ars": self.settings.ars, "lbId": lb_id},
                         record_key("leistung", lb_id))

    def _titles_for(self, lb_id: str, detail: Any) -> Response | None:
        if self.verify_offices or named_offices(detail) is None:
            return self.titles(lb_id)
        return None

    def _leistung(self, lb_id: str) -> tuple[str, LeistungPayloads]:
        try:
            return lb_id, _answers(self.get_detail(lb_id),
                                   lambda detail: self._titles_for(lb_id, detail))
        except ZufiwatchError as exc:
            return lb_id, exc

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
        """The detail and, where the crawl asked for them, the titles (a crawl that took
        a Leistung's offices from its stored version has none)."""
        key = record_key("leistung", lb_id)
        try:
            detail = self._response(self.by_key.get((EP_DETAIL, key)), f"{key} detail")
            titles = self.by_key.get((EP_TITLES, key))
            return _answers(detail, lambda _: self._response(titles, f"{key} offices")
                            if titles else None)
        except ZufiwatchError as exc:
            return exc

    def titles(self, lb_id: str) -> Response:
        key = record_key("leistung", lb_id)
        return self._response(self.by_key.get((EP_TITLES, key)), f"{key} offices")

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
