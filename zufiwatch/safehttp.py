"""A GET for URLs that anyone could have written: the link checker's HTTP client.

The public directory zufiwatch watches holds URLs that strangers can edit. Following them
from a city server is a server-side request forgery (SSRF) surface, so every hop of every
request goes through the same gate:

- **Schemes**: only ``http`` and ``https`` with a host; anything else is refused without I/O.
  URLs are read as a browser reads them (:mod:`zufiwatch.weburl`, the WHATWG URL
  standard): ``http://127.0.0.1:1\\@thavel.thueringen.de/`` goes to 127.0.0.1 port 1,
  and a ``Location`` of ``/\\evil.example/`` to evil.example.
- **Addresses**: the host is resolved *once*, every address it resolves to is checked with
  :func:`address_problem`, and the request connects to exactly one of those vetted
  addresses (the HTTP library never resolves the name again, so DNS rebinding cannot swap
  the address between the check and the connection). Loopback, private, link-local,
  metadata (169.254.169.254), multicast, reserved and documentation addresses are refused,
  also when hidden in IPv4-mapped, 6to4, NAT64 or Teredo IPv6 addresses. Only endpoints
  listed in ``SafetyPolicy.allow_local`` are exempt (the simulator in tests and demos).
- **Redirects** are followed by hand, each new hop passing the same gate; their number is
  limited and loops are detected.
- **Nothing private is sent**: userinfo is stripped, no Authorization, Cookie or Referer,
  no proxy from the environment.
- **Limits**: connect and read timeouts, a total time for the whole ``get()``, a cap on the
  body size (also after gzip decoding), and pacing per host.

Refusals raise :class:`LinkRefused` (no connection was made for the refused hop),
failures :class:`LinkFailed`; an HTTP error status is an answer, not an exception.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import certifi
import idna
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from . import weburl
from .errors import ZufiwatchError

__all__ = [
    "Hop",
    "LinkAnswer",
    "LinkError",
    "LinkFailed",
    "LinkRefused",
    "Resolver",
    "SafeClient",
    "SafetyPolicy",
    "address_problem",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
ACCEPT_LANGUAGE = "de-DE,de;q=0.9"
_CHUNK = 64 * 1024
_MAX_PACING_ENTRIES = 4096


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Hop:
    """One answer on the way: the URL requested, its status and where it came from."""

    url: str
    status: int
    address: str
    location: str = ""


@dataclass(frozen=True)
class LinkAnswer:
    """The final answer to a ``get()``, with every hop that led to it."""

    url: str
    hops: tuple[Hop, ...]
    status: int
    final_url: str
    content_type: str
    body: bytes
    truncated: bool


class LinkError(ZufiwatchError):
    """A link could not be followed. ``url`` is the URL of the hop that was refused or
    failed (the URL asked for, or a redirect target); ``hops`` are the answers before."""

    def __init__(self, message: str, *, category: str, url: str,
                 hops: tuple[Hop, ...] = ()) -> None:
        super().__init__(message)
        self.category = category
        self.url = url
        self.hops = tuple(hops)


class LinkRefused(LinkError):
    """The policy forbids this hop; no connection was made for it.
    ``category``: ``"scheme"`` (not an http(s) URL with a valid host) or ``"address"``."""


class LinkFailed(LinkError):
    """The hop was tried and failed. ``category``: ``"dns"``, ``"connect"``, ``"timeout"``,
    ``"tls"``, ``"protocol"``, ``"redirects"`` or ``"time"``."""


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class SafetyPolicy:
    """What the link checker may do. Malformed endpoints raise ``ValueError`` here.

    ``allow_local`` lists exact IP endpoints (``"127.0.0.1:8080"``, ``"[::1]:8080"``) that
    may be connected to although not public. ``connect_to`` maps ``"host:port"`` to another
    endpoint like ``curl --connect-to``; ``"*:port"`` maps every host *name* on that port,
    never an IP literal (a URL naming an address means that address)."""

    max_redirects: int = 5
    max_bytes: int = 1_000_000
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    min_interval: float = 1.0
    allow_local: tuple[str, ...] = ()
    connect_to: tuple[tuple[str, str], ...] = ()
    ca_file: str = ""
    user_agent: str = "zufiwatch link checker"

    def __post_init__(self) -> None:
        if self.max_redirects < 0 or self.max_bytes < 0:
            raise ValueError("max_redirects and max_bytes must not be negative")
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        if re.search(r"[\x00-\x1f\x7f]", self.user_agent):
            raise ValueError("user_agent must not contain control characters")
        _allowed_endpoints(self.allow_local)
        _connect_rules(self.connect_to)


def _split_endpoint(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> (host without brackets, port)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"not an endpoint [ipv6]:port: {text!r}")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"not an endpoint host:port: {text!r}")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"not an endpoint host:port: {text!r}")
    return host, int(port_text)


def _allowed_endpoints(entries: tuple[str, ...]) -> frozenset[tuple[IPAddress, int]]:
    allowed = set()
    for entry in entries:
        host, port = _split_endpoint(entry)
        try:
            allowed.add((ipaddress.ip_address(host), port))
        except ValueError:
            raise ValueError(f"allow_local needs IP endpoints, not {entry!r}") from None
    return frozenset(allowed)


@dataclass(frozen=True)
class _ConnectRule:
    host: str  # normalized host, or "*"
    port: int
    to_host: str  # normalized host or IP literal
    to_port: int


def _connect_rules(pairs: tuple[tuple[str, str], ...]) -> tuple[_ConnectRule, ...]:
    rules = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"connect_to entries are (from, to) pairs, not {pair!r}")
        source, target = pair
        host, port = _split_endpoint(source)
        to_host, to_port = _split_endpoint(target)
        try:
            rules.append(_ConnectRule(host if host == "*" else _normal_host(host), port,
                                      _normal_host(to_host), to_port))
        except _BadURL as exc:
            raise ValueError(f"connect_to {pair!r}: {exc}") from None
    return tuple(rules)


# --------------------------------------------------------------------------- addresses


def _networks(*rules: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in rules)


_V4_RULES = _networks(
    ("0.0.0.0/8", "reserved"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast 255.255.255.255
)

_V6_RULES = _networks(
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215)
    ("100::/64", "reserved"),  # discard-only
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),
    ("fec0::/10", "private"),  # deprecated site-local
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6_COMPATIBLE = ipaddress.IPv6Network("::/96")
_V6_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_V6_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _v4_problem(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    for network, reason in _V4_RULES:
        if ip in network:
            return reason
    return None if ip.is_global else "not public"


def _v6_problem(ip: ipaddress.IPv6Address) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return _v4_problem(ip.ipv4_mapped)
    if ip in _V6_COMPATIBLE or ip in _V6_TRANSLATED or ip in _V6_NAT64:
        return _v4_problem(low32)
    if ip.sixtofour is not None:
        return _v4_problem(ip.sixtofour)
    if ip.teredo is not None:
        server, client = ip.teredo
        return _v4_problem(client) or _v4_problem(server)
    for network, reason in _V6_RULES:
        if ip in network:
            return reason
    if ip not in _V6_GLOBAL_UNICAST:
        return "reserved"
    return None if ip.is_global else "not public"


def address_problem(address: str) -> str | None:
    """None for a globally routable unicast address; otherwise a short reason:
    "loopback", "private", "link-local", "multicast", "unspecified", "reserved",
    "shared" (100.64/10), "documentation", "not public".

    IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible, 6to4 (``2002::/16``), NAT64
    (``64:ff9b::/96``) and Teredo addresses are judged by the IPv4 address they embed
    (Teredo: both the server and the client address). Text that is not an IP address at
    all is "not public"."""
    ip = _ip_literal(str(address))
    if ip is None:
        return "not public"
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_problem(ip)
    return _v6_problem(ip)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (unique, in its order)."""
    addresses: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


