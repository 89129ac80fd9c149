"""A simulated web of online-service link targets (ThAVEL and other hosts) on 127.0.0.1.

One plain-HTTP port and, with ``tls``, one HTTPS port serve every host name: a request is
routed by its ``Host`` header, so a link checker reaches the simulated hosts through a
connect-to mapping (``*:443`` -> ``127.0.0.1:<https_port>``, ``*:80`` ->
``127.0.0.1:<http_port>``) and trusts the throwaway CA in :attr:`SimulatedWeb.ca_file`.

Default answers (the ThAVEL link shapes are those of sources.md, "ThAVEL links")::

    thavelp.thueringen.de
      /thavelp/go/a/<n>[?…]                       302 -> /thavelp/portal/antrag/go-a-<n>/start
      /thavelp/portal/zs/<n>/start?pe=<m>         302 -> /thavelp/portal/antrag/zs-<n>/start?pe=<m>
      /thavelp/portal/a3start/0/client/index.html?verfahrenId=<n>&startAPI=…
                                                  302 -> /thavelp/portal/antrag/verfahren-<n>/start
      /thavelp/portal/antrag/<slug>/start         200 start page naming the zuständige Stelle
      anything else                               404
    thavel.thueringen.de
      /thavel/portal?f=leistung&aid=<n>           200 statewide page without a zuständige Stelle
      anything else                               404
    any other host, any path                      200 small page titled with the host name
    no Host header                                400

Redirect locations keep the scheme of the request (so ``tls=False`` works end to end).
Pages and redirects set a ``JSESSIONID`` cookie, as the real portals do: a link checker
must never send it back (see :meth:`SimulatedWeb.headers_of`). Every answer carries a
Content-Length; connections are HTTP/1.1 keep-alive.

Behaviour can be changed while serving: :meth:`~SimulatedWeb.set_authority`,
:meth:`~SimulatedWeb.break_link`, :meth:`~SimulatedWeb.redirect`, :meth:`~SimulatedWeb.hang`
and :meth:`~SimulatedWeb.restore`. Prefix rules match the full request URL (scheme of the
port, host without port, path and query); the longest matching prefix wins.
"""

from __future__ import annotations

import html
import re
import secrets
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._http import HTML_TYPE as HTML_TYPE  # re-exported: these were defined here
from ._http import REQUEST_LOG_LIMIT as REQUEST_LOG_LIMIT
from ._http import SHUTDOWN_POLL_SECONDS as SHUTDOWN_POLL_SECONDS
from ._http import ServedApp, TrackingHandler, TrackingServer, joined_headers, phrase
from ._links import BUND_HOSTS, LAND_HOSTS

__all__ = ["CERT_WILDCARDS", "SIM_HOSTS", "SimulatedWeb"]

THAVEL_HOST = "thavel.thueringen.de"
THAVELP_HOST = "thavelp.thueringen.de"

# Every host name the links of the simulated directory (and sources.md) use.
SIM_HOSTS: tuple[str, ...] = tuple(
    sorted(
        {
            THAVEL_HOST,
            THAVELP_HOST,
            "buerger.thueringen.de",
            "landesrecht.thueringen.de",
            "ajproxy.jena.de",
            "www.jena.de",
            "jena.de",
            "ikfz.ikfz-thueringen.de",
            "portal-civ-efa.ekom21.de",
            "antragsservice-einbuergerung.de",
            "erfurt.de",
            "online-dienste.erfurt.de",
            "fimportal.de",
            "www.gesetze-im-internet.de",
            "example.org",
            "www.example.org",
            "www.example",
            *BUND_HOSTS,
            *LAND_HOSTS,
        }
    )
)
# Wildcard names on the certificate too (OpenSSL needs two labels after "*").
CERT_WILDCARDS: tuple[str, ...] = (
    "*.thueringen.de",
    "*.jena.de",
    "*.gov.de",
    "*.bund.de",
    "*.elster.de",
    "*.erfurt.de",
    "*.ekom21.de",
    "*.ikfz-thueringen.de",
    "*.gemeinsamonline.de",
    "*.example.org",
    "*.example.com",
    "*.example.de",
)

DEFAULT_AUTHORITY = "Stadtverwaltung Jena"
THAVEL_HEADER = "ThAVEL – Thüringer Antragssystem für Verwaltungsleistungen"

_INSTANCE = re.compile(r"^(go/a|zs|verfahren)/(\d+)$")
_GO_A = re.compile(r"^/thavelp/go/a/(\d+)/?$")
_ZS_START = re.compile(r"^/thavelp/portal/zs/(\d+)/start$")
_A3START = re.compile(r"^/thavelp/portal/a3start/\d+/client/index\.html$")
_START_PAGE = re.compile(r"^/thavelp/portal/antrag/(go-a|zs|verfahren)-(\d+)/start$")
_SLUG_KINDS = {"go-a": "go/a", "zs": "zs", "verfahren": "verfahren"}

