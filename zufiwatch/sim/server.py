"""A simulated PVOG Suchdienst REST API on 127.0.0.1, serving a :class:`Scenario`.

Endpoints (under ``/suchdienst/api``, shapes as in sources.md, "Source 1")::

    GET /v7/servicedescriptions/{ars}?page=N&size=K        Spring page in "serviceDescriptions"
    GET /v6/servicedescriptions/{lbid}/detail?ars={ars}    one Leistung, 404 if unknown
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
import contextlib
import hashlib
import json
import math
import re
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._common import JENA_ARS, stable_bucket
from .dataset import Directory
from .scenario import Scenario

__all__ = ["FAULT_KINDS", "SimulatedPVOG"]

API_PREFIX = "/suchdienst/api"
ONLINESERVICES_PAGE_SIZE = 50
MIN_PAGE_SIZE = 5
DEFAULT_PAGE_SIZE = 20
SHUTDOWN_POLL_SECONDS = 0.05  # how fast stop() returns
REQUEST_LOG_LIMIT = 100_000  # paths kept for SimulatedPVOG.requests
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
FAULT_KINDS = ("status", "malformed", "truncated", "maintenance", "empty", "drop:<field>",
               "omit:<id>")

_LISTING = re.compile(r"^/v7/servicedescriptions/([^/]+)$")
_DETAIL = re.compile(r"^/v6/servicedescriptions/([^/]+)/detail$")

MAINTENANCE_PAGE = (
    '<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8">'
    "<title>Wartungsarbeiten</title></head><body><h1>Wartungsarbeiten</h1>"
    "<p>Der Suchdienst des Portalverbunds Online-Gateway ist wegen Wartungsarbeiten "
    "vorübergehend nicht erreichbar. Bitte versuchen Sie es später erneut.</p>"
    "</body></html>\n"
).encode()


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    path_substring: str
    kind: str
    remaining: int | None
    status: int
    retry_after: str | None = None


@dataclass
class _DayView:
    """What one scenario day serves, with its lazily filled byte caches."""

    directory: Directory
    listing: list[dict]
    services: list[dict]
    pages: dict[tuple[str, int, int], bytes] = field(default_factory=dict)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error(status: int, message: str, path: str) -> _Response:
    phrase = _phrase(status)
    return _Response(
        status, _dumps({"status": status, "error": phrase, "message": message, "path": path})
    )


def _listing_item(lbid: str, detail: dict, last_update: bool) -> dict:
    # The live listing often has an empty name; the detail is the source of the name.
    name = detail["name"] if stable_bucket(lbid, 3) == 0 else ""
    item = {"id": lbid, "name": name, "ars": list(detail["ars"])}
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

    def handle(self, path: str, query: dict[str, list[str]]) -> tuple[str, _Response]:
        """The route name (for faults) and the normal response."""
        if not path.startswith(API_PREFIX):
            return "unknown", _error(404, "No handler found", path)
        sub = path[len(API_PREFIX) :]
        view = self._app._current_view()
        if match := _LISTING.match(sub):
            return "listing", self._listing(view, match.group(1), query, path)
        if match := _DETAIL.match(sub):
            return "detail", self._detail(view, match.group(1), query, path)
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
    ) -> _Response:
        try:
            page = int(query.get("page", ["0"])[0])
            size = int(query.get("size", [str(DEFAULT_PAGE_SIZE)])[0])
        except ValueError:
            return _error(400, "page and size must be integers", path)
        if size < MIN_PAGE_SIZE or page < 0:
            return _error(400, f"size must be at least {MIN_PAGE_SIZE} and page >= 0", path)
        if ars != self._app.ars:
            return _Response(200, _dumps(_spring_page([], 0, page, size)))
        key = ("listing", page, size)
        cached = view.pages.get(key)
        if cached is None:
            content = view.listing[page * size : (page + 1) * size]
            cached = _dumps(_spring_page(content, len(view.listing), page, size))
            view.pages[key] = cached
        return _Response(200, cached)

    def _detail(
        self, view: _DayView, lbid: str, query: dict[str, list[str]], path: str
    ) -> _Response:
        detail = view.directory.leistungen.get(lbid)
        if detail is None or not self._ars_ok(query):
            return _error(404, f"ServiceDescription {lbid} not found", path)
        return _Response(200, self._app._bytes_of(detail))

    def _onlineservices(self, view: _DayView, query: dict[str, list[str]], path: str) -> _Response:
        if "ars" not in query:
            return _error(400, "parameter ars is required", path)
        if not self._ars_ok(query):
            return _Response(200, _dumps({"totalHits": 0, "onlineservices": []}))
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
            cached = _dumps(answer)
            view.pages[key] = cached
        return _Response(200, cached)

    def _titles(self, view: _DayView, query: dict[str, list[str]], path: str) -> _Response:
        lbid = query.get("lbId", [""])[0]
        if not lbid:
            return _error(400, "parameter lbId is required", path)
        titles = view.directory.titles.get(lbid) if self._ars_ok(query) else None
        if titles is None:
            return _Response(200, b"[]")
        return _Response(200, self._app._bytes_of(titles))

    def _office(self, view: _DayView, query: dict[str, list[str]], path: str) -> _Response:
        oeid = query.get("q", [""])[0]
        if not oeid:
            return _error(400, "parameter q is required", path)
        office = view.directory.offices.get(oeid)
        if office is None:
            return _error(404, f"OrganisationUnit {oeid} not found", path)
        return _Response(200, self._app._bytes_of(office))


def _empty_body(route: str) -> bytes:
    if route == "listing":
        return _dumps(_spring_page([], 0, 0, DEFAULT_PAGE_SIZE))
    if route == "onlineservices":
        return _dumps({"totalHits": 0, "onlineservices": []})
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
    return _dumps(value)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _status_response(status: int) -> _Response:
    """A small error answer: HTML as a proxy sends it for 502-504, JSON otherwise."""
    phrase = _phrase(status)
    if status in (502, 503, 504):
        title = f"{status} {phrase}"
        html = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
        return _Response(status, html.encode(), HTML_TYPE)
    return _Response(status, _dumps({"status": status, "error": phrase}))


def _malformed(body: bytes) -> bytes:
    if b'":' in body:
        return body.replace(b'":', b'"=', 1)
    return b"[{,]"


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
    return _dumps(value)


def apply_fault(fault: _Fault, route: str, response: _Response) -> _Response:
    """The response as changed by ``fault``."""
    if fault.kind == "status":
        answer = _status_response(fault.status)
        if fault.retry_after is not None:
            answer.headers["Retry-After"] = fault.retry_after
        return answer
    if fault.kind.startswith("omit:"):
        return _Response(response.status, _omit(response.body, route, fault.kind[5:]))
    if fault.kind == "maintenance":
        return _Response(200, MAINTENANCE_PAGE, HTML_TYPE)
    if fault.kind == "malformed":
        return _Response(200, _malformed(response.body))
    if fault.kind == "truncated":
        return _Response(200, response.body[: max(1, len(response.body) // 2)])
    if fault.kind == "empty":
        return _Response(200, _empty_body(route))
    return _Response(
        response.status, _drop_field(response.body, route, fault.kind[5:]), response.content_type
    )


def _check_fault_kind(fault: str) -> None:
    simple = {"status", "malformed", "truncated", "maintenance", "empty"}
    if fault in simple or (fault.startswith(("drop:", "omit:")) and len(fault) > len("drop:")):
        return
    raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULT_KINDS)}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no request log on stderr."""

    def do_GET(self) -> None:
        app = self.server.app
        app._record(self.path)
        parts = urlsplit(self.path)
        route, response = app._routes.handle(parts.path, parse_qs(parts.query))
        fault = app._take_fault(self.path)
        if fault is not None:
            response = apply_fault(fault, route, response)
        headers = dict(response.headers)
        if app.etags and response.status == 200:
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                response = _Response(304, b"", response.content_type)
                app._count_not_modified()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: SimulatedPVOG) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away; report real errors as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SimulatedPVOG:
    """The simulated Suchdienst: ``with SimulatedPVOG(scenario) as pvog: pvog.base_url``."""

    def __init__(
        self, scenario: Scenario, ars: str = JENA_ARS, host: str = "127.0.0.1", port: int = 0,
        *, etags: bool = True, listing_last_update: bool = False,
    ) -> None:
        """``etags``: answer with an ETag and 304 to a matching If-None-Match.
        ``listing_last_update``: listing items carry the Leistung's ``lastUpdate`` (the
        live API may or may not; sources.md leaves it open)."""
        self.scenario = scenario
        self.ars = ars
        self.etags = etags
        self.listing_last_update = listing_last_update
        self.not_modified = 0
        self.request_times: deque[float] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._address = (host, port)
        self._day = 0
        self._views: dict[int, _DayView] = {}
        self._bytes: dict[int, tuple[object, bytes]] = {}
        self._faults: list[_Fault] = []
        self._requests: deque[str] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._request_count = 0
        self._lock = threading.Lock()
        self._requests_seen = threading.Condition(self._lock)
        self._routes = _Routes(self)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> SimulatedPVOG:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="simulated-pvog",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SimulatedPVOG:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # properties

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SimulatedPVOG is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:54321/suchdienst/api``."""
        return f"http://{self._address[0]}:{self.port}{API_PREFIX}"

    @property
    def day(self) -> int:
        return self._day

    @day.setter
    def day(self, value: int) -> None:
        self.set_day(value)

    def set_day(self, day: int) -> None:
        """Serve the scenario's directory of ``day`` from now on."""
        self.scenario.effective_day(day)
        self._day = day

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._request_count

    @property
    def requests(self) -> list[str]:
        """The request paths (with query) received so far, oldest first.

        Only the last ``REQUEST_LOG_LIMIT`` paths are kept (long benchmarks);
        :attr:`request_count` counts all of them.
        """
        with self._lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._request_count = 0

    # faults

    def inject(
        self, path_substring: str, fault: str, *, times: int | None = None, status: int = 500,
        retry_after: str | None = None,
    ) -> None:
        """Answer requests whose path contains ``path_substring`` with ``fault``.

        ``fault`` is "status" (with ``status`` and, if given, a ``Retry-After`` header),
        "malformed", "truncated", "maintenance", "empty", "drop:<field>" or "omit:<id>"
        (the list item with that id left out of a listing or online-services page, the
        totals lowered to match); ``times`` limits how often it fires (None = always).
        The first injected fault that matches wins.
        """
        _check_fault_kind(fault)
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        with self._lock:
            self._faults.append(_Fault(path_substring, fault, times, status, retry_after))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # internals used by the handler

    def _record(self, path: str) -> None:
        with self._requests_seen:
            self._requests.append(path)
            self.request_times.append(time.monotonic())
            self._request_count += 1
            self._requests_seen.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        """Block until ``count`` requests have arrived in all (False on timeout)."""
        with self._requests_seen:
            return self._requests_seen.wait_for(lambda: self._request_count >= count,
                                                timeout=timeout)

    def _count_not_modified(self) -> None:
        with self._lock:
            self.not_modified += 1

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

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_substring in path:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _current_view(self) -> _DayView:
        effective = self.scenario.effective_day(self._day)
        view = self._views.get(effective)
        if view is None:
            with self._lock:
                view = self._views.get(effective)
                if view is None:
                    view = _make_view(self.scenario.directory_for(effective),
                                      self.listing_last_update)
                    self._views[effective] = view
        return view

    def _bytes_of(self, value: object) -> bytes:
        """The serialised ``value``, cached by identity (served objects are immutable)."""
        entry = self._bytes.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        body = _dumps(value)
        self._bytes[id(value)] = (value, body)
        return body