# --------------------------------------------------------------------------- URLs


class _BadURL(ValueError):
    """Why a URL cannot be requested (becomes ``LinkRefused(category="scheme")``)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_NAME = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?")
#: Userinfo as a browser finds it: up to the last "@" before the first "/", "\\", "?" or "#".
_USERINFO = re.compile(r"^([\x00-\x20]*[A-Za-z][A-Za-z0-9+.\-]*:[/\\]{2})[^/\\?#]*@")


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _display(url: str) -> str:
    """``url`` as written, without userinfo and fragment, on one line (for messages and
    ``.url``)."""
    return _one_line(_USERINFO.sub(r"\1", url).partition("#")[0])


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _normal_host(host: str) -> str:
    """An IP literal in canonical form, or an ASCII (IDNA) lowercase host name."""
    ip = _ip_literal(host)
    if ip is not None:
        return str(ip)
    lowered = host.lower()
    if lowered.isascii():
        # Plain ASCII names pass as they are (underscores included, which IDNA 2008
        # would reject although such names exist in DNS).
        if _ASCII_NAME.fullmatch(lowered) and len(lowered.rstrip(".")) <= 253:
            return lowered
        raise _BadURL(f"invalid host name {host!r}")
    try:
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise _BadURL(f"invalid host name {host!r} ({exc})") from None


def _url_host(host: str) -> str:
    """``host`` as it is written in a URL or Host header (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


def _endpoint(ip: str, port: int) -> str:
    return f"{_url_host(ip)}:{port}"


@dataclass(frozen=True)
class _Target:
    """One hop's request: where it goes and what is sent."""

    url: str  # normalized: scheme://host[:port]/path?query, no userinfo, no fragment
    scheme: str
    host: str  # ASCII lowercase name, or canonical IP literal (IPv6 without brackets)
    port: int
    request_target: str  # path?query as sent on the request line

    @property
    def host_header(self) -> str:
        if self.port == DEFAULT_PORTS[self.scheme]:
            return _url_host(self.host)
        return f"{_url_host(self.host)}:{self.port}"

    @property
    def tls_name(self) -> str:
        return self.host.rstrip(".")


def _parse(url: str) -> _Target:
    """Check rule 1 (scheme and host) and normalize; raise :class:`_BadURL`.

    The host, port, path and query are the ones a browser reads (:mod:`~zufiwatch.weburl`)."""
    seen = weburl.parse(url)
    scheme = seen.scheme if seen is not None else weburl.written_scheme(url)
    if scheme not in DEFAULT_PORTS:
        raise _BadURL(f"scheme {scheme + ':' if scheme else '(none)'} is not http or https")
    if seen is None:
        raise _BadURL("not a valid URL (a browser cannot open it)")
    if not seen.host:
        raise _BadURL("the URL has no host")
    if weburl.SLASHES in seen.hidden:
        raise _BadURL(f"no host after '//' (a browser would open {_one_line(seen.opens)})")
    port = seen.port if seen.port is not None else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise _BadURL(f"invalid port {port}")
    host = _normal_host(seen.hostname)
    path = seen.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    request_target = f"{path}?{seen.query}" if seen.query else path
    netloc = _url_host(host) if port == DEFAULT_PORTS[scheme] else f"{_url_host(host)}:{port}"
    normalized = _one_line(f"{scheme}://{netloc}{request_target}")
    return _Target(normalized, scheme, host, port, _one_line(request_target))


def _redirect_target(current: str, location: str) -> str:
    """The absolute URL a ``Location`` points to, without fragment."""
    # http.client decodes header bytes as Latin-1; servers mean UTF-8.
    with contextlib.suppress(UnicodeError):
        location = location.encode("latin-1").decode("utf-8")
    try:
        joined = weburl.join(current, location.strip())  # as a browser follows it
    except ValueError:
        joined = location.strip()
    return joined.partition("#")[0]


# --------------------------------------------------------------------------- client


def _detail(exc: BaseException) -> str:
    """A short, one-line description of what went wrong below urllib3."""
    text = str(exc) or type(exc).__name__
    text = re.sub(r"<?[\w.]*(?:Connection|ConnectionPool)(?:\([^)]*\)| object at \w+)>?: ",
                  "", text)
    text = _one_line(text)
    return text if len(text) <= 200 else text[:197] + "..."


def _category(exc: BaseException) -> str:
    if isinstance(exc, NewConnectionError):  # before ConnectTimeoutError, its base
        return "connect"
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, SSLError | ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, ProtocolError | DecodeError | Urllib3Error):
        return "protocol"
    return "connect"  # any other OSError


