"""FROZEN COPY of the parser as released before issue 13 (parser version tsa-1), kept to build
histories the way an installed zufiwatch did, so that tests can check an upgrade. Do not edit
or fix: it is evidence of the old behaviour. Imports are made absolute; nothing else changed.

The ZuFi itself: the TSA Infodienste REST API v4 (needs an api_key).

Endpoints, as a public client walks all Leistungen of an authority (sources.md, "Source
2"; every call sends the headers ``api_key``, ``Accept: application/json`` and
``Accept-Language: de_DE``)::

    GET /ou/{id}                                   one Organisationseinheit
    GET /ou/find?parentId=&offset=&limit=          its child offices, paged
    GET /ouCompetence/{ouId}?areaId=&offset=&limit= the Leistungen it is responsible for
    GET /pst/{id}?areaId=                          one Leistung specialised for the area
    GET /os/findByCompetence?pstId=&areaId=        its online services

The paths, headers and field names are seen; the shapes of the answers (pages as
``{"count", "results"}``, competences as ``publicServiceTypes`` per result) are
reconstructed and may differ in detail. So the parsers accept a page as a bare list too,
unknown fields, missing optional fields and any order, and are strict only about ids and
names.

Records: ``leistung:<pstId>`` (with ``zufi_id`` and ``leika``, so that the PVOG's entry of
the same Leistung can be matched through its ZuFi deep link), ``organisationseinheit:<ouId>``
(addresses, communications, opening hours, appointment links), ``onlinedienst:<osId>``.
The ZuFi listing carries no ``lastUpdated`` of Leistungen, so every crawl reads every
Leistung; conditional requests (ETag) spare the bodies where the server allows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from zufiwatch.config import SourceSettings
from zufiwatch.credentials import read_secret
from zufiwatch.errors import (
    ArchiveError,
    ConfigError,
    FetchError,
    HTTPStatusError,
    MissingField,
    PayloadError,
    ZufiwatchError,
)
from zufiwatch.fetch import Response
from zufiwatch.model import Record, record_key, split_key
from zufiwatch.normalize import html_to_text, link, sorted_by
from zufiwatch.sources._payload import json_object as _object
from zufiwatch.sources._payload import optional_list as _list
from zufiwatch.sources._payload import text as _text
from zufiwatch.sources._payload import unique_links as _unique
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
    decode_json,
)
from zufiwatch.sources.pvog import ordered_map

__all__ = ["TsaSource", "load_api_key", "parse_competences", "parse_ou", "parse_page",
           "parse_pst", "parse_services"]

log = logging.getLogger(__name__)

PARSER_VERSION = "tsa-1"
EP_OU = "/ou"
EP_FIND = "/ou/find"
EP_COMPETENCE = "/ouCompetence"
EP_PST = "/pst"
EP_OS = "/os/findByCompetence"
#: Text-block key of the fees, whose ``charges`` are kept like the PVOG's "98" module.
CODE_FEES = "98"
CODE_TEASER = "24"
ROLE_RESPONSIBLE = "01"


# -- pure parsing --------------------------------------------------------------------------


def _id(obj: Any, endpoint: str, name: str = "id") -> str:
    """An id as text: the API sends numbers, other versions may send strings."""
    if not isinstance(obj, dict):
        raise MissingField(endpoint, name, "inside a JSON object")
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) == "":
        raise MissingField(endpoint, name, "a number or a string")
    return str(value)


def _html_text(value: Any) -> tuple[str, list[dict[str, str]]]:
    return html_to_text(value) if isinstance(value, str) else ("", [])


def parse_page(payload: Any, endpoint: str) -> tuple[list[Any], int | None]:
    """The items of one page and the total it announces (``None`` when it names none).

    ``{"count": n, "results": [...]}`` as reconstructed; a bare list, or the items under
    ``content`` (a Spring page with ``totalElements``), are accepted too."""
    if isinstance(payload, list):
        return payload, None
    page = _object(payload, endpoint)
    for items_name, count_name in (("results", "count"), ("content", "totalElements")):
        if items_name in page:
            items = _list(page, items_name, endpoint)
            count = page.get(count_name)
            return items, count if isinstance(count, int) and not isinstance(count,
                                                                                 bool) else None
    raise MissingField(endpoint, "results", "a list of the page's items")


def parse_ou(payload: Any, endpoint: str = EP_OU) -> Record:
    """One Organisationseinheit (``/ou/{id}``, or an item of ``/ou/find``)."""
    ou = _object(payload, endpoint)
    ou_id = _id(ou, endpoint)
    name = ou.get("name")
    if not isinstance(name, str):
        raise MissingField(endpoint, "name", "a string")
    addresses = []
    for a in _list(ou, "addresses", endpoint):
        if isinstance(a, dict):
            area = a.get("area") if isinstance(a.get("area"), dict) else {}
            addresses.append({"typ": _text(a.get("type")), "strasse": _text(a.get("street")),
                              "hausnummer": _text(a.get("houseNumber")),
                              "plz": _text(a.get("zipcode") or a.get("zip")),
                              "ort": _text(area.get("name") or a.get("city"))})
    communications = [{"kanal": _text(c.get("type")), "wert": _text(c.get("value"))}
                      for c in _list(ou, "communications", endpoint) if isinstance(c, dict)]
    appointment = ou.get("onlineAppointment") if isinstance(ou.get("onlineAppointment"),
                                                            dict) else {}
    termin: dict[str, Any] = {"erforderlich": ou.get("appointmentRequired") is True}
    if appointment.get("link"):
        termin["online"] = link(appointment.get("link"))["url"]
    parent = ou.get("parentId")
    content = {
        "name": _text(name),
        "uebergeordnet": "" if parent is None else str(parent),
        "beschreibung": _html_text(ou.get("description"))[0],
        "anschriften": sorted_by(addresses, "typ", "strasse", "hausnummer", "plz", "ort"),
        "kommunikation": sorted_by(communications, "kanal", "wert"),
        "oeffnungszeiten": _html_text(ou.get("openingHours"))[0],
        "termin": termin,
    }
    volatile = {"lastUpdate": ou["lastUpdated"]} if isinstance(ou.get("lastUpdated"),
                                                               str) else {}
    return Record("organisationseinheit", ou_id, content, volatile)


def parse_competences(items: Iterable[Any], endpoint: str = EP_COMPETENCE) -> list[str]:
    """The ids of the Leistungen in the items of one ``/ouCompetence`` page."""
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError(f"{endpoint}: a result is not an object", endpoint=endpoint)
        types = item.get("publicServiceTypes", item.get("publicServiceType"))
        if isinstance(types, dict):
            types = [types]
        if not isinstance(types, list):
            raise MissingField(endpoint, "publicServiceTypes", "a list")
        found.extend(_id(t, f"{endpoint} publicServiceTypes[]") for t in types)
    return found


@dataclass(frozen=True)
class Service:
    """One online service as ``/os/findByCompetence`` names it."""

    id: str
    name: str
    url: str
    title: str
    trust_level: str


def parse_services(payload: Any, endpoint: str = EP_OS) -> list[Service]:
    items, _count = parse_page(payload, endpoint)
    services = []
    for item in items:
        obj = item.get("object", item) if isinstance(item, dict) else item
        obj = _object(obj, f"{endpoint} results[].object")
        url = obj.get("link")
        if not isinstance(url, str) or not url.strip():
            continue  # an online service without a link offers nothing to follow
        services.append(Service(_id(obj, endpoint), _text(obj.get("name")), url,
                                _text(obj.get("linkTitle")), _text(obj.get("trustLevel"))))
    return services


def parse_pst(payload: Any, services: list[Service],
              offices: list[tuple[str, str]], endpoint: str = EP_PST) -> Record:
    """A Leistung from ``/pst/{id}``, its online services and the offices responsible
    for it (``(ouId, name)``, from the competences)."""
    pst = _object(payload, endpoint)
    pst_id = _id(pst, endpoint)
    name = pst.get("name")
    if not isinstance(name, str):
        raise MissingField(endpoint, "name", "a string")
    texte: dict[str, Any] = {}
    teaser, teaser_links = _html_text(pst.get("teaser"))
    if teaser or teaser_links:
        texte[CODE_TEASER] = _module("Kurztext", teaser, teaser_links)
    for block in _list(pst, "textBlocks", endpoint):
        if not isinstance(block, dict):
            continue
        kind = block.get("type") if isinstance(block.get("type"), dict) else {}
        code = _code(kind)
        text, found = _html_text(block.get("text"))
        found += [link(x.get("url"), x.get("name")) for x in
                  _list(block, "externalLinks", endpoint) if isinstance(x, dict) and x.get("url")]
        slot, suffix = code, 2
        while slot in texte:
            slot = f"{code}#{suffix}"
            suffix += 1
        texte[slot] = _module(_text(kind.get("name")), text, found)
    charges = [{"titel": _text(c.get("description") or c.get("title")),
                "text": _text(c.get("amount") or c.get("text"))}
               for c in _list(pst, "charges", endpoint) if isinstance(c, dict)]
    if charges:
        fees = texte.setdefault(CODE_FEES, _module("Kosten", "", []))
        fees["details"] = sorted_by(charges, "titel", "text")
    content = {
        "name": _text(name),
        "zufi_id": pst_id,
        "leika": sorted({str(k) for k in _list(pst, "leikaKeys", endpoint)}),
        "texte": texte,
        "onlinedienste": sorted_by(_unique(link(s.url, s.title or s.name) for s in services),
                                   "url", "titel"),
        "zustaendigkeiten": sorted_by(
            [{"id": ou_id, "name": _text(office), "rolle": ROLE_RESPONSIBLE,
              "rollenname": "Zuständige Stelle"} for ou_id, office in set(offices)],
            "rolle", "id"),
    }
    volatile = {"lastUpdate": pst["lastUpdated"]} if isinstance(pst.get("lastUpdated"),
                                                                str) else {}
    return Record("leistung", pst_id, content, volatile)


def _code(kind: dict[str, Any]) -> str:
    key = kind.get("key")
    if isinstance(key, str) and key.strip():
        return key.strip()
    number = kind.get("id")
    return f"{number:02d}" if isinstance(number, int) and not isinstance(number, bool) \
        else "00"


def _module(title: str, text: str, links: list[dict[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {"titel": title, "text": text}
    if links:
        value["links"] = sorted_by(_unique(links), "url", "titel")
    return value


def service_records(services: dict[str, tuple[Service, set[str]]]) -> list[Record]:
    """The Onlinedienste met while reading the Leistungen, with the Leistungen offering them."""
    records = []
    for service_id, (service, leistungen) in sorted(services.items()):
        content = {"name": service.name,
                   "links": [link(service.url, service.title or service.name)],
                   "leistungen": [{"id": pst_id} for pst_id in sorted(leistungen)],
                   "vertrauensniveau": service.trust_level}
        records.append(Record("onlinedienst", service_id, content, {}))
    return records


# -- the api_key ---------------------------------------------------------------------------


def load_api_key(settings: SourceSettings) -> str:
    """The api_key from where the configuration names it; ConfigError naming the key."""
    where = f"sources[{settings.name}]"
    key = read_secret(what="api_key", env_key=f"{where}.api_key_env", env=settings.api_key_env,
                      file_key=f"{where}.api_key_file", file=settings.api_key_file,
                      credential_key=f"{where}.api_key_credential",
                      credential=settings.api_key_credential)
    if not key:
        raise ConfigError(f"{where}: no api_key source named (api_key_env, api_key_file or "
                          "api_key_credential)")
    return key


# -- the crawl -----------------------------------------------------------------------------


class _Payloads(Protocol):
    def get(self, path: str, params: dict[str, str], endpoint: str, key: str = "") -> Response:
        ...


class _Live:
    """Payloads fetched now, through the crawl's fetcher (archived and in the manifest)."""

    def __init__(self, settings: SourceSettings, ctx: CrawlContext, api_key: str) -> None:
        self.base = settings.base_url.rstrip("/")
        self.ctx = ctx
        self.headers = {"api_key": api_key, "Accept": "application/json",
                        "Accept-Language": "de_DE"}

    def get(self, path: str, params: dict[str, str], endpoint: str, key: str = "") -> Response:
        return self.ctx.fetch(_url(self.base, path, params), endpoint=endpoint, key=key,
                              headers=self.headers)


