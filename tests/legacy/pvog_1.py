"""FROZEN COPY of the parser as released before issue 13 (parser version pvog-1), kept to build
histories the way an installed zufiwatch did, so that tests can check an upgrade. Do not edit
or fix: it is evidence of the old behaviour. Imports are made absolute; nothing else changed.

The PVOG Suchdienst REST API: Leistungen, Organisationseinheiten and Onlinedienste.

Endpoints, as public clients of the live service call them (production base URL
``https://pvog.fitko.net/suchdienst/api``; optional header ``pvog-sud-api-client-id``)::

    GET /v7/servicedescriptions/{ars}?page=N&size=K      listing, a Spring page inside
                                                         "serviceDescriptions" (size >= 5)
    GET /v6/servicedescriptions/{lbid}/detail?ars={ars}  one Leistung
    GET /v2/organisationunits/titles?ars=&lbId=          offices of a Leistung (role 01 =
                                                         zuständige Stelle, 03 = Ansprechpunkt)
    GET /v5/organisationunits/detail?q={oeId}            one office
    GET /v1beta2/onlineservices?ars=[&nextPageToken=]    online services, token paging;
                                                         inherited Land/Bund ones included

The endpoint paths, the header, the paging and the field names are seen in public client
code; the exact response shapes are reconstructed from those field names and may differ in
detail. So the parsers accept unknown fields, missing optional fields and any order, and are
strict only about what the conclusions rest on: ids, names, the listing's counts. Names are
often empty in the listing; the detail is the source of the name. Detail modules may be
``"placeholder": true`` without text. Whether listing items carry ``lastUpdate`` is not
known.

The ``parse_*`` functions are pure: one stored payload (already decoded JSON) in,
normalised records out. A missing required field raises :class:`MissingField` naming the
endpoint and the field.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from zufiwatch.config import SourceSettings
from zufiwatch.errors import (
    ArchiveError,
    FetchError,
    HTTPStatusError,
    MissingField,
    PayloadError,
    ZufiwatchError,
)
from zufiwatch.fetch import Response
from zufiwatch.model import Record, record_key, split_key
from zufiwatch.normalize import html_to_text, html_to_texts, link, sorted_by
from zufiwatch.sources._payload import json_object as _object
from zufiwatch.sources._payload import optional_list as _optional_list
from zufiwatch.sources._payload import text as _text
from zufiwatch.sources._payload import unique_links as _unique_links
from zufiwatch.sources.base import (
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
)

__all__ = [
    "PARSER_VERSION",
    "ListingPage",
    "OnlineServicePage",
    "PvogSource",
    "parse_leistung",
    "parse_listing",
    "parse_office",
    "parse_onlineservices",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Bump whenever parsing or normalising changes what records contain.
PARSER_VERSION = "pvog-1"

EP_LISTING = "/v7/servicedescriptions"
EP_DETAIL = "/v6/servicedescriptions/detail"
EP_TITLES = "/v2/organisationunits/titles"
EP_OFFICE = "/v5/organisationunits/detail"
EP_ONLINE = "/v1beta2/onlineservices"

#: Text-module codes whose content becomes a field of its own instead of ``texte``.
CODE_FREIGABE = "93"
CODE_URSPRUNGSPORTAL = "94"


# -- pure parsing --------------------------------------------------------------------------


def _require(obj: Any, name: str, endpoint: str, kind: type | tuple[type, ...],
             expected: str) -> Any:
    if not isinstance(obj, dict):
        raise MissingField(endpoint, name, "inside a JSON object")
    value = obj.get(name)
    if value is None or not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MissingField(endpoint, name, expected)
    return value


@dataclass(frozen=True)
class ListingPage:
    ids: tuple[str, ...]
    total_elements: int
    total_pages: int
    number: int
    last: bool
    last_update: dict[str, str]


def parse_listing(payload: Any) -> ListingPage:
    """One page of ``/v7/servicedescriptions/{ars}``."""
    endpoint = EP_LISTING
    page = _require(_object(payload, endpoint), "serviceDescriptions", endpoint, dict,
                    "an object with the page")
    content = _require(page, "content", endpoint, list, "a list")
    total = _require(page, "totalElements", endpoint, int, "an integer")
    ids = []
    stamps = {}
    for item in content:
        item_id = _require(item, "id", f"{endpoint} content[]", str, "a string")
        ids.append(item_id)
        if isinstance(item.get("lastUpdate"), str):
            stamps[item_id] = item["lastUpdate"]
    total_pages = page.get("totalPages")
    number = page.get("number")
    return ListingPage(
        ids=tuple(ids),
        total_elements=total,
        total_pages=total_pages if isinstance(total_pages, int) else 0,
        number=number if isinstance(number, int) else 0,
        last=bool(page.get("last", not content)),
        last_update=stamps,
    )


def parse_leistung(detail: Any, titles: Any = None) -> Record:
    """A Leistung from its ``/v6`` detail and, when fetched, its ``/v2`` office titles."""
    endpoint = EP_DETAIL
    detail = _object(detail, endpoint)
    lb_id = _require(detail, "id", endpoint, str, "a string")
    name = _require(detail, "name", endpoint, str, "a string")
    texte: dict[str, Any] = {}
    freigabe: dict[str, str] = {}
    ursprung = [link(p.get("uri"), p.get("title")) for p in
                _optional_list(detail, "sourcePortals", endpoint) if isinstance(p, dict)]
    modules = _optional_list(detail, "details", endpoint)
    converted = html_to_texts(_snippets(modules, endpoint))
    for module in modules:
        code = str(_require(module, "code", f"{endpoint} details[]", (str, int), "a code"))
        if module.get("placeholder") is True and not module.get("text"):
            continue
        if code == CODE_FREIGABE:
            freigabe = {"stelle": converted[_html(module.get("text"))][0],
                        "datum": _text(module.get("date"))}
            continue
        if code == CODE_URSPRUNGSPORTAL:
            ursprung += [link(x.get("uri"), x.get("title"))
                         for x in _optional_list(module, "links", endpoint) if isinstance(x, dict)]
            continue
        slot = code
        suffix = 2
        while slot in texte:
            slot = f"{code}#{suffix}"
            suffix += 1
        texte[slot] = _text_module(module, endpoint, converted)
    offices = _organisations(_optional_list(detail, "organisations", endpoint), endpoint)
    if titles is not None:
        if not isinstance(titles, list):
            raise PayloadError(f"{EP_TITLES}: expected a JSON list", endpoint=EP_TITLES)
        offices |= _organisations(titles, EP_TITLES)
    content = {
        "name": _text(name),
        "leika": sorted({str(k) for k in _optional_list(detail, "leikakeys", endpoint)}),
        "ars": sorted({str(a) for a in _optional_list(detail, "ars", endpoint)}),
        "texte": texte,
        "fachliche_freigabe": freigabe,
        "onlinedienste": sorted_by(_unique_links(
            link(x.get("uri"), x.get("title"))
            for x in _optional_list(detail, "onlineServiceLinks", endpoint)
            if isinstance(x, dict) and x.get("uri")), "url", "titel"),
        "zustaendigkeiten": sorted_by(list(offices.values()), "rolle", "id"),
        "ursprungsportal": sorted_by(_unique_links(x for x in ursprung if x["url"]),
                                     "url", "titel"),
    }
    volatile = {k: detail[k] for k in ("lastUpdate", "externalLastUpdate") if k in detail}
    return Record("leistung", lb_id, content, volatile)


def _html(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _snippets(modules: list[Any], endpoint: str) -> list[str]:
    """Every HTML text of the modules and their sub-details, to convert in one go."""
    snippets = []
    for module in modules:
        if isinstance(module, dict):
            snippets.append(_html(module.get("text")))
            snippets += [_html(d.get("text")) for d in _optional_list(module, "details", endpoint)
                         if isinstance(d, dict)]
    return snippets


def _text_module(module: dict[str, Any], endpoint: str,
                 converted: dict[str, tuple[str, list[dict[str, str]]]]) -> dict[str, Any]:
    text, found = converted[_html(module.get("text"))]
    links = list(found)
    links += [link(x.get("uri"), x.get("title"))
              for x in _optional_list(module, "links", endpoint) if isinstance(x, dict)]
    value: dict[str, Any] = {"titel": _text(module.get("title")), "text": text}
    if links:
        value["links"] = sorted_by(_unique_links(links), "url", "titel")
    sub = [{"titel": _text(d.get("title")), "text": converted[_html(d.get("text"))][0]}
           for d in _optional_list(module, "details", endpoint) if isinstance(d, dict)]
    if sub:
        value["details"] = sorted_by(sub, "titel", "text")
    if module.get("date"):
        value["datum"] = _text(module.get("date"))
    return value


def leistung_office_ids(detail: Any, titles: Any) -> set[str]:
    """The ids of the offices a Leistung names, without parsing its texts."""
    found = set()
    for items in (detail.get("organisations") if isinstance(detail, dict) else None, titles):
        if isinstance(items, list):
            found.update(i["id"] for i in items if isinstance(i, dict)
                         and isinstance(i.get("id"), str))
    return found


def _organisations(items: list[Any], endpoint: str) -> dict[tuple[str, str], dict[str, str]]:
    offices = {}
    for item in items:
        oe_id = _require(item, "id", f"{endpoint} organisations[]", str, "a string")
        role = item.get("role") if isinstance(item.get("role"), dict) else {}
        value = {"id": oe_id, "name": _text(item.get("title")),
                 "rolle": _text(role.get("code")), "rollenname": _text(role.get("name"))}
        offices[(value["rolle"], oe_id)] = value
    return offices


def parse_office(payload: Any) -> Record:
    """One ``/v5/organisationunits/detail`` answer."""
    endpoint = EP_OFFICE
    office = _object(payload, endpoint)
    oe_id = _require(office, "id", endpoint, str, "a string")
    title = _require(office, "title", endpoint, str, "a string")
    location = office.get("location") if isinstance(office.get("location"), dict) else {}
    addresses = [
        {"typ": _text(a.get("type")), "strasse": _text(a.get("street")),
         "hausnummer": _text(a.get("houseNumber")), "plz": _text(a.get("zip")),
         "ort": _text(a.get("city"))}
        for a in _optional_list(location, "addresses", endpoint) if isinstance(a, dict)
    ]
    communications = [
        {"kanal": _text(c.get("code")), "wert": _text(c.get("value"))}
        for c in _optional_list(location, "communications", endpoint) if isinstance(c, dict)
    ]
    hours = office.get("openingHours")
    content = {
        "name": _text(title),
        "anschriften": sorted_by(addresses, "typ", "strasse", "hausnummer", "plz", "ort"),
        "kommunikation": sorted_by(communications, "kanal", "wert"),
        "internetadressen": sorted({link(a.get("uri"))["url"] for a in
                                    _optional_list(office, "internetAddresses", endpoint)
                                    if isinstance(a, dict) and a.get("uri")}),
        "oeffnungszeiten": html_to_text(hours)[0] if isinstance(hours, str) else "",
    }
    volatile = {k: office[k] for k in ("lastUpdate",) if k in office}
    return Record("organisationseinheit", oe_id, content, volatile)


@dataclass(frozen=True)
class OnlineServicePage:
    records: tuple[Record, ...]
    next_token: str | None
    total_hits: int | None
    received: int


def parse_onlineservices(payload: Any, ars: str) -> OnlineServicePage:
    """One page of ``/v1beta2/onlineservices``; inherited services are marked ``geerbt``."""
    endpoint = EP_ONLINE
    page = _object(payload, endpoint)
    items = _require(page, "onlineservices", endpoint, list, "a list")
    records = []
    for item in items:
        od_id = _require(item, "id", f"{endpoint} onlineservices[]", str, "a string")
        descriptions = [
            {"id": _require(d, "id", f"{endpoint} serviceDescriptions[]", str, "a string"),
             "ars": sorted({str(a) for a in _optional_list(d, "ars", endpoint)})}
            for d in _optional_list(item, "serviceDescriptions", endpoint)
        ]
        local = any(ars in d["ars"] for d in descriptions)
        content = {
            "name": _text(item.get("name")),
            "links": sorted_by(_unique_links(
                link(x.get("uri"), x.get("title")) for x in
                _optional_list(item, "links", endpoint) if isinstance(x, dict) and x.get("uri")),
                "url", "titel"),
            "leistungen": sorted_by(descriptions, "id"),
            "geerbt": not local,
        }
        records.append(Record("onlinedienst", od_id, content, {}))
    token = page.get("nextPageToken")
    total = page.get("totalHits")
    return OnlineServicePage(
        records=tuple(records),
        next_token=token if isinstance(token, str) and token else None,
        total_hits=total if isinstance(total, int) and not isinstance(total, bool) else None,
        received=len(items),
    )


# -- the crawl -----------------------------------------------------------------------------


def ordered_map(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], *,
                window: int) -> Iterator[R]:
    """Like ``pool.map``, in order, but with at most ``window`` calls pending at a time,
    so that fetched payloads never pile up faster than they are parsed."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


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

    def _unchanged_per_listing(self, ctx: CrawlContext, ids: list[str],
                               stamps: dict[str, str]) -> Iterator[CrawlItem]:
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

    def _listing(self, ctx: CrawlContext, payloads: _Payloads) -> Iterator[CrawlItem]:
        ids: list[str] = []
        stamps: dict[str, str] = {}
        page_number = 0
        total = None
        while True:
            response = payloads.listing_page(page_number, self.settings.page_size)
            with ctx.timed("parse"):
                page = parse_listing(decode_json(response, EP_LISTING))
            total = page.total_elements if total is None else total
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

    def _leistungen(self, ctx: CrawlContext, payloads: _Payloads, ids: list[str],
                    office_ids: set[str]) -> Iterator[CrawlItem]:
        """Detail and offices of every listed Leistung; collects the offices' ids."""
        for lb_id, result in payloads.leistungen(ids):
            key = record_key("leistung", lb_id)
            if isinstance(result, Exception):
                yield Unobserved(key, str(result))
                continue
            fingerprint = ctx.fingerprint(result[0].body, result[1].body)
            try:
                with ctx.timed("parse"):
                    detail = decode_json(result[0], EP_DETAIL)
                    titles = decode_json(result[1], EP_TITLES)
                    office_ids.update(leistung_office_ids(detail, titles))
                    if ctx.fingerprints.get(key) == fingerprint:
                        yield Confirmed(key, fingerprint)
                        continue
                    record = parse_leistung(detail, titles)
            except PayloadError as exc:
                yield Unobserved(key, str(exc))
                continue
            if record.source_id != lb_id:
                yield Unobserved(key, f"{EP_DETAIL}: asked for {lb_id}, got {record.source_id}")
                continue
            yield Observed((record,), fingerprint)

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
            fingerprint = ctx.fingerprint(result.body)
            if ctx.fingerprints.get(key) == fingerprint:
                yield Confirmed(key, fingerprint)
                continue
            try:
                with ctx.timed("parse"):
                    record = parse_office(decode_json(result, EP_OFFICE))
            except PayloadError as exc:
                yield Unobserved(key, str(exc))
                continue
            if record.source_id != oe_id:
                yield Unobserved(key, f"{EP_OFFICE}: asked for {oe_id}, got {record.source_id}")
                continue
            yield Observed((record,), fingerprint)

    def _onlineservices(self, ctx: CrawlContext, payloads: _Payloads) -> Iterator[CrawlItem]:
        token: str | None = None
        received = 0
        total: int | None = None
        seen_tokens: set[str] = set()
        try:
            while True:
                response = payloads.online_page(token)
                with ctx.timed("parse"):
                    page = parse_onlineservices(decode_json(response, EP_ONLINE),
                                                self.settings.ars)
                total = page.total_hits if total is None else total
                received += page.received
                if page.records:
                    yield Observed(page.records)
                if page.next_token is None:
                    break
                if page.next_token in seen_tokens:
                    raise PayloadError(f"{EP_ONLINE}: nextPageToken repeats; stopped paging",
                                       endpoint=EP_ONLINE)
                seen_tokens.add(page.next_token)
                token = page.next_token
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

    def _get(self, path: str, endpoint: str, params: dict[str, str], key: str = "") -> Response:
        url = self.settings.base_url.rstrip("/") + path
        return self.ctx.fetch(url, endpoint=endpoint, key=key, params=params,
                              headers=self.headers)

    def listing_page(self, number: int, size: int) -> Response:
        return self._get(f"/v7/servicedescriptions/{quote(self.settings.ars)}", EP_LISTING,
                         {"page": str(number), "size": str(size)})

    def get_detail(self, lb_id: str, endpoint: str = EP_DETAIL) -> Response:
        return self._get(f"/v6/servicedescriptions/{quote(lb_id)}/detail", endpoint,
                         {"ars": self.settings.ars}, record_key("leistung", lb_id))

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
