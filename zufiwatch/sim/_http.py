"""HTTP plumbing shared by the simulated servers (PVOG, TSA, web).

A threaded server that tracks its connections so that stop() can close them, quiet
keep-alive handlers, the start/stop lifecycle with a request log (:class:`ServedApp`), and
for the JSON APIs injected faults, ETags and per-day caches (:class:`JsonApi`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar

SHUTDOWN_POLL_SECONDS = 0.05  # how fast stop() returns
REQUEST_LOG_LIMIT = 100_000  # requests kept in the request log
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
PROXY_STATUSES = (502, 503, 504)  # answered with a proxy's HTML page

T = TypeVar("T")


def phrase(status: int) -> str:
    """The reason phrase of ``status`` ("Error" if unknown)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def joined_headers(message: Message, canonical: Callable[[str], str]) -> dict[str, str]:
    """The request headers by ``canonical`` name, repeated ones joined with ", "."""
    headers: dict[str, str] = {}
    for name, value in message.items():
        key = canonical(name)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


# server and handler


class TrackingServer(ThreadingHTTPServer):
    """A threaded server that knows its open connections, so stop() can close them."""

    daemon_threads = True
    # Errors of a client going away: not reported.
    quiet_errors: tuple[type[BaseException], ...] = (ConnectionError,)

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: Any,
        name: str,
    ) -> None:
        """``name``: that of the serving thread."""
        self.app = app
        self.name = name
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet on :attr:`quiet_errors`; report real errors as usual."""
        if isinstance(sys.exc_info()[1], self.quiet_errors):
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


class TrackingHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, registered with its :class:`TrackingServer`, no stderr log."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30
    server: TrackingServer

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


# lifecycle and request log


class ServedApp:
    """The start/stop lifecycle and the request log of a simulated server.

    Subclasses bind their servers in :meth:`_bind`; handlers log requests with :meth:`_record`.
    """

    def __init__(self) -> None:
        self._requests: deque[Any] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._request_count = 0
        self._lock = threading.Lock()
        self._requests_seen = threading.Condition(self._lock)
        self._servers: list[TrackingServer] = []
        self._threads: list[threading.Thread] = []

    def _bind(self) -> list[TrackingServer]:
        """The bound servers to serve (all closed again if one fails)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind (port 0: a free one) and serve in daemon threads."""
        if self._servers:
            return self
        self._servers = self._bind()
        self._threads = []
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name=server.name,
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and close the sockets (idempotent)."""
        servers, threads = self._servers, self._threads
        if not servers:
            return
        self._servers, self._threads = [], []
        # Each shutdown waits for a poll of its serve loop: the others wait in parallel.
        stoppers = [threading.Thread(target=server.shutdown) for server in servers[1:]]
        for stopper in stoppers:
            stopper.start()
        servers[0].shutdown()
        for stopper in stoppers:
            stopper.join()
        for server in servers:
            server.close_connections()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> list[TrackingServer]:
        if not self._servers:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        return self._servers

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._request_count

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._request_count = 0

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        """Block until ``count`` requests have arrived in all (False on timeout)."""
        with self._requests_seen:
            return self._requests_seen.wait_for(lambda: self._request_count >= count,
                                                timeout=timeout)

    def _record(self, request: Any) -> None:
        with self._requests_seen:
            self._log(request)
            self._request_count += 1
            self._requests_seen.notify_all()

    def _log(self, request: Any) -> None:
        """Keep ``request`` in the log (called with the lock held)."""
        self._requests.append(request)


# JSON APIs: responses, faults, ETags


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    path_substring: str
    kind: str
    remaining: int | None
    status: int
    retry_after: str | None = None
    #: A "rewrite" fault: the body served instead, made from the normal one.
    rewrite: Callable[[bytes], bytes] | None = None


def maintenance_page(service: str) -> bytes:
    """The HTML page (served with status 200) saying that ``service`` is down for maintenance."""
    return (
        '<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8">'
        "<title>Wartungsarbeiten</title></head><body><h1>Wartungsarbeiten</h1>"
        f"<p>{service} ist wegen Wartungsarbeiten vorübergehend nicht erreichbar. "
        "Bitte versuchen Sie es später erneut.</p></body></html>\n"
    ).encode()


def proxy_error(status: int) -> Response:
    """A small HTML error page as a proxy sends it."""
    title = f"{status} {phrase(status)}"
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return Response(status, page.encode(), HTML_TYPE)