class _Archived:
    """The payloads of an earlier crawl, by request URL."""

    def __init__(self, settings: SourceSettings, entries: list[dict[str, Any]],
                 load: Callable[[str], bytes]) -> None:
        self.base = settings.base_url.rstrip("/")
        self.load = load
        self.by_url = {entry["url"]: entry for entry in entries if entry.get("url")}

    def get(self, path: str, params: dict[str, str], endpoint: str, key: str = "") -> Response:
        url = _url(self.base, path, params)
        entry = self.by_url.get(url)
        if entry is None:
            raise ArchiveError(f"the archived crawl has no payload for {url}")
        if entry.get("error"):
            if entry.get("status"):
                raise HTTPStatusError(f"archived: {entry['error']}", url=url,
                                      status=int(entry["status"]))
            raise FetchError(f"archived fetch failed: {entry['error']}", url=url)
        return Response(url, entry.get("status") or 200, entry.get("content_type", ""),
                        self.load(entry["sha256"]))


def _url(base: str, path: str, params: dict[str, str]) -> str:
    """The request URL with its query: how the manifest remembers it."""
    return f"{base}{path}?{urlencode(params)}" if params else f"{base}{path}"


@dataclass
class _Walk:
    """What the office tree and the competences yielded."""

    offices: dict[str, str] = field(default_factory=dict)  # ouId → name
    responsible: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # pst → offices
    incomplete: list[str] = field(default_factory=list)