_WHAT = {
    "connect": "cannot connect",
    "timeout": "timed out",
    "tls": "TLS failed",
    "protocol": "malformed HTTP answer",
}


class SafeClient:
    """Follows untrusted links under a :class:`SafetyPolicy`. Thread-safe."""

    def __init__(self, policy: SafetyPolicy, *, resolver: Resolver = system_resolver,
                 clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], None] = time.sleep) -> None:
        self._policy = policy
        self._resolver = resolver
        self._clock = clock
        self._wait = wait
        self._allowed = _allowed_endpoints(policy.allow_local)
        self._rules = _connect_rules(policy.connect_to)
        self._ca_file = policy.ca_file or certifi.where()
        self._headers = {
            "User-Agent": policy.user_agent,
            "Accept": ACCEPT,
            "Accept-Language": ACCEPT_LANGUAGE,
            "Accept-Encoding": "identity",
        }
        self._lock = threading.Lock()
        self._next_start: dict[str, float] = {}
        self._closed = False
        self._count_lock = threading.Lock()
        #: Requests sent: one per hop that reached a server (a hop refused by the rules,
        #: or whose connection could not be made, sent none). Bytes: the bodies read.
        self.requests = 0
        self.bytes_received = 0

    @property
    def policy(self) -> SafetyPolicy:
        return self._policy

    def close(self) -> None:
        """Forget the pacing state; later ``get()`` calls raise ``RuntimeError``.
        (Connections never outlive a hop, so there is nothing else to close.)"""
        with self._lock:
            self._closed = True
            self._next_start.clear()

    def __enter__(self) -> SafeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ get

    def get(self, url: str) -> LinkAnswer:
        """Follow ``url`` (and its redirects) under the policy.

        Raises :class:`LinkRefused` when the policy forbids a hop (no connection is made
        for it) and :class:`LinkFailed` when a hop was tried and failed."""
        if self._closed:
            raise RuntimeError("SafeClient is closed")
        asked = _display(url)
        deadline = self._clock() + self._policy.total_timeout
        hops: list[Hop] = []
        try:
            target = _parse(url)
        except _BadURL as exc:
            raise LinkRefused(f"{asked}: refused: {exc}", category="scheme", url=asked) from None
        visited = {target.url}
        while True:
            self._check_time(target.url, deadline, hops)
            endpoints = self._vet(target, hops)
            if self._pace(target.host.rstrip(".")):
                self._check_time(target.url, deadline, hops)
            pool, response, address = self._open(target, endpoints, deadline, hops)
            try:
                status = response.status
                location = ""
                if status in REDIRECT_STATUSES:
                    location = response.headers.get("Location", "").strip()
                if not location:
                    hops.append(Hop(target.url, status, address))
                    body, truncated = self._read_body(response, target.url, deadline, hops)
                    return LinkAnswer(asked, tuple(hops), status, target.url,
                                      response.headers.get("Content-Type", ""), body,
                                      truncated)
            finally:
                response.close()
                pool.close()
            target = self._follow(target, status, address, location, hops, visited)

    def _follow(self, current: _Target, status: int, address: str, location: str,
                hops: list[Hop], visited: set[str]) -> _Target:
        """Record the redirect hop and return the next target (rules 1 and 5)."""
        joined = _redirect_target(current.url, location)
        try:
            target = _parse(joined)
        except _BadURL as exc:
            shown = _display(joined)
            hops.append(Hop(current.url, status, address, shown))
            raise LinkRefused(f"{shown}: refused redirect from {current.url}: {exc}",
                              category="scheme", url=shown, hops=tuple(hops)) from None
        hops.append(Hop(current.url, status, address, target.url))
        if len(hops) > self._policy.max_redirects:
            raise LinkFailed(f"{hops[0].url}: more than {self._policy.max_redirects} "
                             f"redirects (the last to {target.url})",
                             category="redirects", url=target.url, hops=tuple(hops))
        if target.url in visited:
            raise LinkFailed(f"{target.url}: redirect loop (visited twice, redirected from "
                             f"{current.url})", category="redirects", url=target.url,
                             hops=tuple(hops))
        visited.add(target.url)
        return target

    # ------------------------------------------------------------------ rules 3 and 7

    def _check_time(self, url: str, deadline: float, hops: list[Hop]) -> float:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise LinkFailed(f"{url}: gave up, the total time of "
                             f"{self._policy.total_timeout:g} s is used up",
                             category="time", url=url, hops=tuple(hops))
        return remaining

    def _vet(self, target: _Target, hops: list[Hop]) -> list[tuple[str, int]]:
        """The endpoints this hop may connect to; refuse if any address is forbidden."""
        # "*" stands for any host *name*: an IP literal in a URL (or a Location) says which
        # address it means, so only a rule naming that very address maps it.
        literal = _ip_literal(target.host) is not None
        mapped = next((rule for rule in self._rules if rule.port == target.port
                       and (rule.host == target.host or (rule.host == "*" and not literal))),
                      None)
        host, port = (mapped.to_host, mapped.to_port) if mapped else (target.host, target.port)
        if _ip_literal(host) is not None:
            addresses = [host]
        else:
            try:
                addresses = list(dict.fromkeys(self._resolver(host, port)))
            except (OSError, UnicodeError, ValueError) as exc:
                raise LinkFailed(f"{target.url}: cannot resolve {host} ({_detail(exc)})",
                                 category="dns", url=target.url, hops=tuple(hops)) from None
            if not addresses:
                raise LinkFailed(f"{target.url}: {host} has no address", category="dns",
                                 url=target.url, hops=tuple(hops))
        endpoints = []
        for raw in addresses:
            ip = _ip_literal(str(raw))
            shown = _endpoint(str(ip), port) if ip else _one_line(repr(raw))
            problem = address_problem(str(ip)) if ip else "not public"
            if problem and (ip is None or (ip, port) not in self._allowed):
                if mapped:
                    how = f"{_endpoint(target.host, target.port)} is mapped to {shown}"
                elif literal:
                    how = f"address {shown}"
                else:
                    how = f"{target.host} resolves to {shown}"
                raise LinkRefused(f"{target.url}: refused: {how} ({problem})",
                                  category="address", url=target.url, hops=tuple(hops))
            endpoints.append((str(ip), port))
        return endpoints

    # ------------------------------------------------------------------ rule 9

    def _pace(self, host: str) -> bool:
        """Wait for this host's turn; True if there was a wait."""
        interval = self._policy.min_interval
        if interval <= 0:
            return False
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + interval
            if len(self._next_start) > _MAX_PACING_ENTRIES:
                self._next_start = {name: at for name, at in self._next_start.items()
                                    if at > now}
        delay = start - now
        if delay > 0:
            self._wait(delay)
            return True
        return False

    # ------------------------------------------------------------------ rules 2, 4, 8

    def _pool(self, target: _Target, ip: str, port: int,
              timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(
                ip, port, timeout=timeout, maxsize=1, retries=False,
                server_hostname=target.tls_name, assert_hostname=target.tls_name,
                cert_reqs="CERT_REQUIRED", ca_certs=self._ca_file)
        return urllib3.HTTPConnectionPool(ip, port, timeout=timeout, maxsize=1, retries=False)

    def _open(self, target: _Target, endpoints: list[tuple[str, int]], deadline: float,
              hops: list[Hop]) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse,
                                        str]:
        """Send the request to the first vetted endpoint that accepts a connection."""
        headers = {"Host": target.host_header, **self._headers}
        failure: tuple[BaseException, str] | None = None
        for ip, port in endpoints:
            remaining = self._check_time(target.url, deadline, hops)
            timeout = urllib3.Timeout(connect=min(self._policy.connect_timeout, remaining),
                                      read=min(self._policy.read_timeout, remaining))
            address = _endpoint(ip, port)
            pool = self._pool(target, ip, port, timeout)
            try:
                response = pool.urlopen("GET", target.request_target, headers=headers,
                                        retries=False, redirect=False, assert_same_host=False,
                                        preload_content=False, decode_content=True,
                                        release_conn=False)
            except (NewConnectionError, ConnectTimeoutError) as exc:
                pool.close()
                failure = (exc, address)
                continue  # the next vetted address, if any
            except (Urllib3Error, OSError) as exc:
                self._count(requests=1)  # connected: the request (or handshake) went out
                pool.close()
                raise self._failed(exc, target.url, address, hops) from None
            except BaseException:
                pool.close()
                raise
            self._count(requests=1)
            return pool, response, address
        assert failure is not None  # endpoints is never empty
        raise self._failed(failure[0], target.url, failure[1], hops) from None

    def _count(self, *, requests: int = 0, received: int = 0) -> None:
        with self._count_lock:
            self.requests += requests
            self.bytes_received += received

    @staticmethod
    def _failed(exc: BaseException, url: str, address: str, hops: list[Hop]) -> LinkFailed:
        category = _category(exc)
        return LinkFailed(f"{url}: {_WHAT[category]} ({address}: {_detail(exc)})",
                          category=category, url=url, hops=tuple(hops))

    # ------------------------------------------------------------------ rule 6

    def _read_body(self, response: urllib3.BaseHTTPResponse, url: str, deadline: float,
                   hops: list[Hop]) -> tuple[bytes, bool]:
        limit = self._policy.max_bytes
        chunks: list[bytes] = []
        size = 0
        address = hops[-1].address
        while True:
            self._check_time(url, deadline, hops)
            try:
                data = response.read1(_CHUNK, decode_content=True)
            except (Urllib3Error, OSError) as exc:
                raise self._failed(exc, url, address, hops) from None
            if not data:
                return b"".join(chunks), False
            self._count(received=len(data))
            room = limit - size
            if len(data) > room:
                chunks.append(data[:room])
                return b"".join(chunks), True
            chunks.append(data)
            size += len(data)
