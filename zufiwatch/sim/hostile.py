"""A hostile or broken source on 127.0.0.1, in front of a simulator (or of nothing).

:class:`HostileFront` passes every request to its upstream (a :class:`SimulatedPVOG` or
``SimulatedTSA``) unchanged, headers included, except those a rule matches (the first
rule whose path substring the request's path contains):

- ``redirect``: a redirect to any URL (another host, another port, 169.254.169.254…);
- ``drip``: the answer one byte per ``interval`` seconds, from the status line on or only
  the body;
- ``short``: a body that ends before its ``Content-Length``, or in the middle of a chunk;
- ``endless``: a listing that never ends: every page full, with new ids (the PVOG listing
  ``/v7/servicedescriptions``, the PVOG online services with a new ``nextPageToken`` on
  every page, or the ZuFi's ``/ou/find`` with a huge ``totalCount``).

Without an upstream it answers what no rule matches with 404. It records every request
(path and headers) it receives, so a test can say what reached it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._http import ServedApp, TrackingHandler, TrackingServer

__all__ = ["HostileFront", "Received"]

#: What a never-ending listing announces as its total.
ENDLESS_TOTAL = 10**9


@dataclass(frozen=True)
class Received:
    """One request the front received."""

    path: str
    headers: dict[str, str]


@dataclass
class _Rule:
    path: str
    kind: str
    location: str = ""
    status: int = 302
    interval: float = 1.0
    headers_too: bool = True
    chunked: bool = False
    listing: str = ""


class HostileFront(ServedApp):
    """A server that misbehaves where told and passes the rest to ``upstream``."""

    def __init__(self, upstream: str = "", *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.upstream = upstream
        self._address = (host, port)
        self._rules: list[_Rule] = []
        self._closing = threading.Event()
        self._ids = itertools.count(10_000_000)
        self._template: dict[str, Any] | None = None

    # -- what it serves ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._running()[0].server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def base_url(self) -> str:
        """The upstream's API root, served by this front."""
        return self.origin + urlsplit(self.upstream).path.rstrip("/")

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self._add(_Rule(path, "redirect", location=location, status=status))

    def drip(self, path: str, interval: float = 1.0, *, headers_too: bool = True) -> None:
        """The answer one byte per ``interval`` s (from the status line on, or only the
        body when ``headers_too`` is false)."""
        self._add(_Rule(path, "drip", interval=interval, headers_too=headers_too))

    def short(self, path: str, *, chunked: bool = False) -> None:
        """Half the body, then the connection closes (announced by Content-Length, or in
        the middle of a chunk)."""
        self._add(_Rule(path, "short", chunked=chunked))

    def endless(self, path: str, listing: str) -> None:
        """Full pages for ever: ``listing`` is "pvog" (the Leistungen listing),
        "pvog-online" (the online services) or "tsa-find" (the ZuFi's /ou/find)."""
        if listing not in ("pvog", "pvog-online", "tsa-find"):
            raise ValueError(f"unknown listing {listing!r}")
        self._add(_Rule(path, "endless", listing=listing))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _rule_for(self, path: str) -> _Rule | None:
        with self._lock:
            return next((r for r in self._rules if r.path in path), None)

    # -- lifecycle -----------------------------------------------------------------------------

    def _bind(self) -> list[TrackingServer]:
        return [TrackingServer(self._address, _Handler, self, "hostile-front")]

    def stop(self) -> None:
        self._closing.set()
        super().stop()

    # -- answers -----------------------------------------------------------------------------

    def fetch_upstream(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str],
                                                                           bytes]:
        """The upstream's answer to ``path`` (404 without an upstream)."""
        if not self.upstream:
            return 404, {"Content-Type": "application/json"}, b'{"status":404}'
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request("GET", path, headers=sent)
            answer = connection.getresponse()
            body = answer.read()
            kept = {k: v for k, v in answer.getheaders()
                    if k.lower() in ("content-type", "etag", "last-modified", "retry-after")}
            return answer.status, kept, body
        finally:
            connection.close()

    def endless_page(self, rule: _Rule, path: str, headers: dict[str, str]) -> bytes:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}
        if rule.listing == "pvog":
            size = int(query.get("size", "100"))
            number = int(query.get("page", "0"))
            content = [{"id": f"S1600001.LB.E{next(self._ids)}", "title": "",
                        "description": "<p>Eine Leistung, die es nicht gibt.</p>"}
                       for _ in range(size)]
            return _json({"serviceDescriptions": {
                "content": content, "totalElements": ENDLESS_TOTAL, "number": number,
                "size": size, "totalPages": ENDLESS_TOTAL // max(1, size), "last": False}})
        if rule.listing == "pvog-online":
            services = [{"id": f"S1600001.OD.E{n}", "name": f"Onlinedienst {n}",
                         "links": [{"uri": f"https://thavel.thueringen.de/go/a/{n}",
                                    "title": "Antrag"}],
                         "serviceDescriptions": []}
                        for n in itertools.islice(self._ids, 50)]
            return _json({"totalHits": ENDLESS_TOTAL, "onlineservices": services,
                          "nextPageToken": f"t{next(self._ids)}"})
        limit = int(query.get("limit", "100"))
        template = self._office_template(path, headers)
        results = [{"score": 1.0, "object": {**template, "id": n, "name": f"Amt {n}",
                                             "parentId": query.get("parentId")}}
                   for n in itertools.islice(self._ids, limit)]
        return _json({"count": len(results), "totalCount": ENDLESS_TOTAL, "results": results})

    def _office_template(self, path: str, headers: dict[str, str]) -> dict[str, Any]:
        """An office as the upstream answers /ou/find (the first one it lists)."""
        with self._lock:
            template = self._template
        if template is None:
            _, _, body = self.fetch_upstream(path, headers)
            try:
                template = dict(json.loads(body)["results"][0]["object"])
            except (ValueError, KeyError, IndexError, TypeError):
                template = {"name": "Amt", "parentId": None}
            with self._lock:
                self._template = template
        return template

    def wait(self, seconds: float) -> bool:
        """Wait between drips; True when the front is stopping."""
        return self._closing.wait(seconds)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class _Handler(TrackingHandler):
    server: TrackingServer

    @property
    def front(self) -> HostileFront:
        front: HostileFront = self.server.app
        return front

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.front._record(Received(self.path, headers))
        rule = self.front._rule_for(self.path)
        if rule is None:
            self._send(*self.front.fetch_upstream(self.path, dict(self.headers.items())))
        elif rule.kind == "redirect":
            self._send(rule.status, {"Location": rule.location}, b"")
        elif rule.kind == "endless":
            body = self.front.endless_page(rule, self.path, dict(self.headers.items()))
            self._send(200, {"Content-Type": "application/json"}, body)
        elif rule.kind == "short":
            self._short(rule)
        else:
            self._drip(rule)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _short(self, rule: _Rule) -> None:
        status, headers, body = self.front.fetch_upstream(self.path, dict(self.headers.items()))
        half = body[: max(1, len(body) // 2)]
        self.close_connection = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if rule.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{len(body):x}\r\n".encode() + half)
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(half)
        self.wfile.flush()

    def _drip(self, rule: _Rule) -> None:
        status, headers, body = self.front.fetch_upstream(self.path, dict(self.headers.items()))
        self.close_connection = True
        head = (f"HTTP/1.1 {status} OK\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        slow = head + body if rule.headers_too else body
        if not rule.headers_too:
            self.wfile.write(head)
        for byte in slow:
            self.wfile.write(bytes((byte,)))
            self.wfile.flush()
            if self.front.wait(rule.interval):
                return