class RejectedKey(ZufiwatchError):
    """The API refused the api_key: a configuration error, not an empty directory."""


class TsaSource(Source):
    """Crawls the ZuFi (TSA Infodienste REST API v4) below the city's root office."""

    kind = "tsa"
    parser_version = PARSER_VERSION

    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        if ctx.fetcher is None:
            raise RuntimeError("a live crawl needs a fetcher")
        api_key = load_api_key(self.settings)
        ctx.fetcher.limit_host(urlsplit(self.settings.base_url).netloc,
                               max_concurrency=self.settings.max_concurrency,
                               min_interval=self.settings.min_interval)
        yield from self._learn(ctx, _Live(self.settings, ctx, api_key))

    def replay(self, ctx: CrawlContext, entries: Iterable[dict[str, Any]],
               load: Callable[[str], bytes]) -> Iterator[CrawlItem]:
        yield from self._learn(ctx, _Archived(self.settings, list(entries), load))

    def recheck(self, ctx: CrawlContext, keys: list[str]) -> dict[str, bool | None]:
        """Leistungen and offices have a detail endpoint: 404 or 410 there means gone."""
        if ctx.fetcher is None:
            return dict.fromkeys(keys)
        try:
            live = _Live(self.settings, ctx, load_api_key(self.settings))
        except ConfigError:
            return dict.fromkeys(keys)
        answers: dict[str, bool | None] = {}
        for key in keys:
            kind, source_id = split_key(key)
            try:
                if kind == "leistung":
                    live.get(f"{EP_PST}/{quote(source_id)}", {"areaId": self.settings.area_id},
                             f"recheck {EP_PST}", key)
                elif kind == "organisationseinheit":
                    live.get(f"{EP_OU}/{quote(source_id)}", {}, f"recheck {EP_OU}", key)
                else:
                    answers[key] = None
                    continue
                answers[key] = False
            except HTTPStatusError as exc:
                answers[key] = True if exc.status in (404, 410) else None
            except ZufiwatchError:
                answers[key] = None
        return answers

    # -- the steps -------------------------------------------------------------------------

    def _learn(self, ctx: CrawlContext, payloads: _Payloads) -> Iterator[CrawlItem]:
        try:
            root = self._root(ctx, payloads)
        except RejectedKey as exc:
            yield Fatal(str(exc))
            return
        except ZufiwatchError as exc:
            yield Fatal(f"the root office {self.settings.root_ou} could not be read: {exc}")
            return
        walk = _Walk()
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency,
                                thread_name_prefix="tsa") as pool:
            try:
                yield from self._tree(ctx, payloads, pool, root, walk)
                yield from self._competences(ctx, payloads, pool, walk)
                yield from self._leistungen(ctx, payloads, pool, walk)
            except RejectedKey as exc:
                yield Fatal(str(exc))

    def _call(self, payloads: _Payloads, path: str, params: dict[str, str], endpoint: str,
              key: str = "") -> Response:
        try:
            return payloads.get(path, params, endpoint, key)
        except HTTPStatusError as exc:
            if exc.status in (401, 403):
                raise RejectedKey(
                    f"the ZuFi API rejected the api_key (HTTP {exc.status}): a configuration "
                    f"error, not an empty directory; check {self._key_source()} of source "
                    f"{self.settings.name!r}") from None
            raise

    def _key_source(self) -> str:
        settings = self.settings
        if settings.api_key_env:
            return f"the environment variable named by api_key_env ({settings.api_key_env})"
        if settings.api_key_file:
            return f"the file named by api_key_file ({settings.api_key_file})"
        return f"the systemd credential named by api_key_credential " \
               f"({settings.api_key_credential})"

    def _root(self, ctx: CrawlContext, payloads: _Payloads) -> Record:
        root = self.settings.root_ou
        key = record_key("organisationseinheit", root)
        response = self._call(payloads, f"{EP_OU}/{quote(root)}", {}, EP_OU, key)
        with ctx.timed("parse"):
            record = parse_ou(decode_json(response, EP_OU))
        if record.source_id != root:
            raise PayloadError(f"{EP_OU}: asked for {root}, got {record.source_id}",
                               endpoint=EP_OU)
        return record

    def _pages(self, payloads: _Payloads, path: str, params: dict[str, str], endpoint: str,
               key: str) -> list[Any]:
        """Every item of a paged listing; PayloadError when the pages and the announced
        count disagree."""
        limit = self.settings.page_size
        items: list[Any] = []
        count: int | None = None
        while True:
            response = self._call(payloads, path, {**params, "offset": str(len(items)),
                                                   "limit": str(limit)}, endpoint, key)
            page, announced = parse_page(decode_json(response, endpoint), endpoint)
            count = announced if count is None else count
            items.extend(page)
            if not page or len(page) < limit or (count is not None and len(items) >= count):
                break
        if count is not None and len(items) != count:
            raise PayloadError(f"{endpoint}: {count} announced, {len(items)} delivered",
                               endpoint=endpoint)
        return items

    def _tree(self, ctx: CrawlContext, payloads: _Payloads, pool: ThreadPoolExecutor,
              root: Record, walk: _Walk) -> Iterator[CrawlItem]:
        """The office tree below the root, level by level (each level's children in
        parallel). A part that cannot be read makes the offices incomplete."""
        yield Observed((root,))
        walk.offices[root.source_id] = root.title
        level = [root.source_id]
        while level:
            following = []
            for parent, result in ordered_map(pool, lambda p: self._children(payloads, p),
                                              level, window=4 * self.settings.max_concurrency):
                if isinstance(result, RejectedKey):
                    raise result
                if isinstance(result, Exception):
                    walk.incomplete.append(f"children of office {parent}: {result}")
                    continue
                for item in result:
                    try:
                        with ctx.timed("parse"):
                            record = parse_ou(item, EP_FIND)
                    except PayloadError as exc:
                        walk.incomplete.append(f"a child of office {parent}: {exc}")
                        continue
                    if record.source_id in walk.offices:
                        log.warning("office %s appears twice in the tree", record.source_id)
                        continue
                    walk.offices[record.source_id] = record.title
                    following.append(record.source_id)
                    raw = _bytes(item)
                    yield _observed_or_confirmed(ctx, record, raw)
            level = following
        if walk.incomplete:
            reason = "office tree incomplete: " + "; ".join(walk.incomplete[:3])
            for kind in ("organisationseinheit", "leistung", "onlinedienst"):
                yield Incomplete(kind, reason)

    def _children(self, payloads: _Payloads, parent: str) -> tuple[str, list[Any] | Exception]:
        try:
            return parent, self._pages(payloads, EP_FIND, {"parentId": parent}, EP_FIND,
                                       record_key("organisationseinheit", parent))
        except ZufiwatchError as exc:
            return parent, exc

    def _competences(self, ctx: CrawlContext, payloads: _Payloads, pool: ThreadPoolExecutor,
                     walk: _Walk) -> Iterator[CrawlItem]:
        failed = []
        for ou_id, result in ordered_map(pool, lambda o: self._competence(payloads, o),
                                         sorted(walk.offices),
                                         window=4 * self.settings.max_concurrency):
            if isinstance(result, RejectedKey):
                raise result
            if isinstance(result, Exception):
                failed.append(f"office {ou_id}: {result}")
                continue
            for pst_id in result:
                walk.responsible.setdefault(pst_id, []).append((ou_id, walk.offices[ou_id]))
        if failed:
            reason = "competences incomplete: " + "; ".join(failed[:3])
            yield Incomplete("leistung", reason)
            yield Incomplete("onlinedienst", reason)

    def _competence(self, payloads: _Payloads, ou_id: str) -> tuple[str, list[str] | Exception]:
        try:
            items = self._pages(payloads, f"{EP_COMPETENCE}/{quote(ou_id)}",
                                {"areaId": self.settings.area_id}, EP_COMPETENCE,
                                record_key("organisationseinheit", ou_id))
            return ou_id, parse_competences(items)
        except ZufiwatchError as exc:
            return ou_id, exc

    def _leistungen(self, ctx: CrawlContext, payloads: _Payloads, pool: ThreadPoolExecutor,
                    walk: _Walk) -> Iterator[CrawlItem]:
        services: dict[str, tuple[Service, set[str]]] = {}
        services_complete = True
        ids = sorted(walk.responsible)
        yield Listing("leistungen", expected=len(ids), received=len(ids))
        for pst_id, result in ordered_map(pool, lambda p: self._leistung(payloads, p), ids,
                                          window=4 * self.settings.max_concurrency):
            key = record_key("leistung", pst_id)
            if isinstance(result, RejectedKey):
                raise result
            if isinstance(result, HTTPStatusError) and result.status in (404, 410):
                log.warning("%s is named by a competence but answers %s", key, result.status)
                continue
            if isinstance(result, Exception):
                yield Unobserved(key, str(result))
                services_complete = False
                continue
            offices = sorted(set(walk.responsible[pst_id]))
            fingerprint = ctx.fingerprint(result[0].body, result[1].body, _bytes(offices))
            try:
                with ctx.timed("parse"):
                    found = parse_services(decode_json(result[1], EP_OS))
                    for service in found:
                        services.setdefault(service.id, (service, set()))[1].add(pst_id)
                    if ctx.fingerprints.get(key) == fingerprint:
                        yield Confirmed(key, fingerprint)
                        continue
                    record = parse_pst(decode_json(result[0], EP_PST), found, offices)
            except PayloadError as exc:
                yield Unobserved(key, str(exc))
                services_complete = False
                continue
            if record.source_id != pst_id:
                yield Unobserved(key, f"{EP_PST}: asked for {pst_id}, got {record.source_id}")
                continue
            yield Observed((record,), fingerprint)
        if services:
            yield Observed(tuple(service_records(services)))
        if not services_complete:
            yield Incomplete("onlinedienst", "online services of unreadable Leistungen unknown")

    def _leistung(self, payloads: _Payloads,
                  pst_id: str) -> tuple[str, tuple[Response, Response] | Exception]:
        key = record_key("leistung", pst_id)
        try:
            pst = self._call(payloads, f"{EP_PST}/{quote(pst_id)}",
                             {"areaId": self.settings.area_id}, EP_PST, key)
            found = self._call(payloads, EP_OS, {"pstId": pst_id,
                                                 "areaId": self.settings.area_id}, EP_OS, key)
        except ZufiwatchError as exc:
            return pst_id, exc
        return pst_id, (pst, found)


def _bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _observed_or_confirmed(ctx: CrawlContext, record: Record, raw: bytes) -> CrawlItem:
    fingerprint = ctx.fingerprint(raw)
    key = record.key
    if ctx.fingerprints.get(key) == fingerprint:
        return Confirmed(key, fingerprint)
    return Observed((record,), fingerprint)
