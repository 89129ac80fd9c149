"""A simulated PVOG Suchdienst REST API on 127.0.0.1, serving a :class:`Scenario`.

Endpoints (under ``/suchdienst/api``, shapes as in sources.md, "Source 1")::

    GET /v7/servicedescriptions/{ars}?page=N&size=K        Spring page in "serviceDescriptions"
    GET /v5/servicedescriptions/csv?ars={ars}              the CSV listing (pipe-separated)
    GET /v6/servicedescriptions/{lbid}/detail?ars={ars}[&applyDynamicParams=true]
                                                           one Leistung, 404 if unknown
    GET /v1beta2/onlineservices?ars={ars}[&nextPageToken=T] pages of 50, opaque token
    GET /v2/organisationunits/titles?ars={ars}&lbId={lbid} offices of a Leistung
    GET /v5/organisationunits/detail?q={oeId}              one office, 404 if unknown

Every served object is serialised once and its bytes are cached; because scenario
days share untouched objects, the bytes are shared across days too. Faults can be
injected per path substring for tests (see :meth:`SimulatedPVOG.inject`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._common import JENA_ARS, stable_bucket
from ._csv import CSV_COLUMNS, CSV_TYPE, csv_listing, drop_column, omit_leistung
from ._http import HTML_TYPE as HTML_TYPE  # re-exported: these were defined here
from ._http import JSON_TYPE as JSON_TYPE
from ._http import REQUEST_LOG_LIMIT as REQUEST_LOG_LIMIT
from ._http import SHUTDOWN_POLL_SECONDS as SHUTDOWN_POLL_SECONDS
from ._http import (
    ApiHandler,
    Fault,
    JsonApi,
    Response,
    common_fault,
    dumps,
    maintenance_page,
    phrase,
)
from .dataset import Directory
from .scenario import ChurnScenario, Scenario

__all__ = ["FAULT_KINDS", "SimulatedPVOG"]

API_PREFIX = "/suchdienst/api"
ONLINESERVICES_PAGE_SIZE = 50
MIN_PAGE_SIZE = 5
DEFAULT_PAGE_SIZE = 20
FAULT_KINDS = ("status", "malformed", "truncated", "maintenance", "empty", "drop:<field>",
               "omit:<id>")

_LISTING = re.compile(r"^/v7/servicedescriptions/([^/]+)$")
_DETAIL = re.compile(r"^/v6/servicedescriptions/([^/]+)/detail$")

MAINTENANCE_PAGE = maintenance_page("Der Suchdienst des Portalverbunds Online-Gateway")


@dataclass
class _DayView:
    """What one scenario day serves, with its lazily filled byte caches."""

    directory: Directory
    listing: list[dict]
    services: list[dict]
    pages: dict[tuple[str, int, int], bytes] = field(default_factory=dict)


def _error(status: int, message: str, path: str) -> Response:
    body = {"status": status, "error": phrase(status), "message": message, "path": path}
    return Response(status, dumps(body))


def _listing_item(lbid: str, detail: dict, last_update: bool) -> dict:
    # The live listing's titles are often empty (seen); the detail is the source of the name.
    title = detail["name"] if stable_bucket(lbid, 3) == 0 else ""
    item = {"id": lbid, "title": title, "description": detail.get("description", "")}
    if last_update:
        item["lastUpdate"] = detail["lastUpdate"]
    return item


def _make_view(directory: Directory, last_update: bool = False) -> _DayView:
    listing = [
        _listing_item(lbid, directory.leistungen[lbid], last_update)
        for lbid in sorted(directory.leistungen)
    ]
    services = sorted(directory.onlineservices, key=lambda service: service["id"])
    return _DayView(directory, listing, services)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"os:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    if prefix != "os" or not number.isdigit():
        return None
    return int(number)


def _spring_page(content: list[dict], total: int, page: int, size: int) -> dict:
    total_pages = math.ceil(total / size) if total else 0
    return {
        "serviceDescriptions": {
            "content": content,
            "totalElements": total,
            "totalPages": total_pages,
            "number": page,
            "size": size,
            "numberOfElements": len(content),
            "first": page == 0,
            "last": page >= total_pages - 1,
            "empty": not content,
        }
    }


class _Routes:
    """Request routing over the current scenario day: path and query in, response out."""

    def __init__(self, app: SimulatedPVOG) -> None:
        self._app = app

    def handle(self, path: str, query: dict[str, list[str]]) -> tuple[str, Response]:
        """The route name (for faults) and the normal response."""
        if not path.startswith(API_PREFIX):
            return "unknown", _error(404, "No handler found", path)
        sub = path[len(API_PREFIX) :]
        view = self._app._current_view()
        if match := _LISTING.match(sub):
            return "listing", self._listing(view, match.group(1), query, path)
        if match := _DETAIL.match(sub):
            return "detail", self._detail(view, match.group(1), query, path)
        if sub == "/v5/servicedescriptions/csv":
            return "csv", self._csv(view, query, path)
        if sub == "/v1beta2/onlineservices":
            return "onlineservices", self._onlineservices(view, query, path)
        if sub == "/v2/organisationunits/titles":
            return "titles", self._titles(view, query, path)
        if sub == "/v5/organisationunits/detail":
            return "office", self._office(view, query, path)
        return "unknown", _error(404, "No handler found", path)

    def _ars_ok(self, query: dict[str, list[str]]) -> bool:
        return query.get("ars", [self._app.ars])[0] == self._app.ars

    def _listing(
        self, view: _DayView, ars: str, query: dict[str, list[str]], path: str
    ) -> Response:
        try:
            page = int(query.get("page", ["0"])[0])
            size = int(query.get("size", [str(DEFAULT_PAGE_SIZE)])[0])
        except ValueError:
            return _error(400, "page and size must be integers", path)
        if size < MIN_PAGE_SIZE or page < 0:
            return _error(400, f"size must be at least {MIN_PAGE_SIZE} and page >= 0", path)
        if ars != self._app.ars:
            return Response(200, dumps(_spring_page([], 0, page, size)))
        key = ("listing", page, size)
        cached = view.pages.get(key)
        if cached is None:
            content = view.listing[page * size : (page + 1) * size]
            cached = dumps(_spring_page(content, len(view.listing), page, size))
            view.pages[key] = cached
        return Response(200, cached)

    def _csv(self, view: _DayView, query: dict[str, list[str]], path: str) -> Response:
        if "ars" not in query:
            return _error(400, "parameter ars is required", path)
        if not self._ars_ok(query):
            return Response(200, ("|".join(CSV_COLUMNS) + "\n").encode(), CSV_TYPE)
        key = ("csv", 0, 0)
        cached = view.pages.get(key)
        if cached is None:
            cached = csv_listing(view.directory.leistungen, view.directory.onlineservices)
            view.pages[key] = cached
        return Response(200, cached, CSV_TYPE)

    def _detail(
        self, view: _DayView, lbid: str, query: dict[str, list[str]], path: str
    ) -> Response:
        detail = view.directory.leistungen.get(lbid)
        if detail is None or not self._ars_ok(query):
            return _error(404, f"ServiceDescription {lbid} not found", path)
        return Response(200, self._app._bytes_of(detail))

    def _onlineservices(self, view: _DayView, query: dict[str, list[str]], path: str) -> Response:
        if "ars" not in query:
            return _error(400, "parameter ars is required", path)
        if not self._ars_ok(query):
            return Response(200, dumps({"totalHits": 0, "onlineservices": []}))
        token = query.get("nextPageToken", [""])[0]
        offset = _decode_token(token) if token else 0
        if offset is None:
            return _error(400, "invalid nextPageToken", path)
        key = ("onlineservices", offset, ONLINESERVICES_PAGE_SIZE)
        cached = view.pages.get(key)
        if cached is None:
            end = offset + ONLINESERVICES_PAGE_SIZE
            answer: dict[str, Any] = {
                "totalHits": len(view.services),
                "onlineservices": view.services[offset:end],
            }
            if end < len(view.services):
                answer["nextPageToken"] = _encode_token(end)
            cached = dumps(answer)
            view.pages[key] = cached
        return Response(200, cached)

    def _titles(self, view: _DayView, query: dict[str, list[str]], path: str) -> Response:
        lbid = query.get("lbId", [""])[0]
        if not lbid:
            return _error(400, "parameter lbId is required", path)
        titles = view.directory.titles.get(lbid) if self._ars_ok(query) else None
        if titles is None:
            return Response(200, b"[]")
        return Response(200, self._app._bytes_of(titles))

    def _office(self, view: _DayView, query: dict[str, list[str]], path: str) -> Response:
        oeid = query.get("q", [""])[0]
        if not oeid:
            return _error(400, "parameter q is required", path)
        office = view.directory.offices.get(oeid)
        if office is None:
            return _error(404, f"OrganisationUnit {oeid} not found", path)
        return Response(200, self._app._bytes_of(office))


def _empty_body(route: str) -> bytes:
    if route == "csv":
        return ("|".join(CSV_COLUMNS) + "\n").encode()
    if route == "listing":
        return dumps(_spring_page([], 0, 0, DEFAULT_PAGE_SIZE))
    if route == "onlineservices":
        return dumps({"totalHits": 0, "onlineservices": []})
    if route == "titles":
        return b"[]"
    return b"{}"


def _drop_field(body: bytes, route: str, name: str) -> bytes:
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if isinstance(value, dict):
        inner = value.get("serviceDescriptions")
        target = inner if route == "listing" and isinstance(inner, dict) else value
        target.pop(name, None)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                item.pop(name, None)
    return dumps(value)


def _fault_error(status: int) -> Response:
    """The JSON answer of a "status" fault (502-504 get a proxy's HTML page instead)."""
    return Response(status, dumps({"status": status, "error": phrase(status)}))


def _omit(body: bytes, route: str, item_id: str) -> bytes:
    """The answer without the list item ``item_id``, its totals lowered to match."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if route == "listing" and isinstance(value.get("serviceDescriptions"), dict):
        page = value["serviceDescriptions"]
        kept = [i for i in page.get("content", []) if i.get("id") != item_id]
        page["totalElements"] -= len(page.get("content", [])) - len(kept)
        page["content"] = kept
    elif route == "onlineservices":
        kept = [i for i in value.get("onlineservices", []) if i.get("id") != item_id]
        value["totalHits"] -= len(value.get("onlineservices", [])) - len(kept)
        value["onlineservices"] = kept
    return dumps(value)


def apply_fault(fault: Fault, route: str, response: Response) -> Response:
    """The response as changed by ``fault``."""
    answer = common_fault(fault, response, _fault_error, MAINTENANCE_PAGE)
    if answer is not None:
        return answer
    if route == "csv":
        return _csv_fault(fault, response)
    if fault.kind.startswith("omit:"):
        return Response(response.status, _omit(response.body, route, fault.kind[5:]))
    if fault.kind == "empty":
        return Response(200, _empty_body(route))
    return Response(
        response.status, _drop_field(response.body, route, fault.kind[5:]), response.content_type
    )


def _csv_fault(fault: Fault, response: Response) -> Response:
    """"omit:<id>" leaves out the rows of a Leistung, "drop:<column>" a column, "empty"
    answers the header only."""
    if fault.kind.startswith("omit:"):
        body = omit_leistung(response.body, fault.kind[5:])
    elif fault.kind.startswith("drop:"):
        body = drop_column(response.body, fault.kind[5:])
    else:
        body = _empty_body("csv")
    return Response(response.status, body, CSV_TYPE)


def _check_fault_kind(fault: str) -> None:
    simple = {"status", "malformed", "truncated", "maintenance", "empty"}
    if fault in simple or (fault.startswith(("drop:", "omit:")) and len(fault) > len("drop:")):
        return
    raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULT_KINDS)}")


class _Handler(ApiHandler):
    def do_GET(self) -> None:
        app: SimulatedPVOG = self.server.app
        app._record(self.path)
        parts = urlsplit(self.path)
        route, response = app._routes.handle(parts.path, parse_qs(parts.query))
        self._reply(route, response, apply_fault)


class SimulatedPVOG(JsonApi):
    """The simulated Suchdienst: ``with SimulatedPVOG(scenario) as pvog: pvog.base_url``."""

    _api_prefix = API_PREFIX
    _handler = _Handler
    _thread_name = "simulated-pvog"

    def __init__(
        self, scenario: Scenario | ChurnScenario, ars: str = JENA_ARS, host: str = "127.0.0.1",
        port: int = 0,
        *, etags: bool = True, listing_last_update: bool = False,
    ) -> None:
        """``etags``: answer with an ETag and 304 to a matching If-None-Match.
        ``listing_last_update``: listing items carry the Leistung's ``lastUpdate`` (the
        live API may or may not; sources.md leaves it open)."""
        super().__init__(host, port, etags)
        self.scenario = scenario
        self.ars = ars
        self.listing_last_update = listing_last_update
        self.request_times: deque[float] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._routes = _Routes(self)

    def set_day(self, day: int) -> None:
        """Serve the scenario's directory of ``day`` from now on."""
        self.scenario.effective_day(day)
        self._day = day

    @property
    def requests(self) -> list[str]:
        """The request paths (with query) received so far, oldest first.

        Only the last ``REQUEST_LOG_LIMIT`` paths are kept (long benchmarks);
        :attr:`request_count` counts all of them.
        """
        with self._lock:
            return list(self._requests)

    def max_request_rate(self, window: float = 1.0) -> float:
        """The most requests received within any ``window`` seconds (half-open), per second."""
        with self._lock:
            times = sorted(self.request_times)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best / window

    # faults

    def inject(
        self, path_substring: str, fault: str, *, times: int | None = None, status: int = 500,
        retry_after: str | None = None,
    ) -> None:
        """Answer requests whose path contains ``path_substring`` with ``fault``.

        ``fault`` is "status" (with ``status`` and, if given, a ``Retry-After`` header),
        "malformed", "truncated", "maintenance", "empty", "drop:<field>" or "omit:<id>"
        (the list item with that id left out of a listing or online-services page, the
        totals lowered to match; the rows of that Leistung left out of the CSV listing,
        where "drop:<column>" drops a column); ``times`` limits how often it fires (None =
        always).
        The first injected fault that matches wins.
        """
        _check_fault_kind(fault)
        self._add_fault(path_substring, fault, times, status, retry_after)

    # internals used by the handler

    def _log(self, request: str) -> None:
        super()._log(request)
        self.request_times.append(time.monotonic())

    def _current_view(self) -> _DayView:
        return self._view(
            self.scenario.effective_day(self._day),
            lambda day: _make_view(self.scenario.directory_for(day), self.listing_last_update),
        )