_ERROR_TEXTS = {
    400: "Die Anfrage ist ungültig.",
    403: "Der Zugriff auf diese Seite ist nicht erlaubt.",
    404: "Die angeforderte Seite wurde nicht gefunden.",
    410: "Die angeforderte Seite existiert nicht mehr.",
    500: "Bei der Bearbeitung Ihrer Anfrage ist ein Fehler aufgetreten.",
    502: "Der Dienst ist zurzeit nicht erreichbar.",
    503: "Der Dienst ist wegen Wartungsarbeiten vorübergehend nicht erreichbar.",
}


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    cookie: bool = False


@dataclass(frozen=True)
class _Rule:
    kind: str  # "status", "redirect" or "hang"
    status: int = 0
    target: str = ""


@dataclass(frozen=True)
class _Request:
    scheme: str
    host: str
    target: str
    method: str
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.target}"


def _document(title: str, main: str, head: str = "", header: str = "") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body>{header}<main>{main}</main></body></html>\n"
    ).encode()


def start_page(slug: str, authority: str) -> bytes:
    """The ThAVEL start page of one application instance, naming its zuständige Stelle."""
    slug, authority = html.escape(slug), html.escape(authority)
    return _document(
        f"ThAVEL – Antrag {slug}",
        '<h1>Online-Antrag</h1>'
        f'<div class="zustaendige-stelle">Zuständige Stelle: {authority}</div>'
        "<p>Bitte melden Sie sich mit Ihrem Servicekonto an, um den Antrag zu stellen.</p>"
        '<form method="post"><button type="submit">Antrag starten</button></form>',
        head=f'<meta name="zustaendige-stelle" content="{authority}">',
        header=f"<header>{THAVEL_HEADER}</header>",
    )


def statewide_page(aid: str) -> bytes:
    """The statewide ThAVEL entry: the applicant's place decides who is responsible."""
    return _document(
        f"ThAVEL – Leistung {html.escape(aid)}",
        "<h1>Online-Antrag</h1>"
        "<p>Dieser Antrag wird landesweit angeboten. Bitte geben Sie Ihren Wohnort an; "
        "danach wird der Antrag an die für Sie zuständige Behörde weitergeleitet.</p>"
        '<form><label>Wohnort <input name="ort"></label>'
        '<button type="submit">Weiter</button></form>',
        header=f"<header>{THAVEL_HEADER}</header>",
    )


def _host_page(host: str) -> bytes:
    name = html.escape(host)
    return _document(
        name,
        f"<h1>{name}</h1><p>Willkommen beim Online-Dienst. Bitte melden Sie sich an, "
        "um fortzufahren.</p>",
    )


def _status_response(status: int) -> _Response:
    title = f"{status} {html.escape(phrase(status))}"
    text = _ERROR_TEXTS.get(status, "Die Anfrage konnte nicht bearbeitet werden.")
    return _Response(status, _document(title, f"<h1>{title}</h1><p>{text}</p>"))


def _redirect_response(location: str, status: int = 302) -> _Response:
    link = html.escape(location)
    body = _document(
        "Weiterleitung",
        f'<h1>Weiterleitung</h1><p>Sie werden weitergeleitet: <a href="{link}">{link}</a></p>',
    )
    return _Response(status, body, {"Location": location}, cookie=True)