def malformed(body: bytes) -> bytes:
    """``body`` as JSON that does not parse."""
    if b'":' in body:
        return body.replace(b'":', b'"=', 1)
    return b"[{,]"


def common_fault(
    fault: Fault, response: Response, error: Callable[[int], Response], maintenance: bytes
) -> Response | None:
    """``response`` as changed by a "status", "maintenance", "malformed" or "truncated"
    ``fault`` (None for other kinds). ``error``: the API's own answer with a status."""
    if fault.kind == "status":
        status = fault.status
        answer = proxy_error(status) if status in PROXY_STATUSES else error(status)
        if fault.retry_after is not None:
            answer.headers["Retry-After"] = fault.retry_after
        return answer
    if fault.kind == "maintenance":
        return Response(200, maintenance, HTML_TYPE)
    if fault.kind == "malformed":
        return Response(200, malformed(response.body))
    if fault.kind == "truncated":
        return Response(200, response.body[: max(1, len(response.body) // 2)])
    return None


class ApiHandler(TrackingHandler):
    """A handler of a :class:`JsonApi`."""

    def _reply(
        self, route: str, response: Response,
        apply_fault: Callable[[Fault, str, Response], Response],
    ) -> None:
        """Send ``response`` as changed by an injected fault, with an ETag if the app sends
        them (304 to a matching If-None-Match)."""
        app = self.server.app
        fault = app._take_fault(self.path)
        if fault is not None and fault.rewrite is not None:
            response = Response(response.status, fault.rewrite(response.body),
                                response.content_type, response.headers)
        elif fault is not None:
            response = apply_fault(fault, route, response)
        headers = dict(response.headers)
        if app.etags and response.status == 200:
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                response = Response(304, b"", response.content_type)
                app._count_not_modified()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


class JsonApi(ServedApp):
    """A simulated JSON API on one port, serving a view of one scenario day at a time,
    with injected faults and ETags (see :class:`ApiHandler`)."""

    _api_prefix: str  # the path of the API root, e.g. "/rest/v4"
    _handler: type[ApiHandler]
    _thread_name: str

    def __init__(self, host: str, port: int, etags: bool) -> None:
        super().__init__()
        self.etags = etags
        self.not_modified = 0
        self._address = (host, port)
        self._day = 0
        self._views: dict[int, Any] = {}
        self._bytes: dict[int, tuple[object, bytes]] = {}
        self._faults: list[Fault] = []

    def _bind(self) -> list[TrackingServer]:
        return [TrackingServer(self._address, self._handler, self, self._thread_name)]

    @property
    def port(self) -> int:
        return int(self._running()[0].server_address[1])

    @property
    def base_url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:54321/rest/v4``."""
        return f"http://{self._address[0]}:{self.port}{self._api_prefix}"

    @property
    def day(self) -> int:
        return self._day

    @day.setter
    def day(self, value: int) -> None:
        self.set_day(value)

    def set_day(self, day: int) -> None:
        raise NotImplementedError

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(
        self, path_substring: str, kind: str, times: int | None, status: int,
        retry_after: str | None,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        with self._lock:
            self._faults.append(Fault(path_substring, kind, times, status, retry_after))

    def rewrite(
        self, path_substring: str, rewrite: Callable[[bytes], bytes], *, times: int | None = None,
    ) -> None:
        """Answer requests whose path contains ``path_substring`` with the body
        ``rewrite(body)`` instead of ``body`` (same status and type): any hostile answer
        a test writes. Counted and matched with the other faults."""
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        with self._lock:
            self._faults.append(Fault(path_substring, "rewrite", times, 200, rewrite=rewrite))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_substring in path:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _count_not_modified(self) -> None:
        with self._lock:
            self.not_modified += 1

    def _view(self, day: int, build: Callable[[int], T]) -> T:
        """The view of scenario day ``day``, made once by ``build(day)``."""
        view = self._views.get(day)
        if view is None:
            with self._lock:
                view = self._views.get(day)
                if view is None:
                    view = build(day)
                    self._views[day] = view
        return view

    def _bytes_of(self, value: object) -> bytes:
        """The serialised ``value``, cached by identity (served objects are immutable)."""
        entry = self._bytes.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        body = dumps(value)
        self._bytes[id(value)] = (value, body)
        return body
