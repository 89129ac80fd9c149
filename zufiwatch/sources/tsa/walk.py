"""The crawl of the ZuFi (TSA Infodienste REST API v4): the office tree, the competences,
the Leistungen and their online services, live or replayed from the archive.

Endpoints, as a public client walks all Leistungen of an authority (sources.md, "Source
2"; every call sends the headers ``api_key``, ``Accept: application/json`` and
``Accept-Language: de_DE``)::

    GET /ou/{id}                                    the root office
    GET /ou/find?parentId=[&offset=]&limit=         its child offices, paged
    GET /ouCompetence/{ouId}?areaId=[&offset=]&limit=   the Leistungen an office is
                                                    responsible for, paged
    GET /pst/{id}?areaId=                           one Leistung specialised for the area
    GET /os/findByCompetence?pstId=&areaId=[&offset=]   its online services

Paging (:func:`~.pages.read_pages`): by ``totalCount``, the first page without
``offset``. Pages that overlap (a result seen again), leave a gap or end early (fewer results than
``totalCount``), or a ``totalCount`` that changes while paging make that listing
incomplete: the crawl is partial with the reason and concludes no removal. What hangs on
an incomplete part is not read at all: when the offices or their competences are not all
known, a Leistung might miss a responsible office, and an online service a Leistung, which
would read as changes.

The ZuFi listing carries no ``lastUpdated`` of Leistungen, so every crawl reads every
Leistung; conditional requests (ETag) spare the bodies where the server allows. Each
office is read once: the root from ``/ou/{id}``, every other from the ``/ou/find`` page
that lists it (which carries the whole office). A record whose answers carry the content
its stored version was parsed from (:mod:`.prints`: the decoded content, key order aside)
is confirmed without parsing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from ...errors import ConfigError, HTTPStatusError, PayloadError, ZufiwatchError
from ...fetch import Response
from ...limits import LimitReached, WalkBudget
from ...model import record_key, split_key
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
    decode_json,
    failure_reason,
    unreadable,
)
from ..drift import Answer, ShapeLog
from .pages import Listed, ordered_map, read_pages
from .parse import (
    EP_COMPETENCE,
    EP_FIND,
    EP_OS,
    EP_OU,
    EP_PST,
    PARSER_VERSION,
    Page,
    Service,
    ou_identity,
    parse_competences,
    parse_ou,
    parse_page,
    parse_pst,
    parse_services,
    service_records,
)
from .payloads import Archived, Live, Payloads, RejectedKey, load_api_key
from .prints import leistung_content, office_content
from .shapes import SHAPES

__all__ = ["TsaSource"]

log = logging.getLogger(__name__)

# -- the crawl -------------------------------------------------------------------------------


@dataclass
class _Walk:
    """What the office tree and the competences yielded."""

    offices: dict[str, str] = field(default_factory=dict)  # ouId → name
    responsible: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # pst → offices
    incomplete: list[str] = field(default_factory=list)
    #: What the office tree (every /ou/find) and the competences of all offices may read
    #: (max_pages and max_items each).
    tree_budget: WalkBudget | None = None
    competence_budget: WalkBudget | None = None


class TsaSource(Source):
    """Crawls the ZuFi (TSA Infodienste REST API v4) below the city's root office."""

    kind = "tsa"
    parser_version = PARSER_VERSION
    answer_shapes = SHAPES

    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        if ctx.fetcher is None:
            raise RuntimeError("a live crawl needs a fetcher")
        api_key = load_api_key(self.settings)
        ctx.fetcher.limit_host(urlsplit(self.settings.base_url).netloc,
                               max_concurrency=self.settings.max_concurrency,
                               min_interval=self.settings.min_interval)
        yield from self._learn(ctx, Live(self.settings, ctx, api_key))

    def replay(self, ctx: CrawlContext, entries: Iterable[dict[str, Any]],
               load: Callable[[str], bytes]) -> Iterator[CrawlItem]:
        yield from self._learn(ctx, Archived(self.settings, list(entries), load))

    def recheck(self, ctx: CrawlContext, keys: list[str]) -> dict[str, bool | None]:
        """Leistungen and offices have a detail endpoint: 404 or 410 there means gone."""
        if ctx.fetcher is None:
            return dict.fromkeys(keys)
        try:
            live = Live(self.settings, ctx, load_api_key(self.settings))
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

    def _learn(self, ctx: CrawlContext, payloads: Payloads) -> Iterator[CrawlItem]:
        try:
            root, read = self._root(ctx, payloads)
        except RejectedKey as exc:
            yield Fatal(str(exc))
            return
        except ZufiwatchError as exc:
            yield Fatal(f"the root office {self.settings.root_ou} could not be read: {exc}")
            return
        walk = _Walk(tree_budget=self._budget(EP_FIND),
                     competence_budget=self._budget(EP_COMPETENCE))
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency,
                                thread_name_prefix="tsa") as pool:
            try:
                yield read
                yield from self._tree(ctx, payloads, pool, root, walk)
                if not walk.incomplete:
                    yield from self._competences(ctx, payloads, pool, walk)
                if not walk.incomplete:
                    yield from self._leistungen(ctx, payloads, pool, walk)
            except (RejectedKey, LimitReached) as exc:
                # A walk beyond max_pages or max_items does not end: nothing is concluded.
                yield Fatal(str(exc))

    def _budget(self, endpoint: str) -> WalkBudget:
        return WalkBudget(endpoint, self.settings.max_pages, self.settings.max_items)

    @property
    def _window(self) -> int:
        return 4 * self.settings.max_concurrency

    def _call(self, payloads: Payloads, path: str, params: dict[str, str], endpoint: str,
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

    def _root(self, ctx: CrawlContext, payloads: Payloads) -> tuple[str, CrawlItem]:
        """The root office's name, and the office as read (or confirmed)."""
        root = self.settings.root_ou
        key = record_key("organisationseinheit", root)
        response = self._call(payloads, f"{EP_OU}/{quote(root)}", {}, EP_OU, key)
        payload = decode_json(response, EP_OU)
        with ctx.shapes.answer(EP_OU, key, payload, SHAPES[EP_OU]) as shape, \
                ctx.timed("parse"):
            ou_id, name = ou_identity(payload)
            if ou_id != root:
                raise PayloadError(f"{EP_OU}: asked for {root}, got {ou_id}", endpoint=EP_OU)
            return name, _office(ctx, key, payload, EP_OU, shape)

    def _listing(self, shapes: ShapeLog, payloads: Payloads, path: str,
                 params: dict[str, str], endpoint: str, key: str, *,
                 limit: int | None, budget: WalkBudget | None = None) -> Listed:
        """Every result of a paged search (see :func:`read_pages`), each page's shape noted
        in ``shapes``; ``limit`` None asks for the server's default page length. Pages and
        results count against ``budget`` (the walk's), else against this listing's own.
        The raw pages are not kept: records are fingerprinted by their decoded content."""
        def fetch(offset: int | None) -> tuple[Page, bytes]:
            query = dict(params)
            if offset is not None:
                query["offset"] = str(offset)
            if limit is not None:
                query["limit"] = str(limit)
            response = self._call(payloads, path, query, endpoint, key)
            payload = decode_json(response, endpoint)
            shapes.check(endpoint, payload, SHAPES[endpoint])
            return parse_page(payload, endpoint, null_is_empty=endpoint != EP_FIND), \
                response.body

        return read_pages(fetch, endpoint, budget=budget or self._budget(endpoint),
                          keep_bodies=False)

    def _tree(self, ctx: CrawlContext, payloads: Payloads, pool: ThreadPoolExecutor,
              root: str, walk: _Walk) -> Iterator[CrawlItem]:
        """The office tree below the root (named ``root``), level by level (each level's
        children in parallel). A part that cannot be read completely makes the offices,
        and what hangs on them, incomplete; what was read of it is kept."""
        walk.offices[self.settings.root_ou] = root
        level = [self.settings.root_ou]
        while level:
            following = []
            for parent, result in ordered_map(
                    pool, lambda p: self._children(ctx.shapes, payloads, p, walk), level,
                    window=self._window):
                if isinstance(result, RejectedKey | LimitReached):
                    raise result
                if isinstance(result, Exception):
                    walk.incomplete.append(f"children of office {parent}: {result}")
                    continue
                if result.problem:
                    walk.incomplete.append(f"children of office {parent}: {result.problem}")
                for item in result.items:
                    try:
                        with ctx.timed("parse"):
                            ou_id, name = ou_identity(item, EP_FIND)
                            if ou_id in walk.offices:
                                log.warning("office %s appears twice in the tree", ou_id)
                                continue
                            read = _office(ctx, record_key("organisationseinheit", ou_id),
                                           item, EP_FIND)
                    except Exception as exc:  # one bad child: the tree is incomplete
                        ctx.shapes.missing(exc)
                        walk.incomplete.append(
                            f"a child of office {parent}: "
                            f"{failure_reason(exc, f'a child of office {parent}')}")
                        continue
                    walk.offices[ou_id] = name
                    following.append(ou_id)
                    yield read
            level = following
        if walk.incomplete:
            reason = "office tree incomplete: " + "; ".join(walk.incomplete[:3])
            yield Incomplete("organisationseinheit", reason)
            yield from _hanging_unread(reason)

    def _children(self, shapes: ShapeLog, payloads: Payloads, parent: str,
                  walk: _Walk) -> tuple[str, Listed | Exception]:
        try:
            return parent, self._listing(shapes, payloads, EP_FIND, {"parentId": parent}, EP_FIND,
                                         record_key("organisationseinheit", parent),
                                         limit=self.settings.page_size, budget=walk.tree_budget)
        except ZufiwatchError as exc:
            return parent, exc
        except Exception as exc:  # one office's children unreadable, not the crawl
            return parent, _unexpected(exc, f"the children of office {parent}")

    def _competences(self, ctx: CrawlContext, payloads: Payloads, pool: ThreadPoolExecutor,
                     walk: _Walk) -> Iterator[CrawlItem]:
        failed = []
        for ou_id, result in ordered_map(
                pool, lambda o: self._competence(ctx.shapes, payloads, o, walk.competence_budget),
                sorted(walk.offices), window=self._window):
            if isinstance(result, RejectedKey | LimitReached):
                raise result
            if isinstance(result, Exception):
                failed.append(f"office {ou_id}: {result}")
                continue
            pst_ids, problem = result
            if problem:
                failed.append(f"office {ou_id}: {problem}")
            for pst_id in pst_ids:
                walk.responsible.setdefault(pst_id, []).append((ou_id, walk.offices[ou_id]))
        if failed:
            walk.incomplete.extend(failed)
            yield from _hanging_unread("competences incomplete: " + "; ".join(failed[:3]))

    def _competence(self, shapes: ShapeLog, payloads: Payloads, ou_id: str,
                    budget: WalkBudget | None
                    ) -> tuple[str, tuple[list[str], str] | Exception]:
        """The Leistungen an office is responsible for; no list (404, empty, null) is
        none, not an error."""
        try:
            listed = self._listing(shapes, payloads, f"{EP_COMPETENCE}/{quote(ou_id)}",
                                   {"areaId": self.settings.area_id}, EP_COMPETENCE,
                                   record_key("organisationseinheit", ou_id),
                                   limit=self.settings.page_size, budget=budget)
            return ou_id, (parse_competences(listed.items), listed.problem)
        except HTTPStatusError as exc:
            if exc.status == 404:
                return ou_id, ([], "")
            return ou_id, exc
        except ZufiwatchError as exc:
            return ou_id, exc
        except Exception as exc:  # one office's competences unreadable, not the crawl
            return ou_id, _unexpected(exc, f"the competences of office {ou_id}")

    def _leistungen(self, ctx: CrawlContext, payloads: Payloads, pool: ThreadPoolExecutor,
                    walk: _Walk) -> Iterator[CrawlItem]:
        services: dict[str, tuple[Service, set[str]]] = {}
        services_complete = True
        ids = sorted(walk.responsible)
        yield Listing("leistungen", expected=len(ids), received=len(ids))
        for pst_id, result in ordered_map(
                pool, lambda p: self._leistung(ctx.shapes, payloads, p), ids,
                window=self._window):
            key = record_key("leistung", pst_id)
            if isinstance(result, RejectedKey | LimitReached):
                raise result
            if isinstance(result, HTTPStatusError) and result.status in (404, 410):
                log.warning("%s is named by a competence but answers %s", key, result.status)
                continue
            if isinstance(result, Exception):
                yield Unobserved(key, str(result))
                services_complete = False
                continue
            response, listed = result
            if listed.problem:
                yield Unobserved(key, f"online services: {listed.problem}")
                services_complete = False
                continue
            item = self._one_leistung(ctx, pst_id, response, listed,
                                      sorted(set(walk.responsible[pst_id])), services)
            if isinstance(item, Unobserved):
                services_complete = False
            yield item
        if not services_complete:
            # An unread Leistung may offer any of them: their lists of Leistungen are not
            # known, and a partial list would read as a change.
            yield Incomplete("onlinedienst", "online services not read: some of the "
                             "Leistungen offering them could not be read")
        elif services:
            yield Observed(tuple(service_records(services)))

    def _one_leistung(self, ctx: CrawlContext, pst_id: str, response: Response, listed: Listed,
                      offices: list[tuple[str, str]],
                      services: dict[str, tuple[Service, set[str]]]) -> CrawlItem:
        """The Leistung as read (or confirmed); its online services noted in ``services``."""
        key = record_key("leistung", pst_id)
        try:
            payload = decode_json(response, EP_PST)
            with ctx.shapes.answer(EP_PST, key, payload, SHAPES[EP_PST]) as shape, \
                    ctx.timed("parse"):
                found = parse_services(listed.items)
                for service in found:
                    services.setdefault(service.id, (service, set()))[1].add(pst_id)
                fingerprint = ctx.content_fingerprint(
                    *leistung_content(payload, listed.items, offices))
                if ctx.fingerprints.get(key) == fingerprint:
                    shape.confirmed()
                    return Confirmed(key, fingerprint)
                shape.read()
                record = parse_pst(payload, found, offices)
        except Exception as exc:  # one bad entry is that entry not observed
            return unreadable(key, exc, ctx.shapes)
        if record.source_id != pst_id:
            return Unobserved(key, f"{EP_PST}: asked for {pst_id}, got {record.source_id}")
        return Observed((record,), fingerprint)

    def _leistung(self, shapes: ShapeLog, payloads: Payloads,
                  pst_id: str) -> tuple[str, tuple[Response, Listed] | Exception]:
        key = record_key("leistung", pst_id)
        area = self.settings.area_id
        try:
            pst = self._call(payloads, f"{EP_PST}/{quote(pst_id)}", {"areaId": area}, EP_PST,
                             key)
            try:
                found = self._listing(shapes, payloads, EP_OS, {"pstId": pst_id, "areaId": area},
                                      EP_OS, key, limit=None)
            except HTTPStatusError as exc:
                if exc.status != 404:
                    raise
                found = Listed()  # no online services: none, not an error
        except ZufiwatchError as exc:
            return pst_id, exc
        except Exception as exc:  # one bad entry is that entry not observed
            return pst_id, _unexpected(exc, key)
        return pst_id, (pst, found)


class _Unexpected(Exception):
    """An exception no check foresaw while reading one part of the walk (logged with its
    traceback where it happened), carried to the crawl as that part's failure."""


def _unexpected(exc: Exception, what: str) -> _Unexpected:
    return _Unexpected(failure_reason(exc, what))


def _hanging_unread(reason: str) -> Iterator[CrawlItem]:
    """Leistungen and online services are not read when the offices responsible for
    them are not all known: any Leistung might lose an office that was not read, which
    would read as a change. Nothing is concluded about them; the reason says why."""
    why = f"not read, as the offices responsible are not all known: {reason}"
    yield Incomplete("leistung", f"Leistungen {why}")
    yield Incomplete("onlinedienst", f"online services {why}")


def _office(ctx: CrawlContext, key: str, ou: Any, endpoint: str,
            shape: Answer | None = None) -> CrawlItem:
    """The office ``key`` (the id ``ou`` names) parsed from the object ``ou``, or
    confirmed unchanged without parsing. ``shape``: the check of the answer that is the
    office (the root's), walked unless confirmed (a page of ``/ou/find`` is walked as
    a page)."""
    fingerprint = ctx.content_fingerprint(*office_content(ou))
    if ctx.fingerprints.get(key) == fingerprint:
        if shape is not None:
            shape.confirmed()
        return Confirmed(key, fingerprint)
    if shape is not None:
        shape.read()
    return Observed((parse_ou(ou, endpoint),), fingerprint)