def _normalize_url(url: str) -> str:
    """``url`` as requests are matched: lower-case scheme and host, no port, no fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an absolute http(s) URL, got {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return f"{scheme}://{parts.hostname.rstrip('.')}{target}"


def _host_of(value: str | None) -> str:
    """The host name of a Host header, lower case and without port ("" if missing)."""
    value = (value or "").strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0].rstrip(".") if value else ""


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _first(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


class _Handler(TrackingHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except BaseException:
                self.server.untrack(self.connection)
                raise

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        app, scheme = self.server.app, self.server.scheme
        host, target = _host_of(self.headers.get("Host")), self.path
        if target.startswith(("http://", "https://")):  # absolute form
            parts = urlsplit(target)
            host = host or (parts.hostname or "")
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = joined_headers(self.headers, _canonical)
        request = _Request(scheme, host, target, self.command, headers)
        app._record(request)
        if not host:
            response = _status_response(400)
        else:
            rule = app._rule_for(request.url)
            if rule is not None and rule.kind == "hang":
                self.server.stopping.wait()
                self.close_connection = True
                return
            response = app._respond(request, rule)
        self.send_response(response.status)
        self.send_header("Content-Type", HTML_TYPE)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.cookie:
            secure = "; Secure" if scheme == "https" else ""
            cookie = secrets.token_hex(16).upper()
            self.send_header("Set-Cookie", f"JSESSIONID={cookie}; Path=/; HttpOnly{secure}")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if body:
            self.wfile.write(response.body)


class _Server(TrackingServer):
    # Quiet when a client goes away or fails the handshake.
    quiet_errors = (OSError,)

    def __init__(
        self, address: tuple[str, int], app: SimulatedWeb, context: ssl.SSLContext | None,
        stopping: threading.Event,
    ) -> None:
        self.context = context
        self.scheme = "https" if context is not None else "http"
        self.stopping = stopping
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler, app, f"simulated-web-{self.scheme}")

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is None:
            return sock, address
        try:
            # The handshake happens in the handler thread, never in the accept loop.
            tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError:
            sock.close()
            raise
        return tls, address


class SimulatedWeb(ServedApp):
    """Link targets on 127.0.0.1: one plain-HTTP port and (with tls) one HTTPS port; requests are
    routed by their Host header, so a link checker reaches them through a connect-to mapping
    ("*:443" -> 127.0.0.1:<https_port>, "*:80" -> 127.0.0.1:<http_port>).

    ``with SimulatedWeb() as web: web.connect_to(), web.ca_file``. With ``tls`` the server
    certificate of a throwaway CA is valid for :data:`SIM_HOSTS`, :data:`CERT_WILDCARDS`,
    ``extra_hosts``, 127.0.0.1 and localhost.
    """

    def __init__(
        self, *, tls: bool = True, host: str = "127.0.0.1",
        authority: str = DEFAULT_AUTHORITY, extra_hosts: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.tls = tls
        self.host = host
        self.authority = authority
        self._authorities: dict[str, str] = {}
        self._rules: dict[str, _Rule] = {}
        self._stopping = threading.Event()
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_file = ""
        self._ca: Any = None
        self._context: ssl.SSLContext | None = None
        if tls:
            import trustme  # lazily: only tests and the demo need it

            self._ca = trustme.CA(organization_name="zufiwatch simulated web")
            names = dict.fromkeys([*SIM_HOSTS, *CERT_WILDCARDS, *extra_hosts,
                                   "localhost", "127.0.0.1"])
            if host not in names:
                names[host] = None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ca.issue_cert(*names).configure_cert(context)
            self._context = context

    # lifecycle

    def _bind(self) -> list[TrackingServer]:
        """Both ports (0 = free ones) and, with tls, the CA file."""
        self._stopping = threading.Event()
        servers: list[TrackingServer] = [_Server((self.host, 0), self, None, self._stopping)]
        try:
            if self._context is not None:
                servers.append(_Server((self.host, 0), self, self._context, self._stopping))
        except BaseException:
            servers[0].server_close()
            raise
        if self._ca is not None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="zufiwatch-web-")
            path = Path(self._tempdir.name) / "ca.pem"
            self._ca.cert_pem.write_to_path(str(path))
            self._ca_file = str(path)
        return servers

    def stop(self) -> None:
        """Stop serving, release hanging requests, remove the CA file (idempotent)."""
        if not self._servers:
            return
        self._stopping.set()
        super().stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
        self._ca_file = ""

    # addresses

    @property
    def http_port(self) -> int:
        return int(self._running()[0].server_address[1])

    @property
    def https_port(self) -> int | None:
        servers = self._running()
        return int(servers[1].server_address[1]) if len(servers) > 1 else None

    @property
    def ca_file(self) -> str:
        """The CA certificate (PEM) to trust; removed on stop. "" without tls."""
        if not self.tls:
            return ""
        self._running()
        return self._ca_file

    def connect_to(self) -> tuple[tuple[str, str], ...]:
        """``(("*:80", "127.0.0.1:<http>"), ("*:443", "127.0.0.1:<https>"))``."""
        address = f"[{self.host}]" if ":" in self.host else self.host
        mapping = [("*:80", f"{address}:{self.http_port}")]
        if self.https_port is not None:
            mapping.append(("*:443", f"{address}:{self.https_port}"))
        return tuple(mapping)

    def endpoints(self) -> tuple[str, ...]:
        """``("127.0.0.1:<http>", "127.0.0.1:<https>")``, e.g. for an allow_local list."""
        return tuple(address for _, address in self.connect_to())

    # behaviour controls

    def set_authority(self, instance: str, authority: str) -> None:
        """The zuständige Stelle named by the start page of ``instance`` from now on.

        ``instance`` is "go/a/<n>", "zs/<n>" or "verfahren/<n>" (the a3start ``verfahrenId``).
        """
        if not _INSTANCE.match(instance):
            raise ValueError(
                f"instance must be 'go/a/<n>', 'zs/<n>' or 'verfahren/<n>', got {instance!r}"
            )
        with self._lock:
            self._authorities[instance] = authority

    def break_link(self, url_prefix: str, status: int = 404) -> None:
        """Answer every URL starting with ``url_prefix`` with ``status`` (400-599)."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be 400-599, got {status}")
        self._set_rule(url_prefix, _Rule("status", status))

    def redirect(self, url_prefix: str, target: str, status: int = 302) -> None:
        """Answer every URL starting with ``url_prefix`` with a redirect to ``target``."""
        if not 300 <= status <= 399:
            raise ValueError(f"status must be 300-399, got {status}")
        if not target or any(char in target for char in "\r\n"):
            raise ValueError(f"invalid redirect target {target!r}")
        self._set_rule(url_prefix, _Rule("redirect", status, target))

    def hang(self, url_prefix: str) -> None:
        """Read requests for URLs starting with ``url_prefix`` but never answer until stop()."""
        self._set_rule(url_prefix, _Rule("hang"))

    def restore(self, url_prefix: str) -> None:
        """Undo :meth:`break_link`, :meth:`redirect` or :meth:`hang` for ``url_prefix``."""
        key = _normalize_url(url_prefix)
        with self._lock:
            self._rules.pop(key, None)

    def _set_rule(self, url_prefix: str, rule: _Rule) -> None:
        key = _normalize_url(url_prefix)
        with self._lock:
            self._rules[key] = rule

    # observation

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(host, path?query)`` of the requests received so far, oldest first.

        The host is lower case without port ("" if the Host header was missing). Only the
        last ``REQUEST_LOG_LIMIT`` requests are kept; :attr:`request_count` counts all.
        """
        with self._lock:
            return [(request.host, request.target) for request in self._requests]

    @property
    def request_urls(self) -> list[str]:
        """The requests as URLs, the scheme being that of the port they arrived on."""
        with self._lock:
            return [request.url for request in self._requests]

    def headers_of(self, index: int) -> dict[str, str]:
        """The headers of request ``index`` (as in :attr:`requests`), names capitalised
        canonically ("Cookie", "Authorization", "User-Agent"), repeated ones joined."""
        with self._lock:
            return dict(self._requests[index].headers)

    def method_of(self, index: int) -> str:
        """The method ("GET", "HEAD") of request ``index``."""
        with self._lock:
            return self._requests[index].method

    # internals used by the handler

    def _rule_for(self, url: str) -> _Rule | None:
        with self._lock:
            matching = [prefix for prefix in self._rules if url.startswith(prefix)]
            return self._rules[max(matching, key=len)] if matching else None

    def _respond(self, request: _Request, rule: _Rule | None) -> _Response:
        if rule is not None and rule.kind == "status":
            return _status_response(rule.status)
        if rule is not None and rule.kind == "redirect":
            return _redirect_response(rule.target, rule.status)
        parts = urlsplit(request.target)
        query = parse_qs(parts.query)
        if request.host == THAVELP_HOST:
            return self._thavelp(request.scheme, parts.path, query)
        if request.host == THAVEL_HOST:
            aid = _first(query, "aid")
            if parts.path == "/thavel/portal" and _first(query, "f") == "leistung" and (
                aid.isdigit()
            ):
                return _Response(200, statewide_page(aid), cookie=True)
            return _status_response(404)
        return _Response(200, _host_page(request.host), cookie=True)

    def _thavelp(self, scheme: str, path: str, query: dict[str, list[str]]) -> _Response:
        base = f"{scheme}://{THAVELP_HOST}/thavelp/portal/antrag"
        if match := _GO_A.match(path):
            return _redirect_response(f"{base}/go-a-{match.group(1)}/start")
        if match := _ZS_START.match(path):
            pe = _first(query, "pe")
            suffix = f"?pe={pe}" if pe.isdigit() else ""
            return _redirect_response(f"{base}/zs-{match.group(1)}/start{suffix}")
        if _A3START.match(path):
            verfahren = _first(query, "verfahrenId")
            if verfahren.isdigit():
                return _redirect_response(f"{base}/verfahren-{verfahren}/start")
            return _status_response(404)
        if match := _START_PAGE.match(path):
            kind, number = match.groups()
            instance = f"{_SLUG_KINDS[kind]}/{number}"
            with self._lock:
                authority = self._authorities.get(instance, self.authority)
            return _Response(200, start_page(f"{kind}-{number}", authority), cookie=True)
        return _status_response(404)
