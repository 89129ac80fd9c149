"""The polite HTTP client shared by all sources.

- **Pacing per host**: a minimum interval between requests and a concurrency limit. Every
  attempt, retries included, waits for its turn, so retries never exceed the pacing.
- **Retries** on connection errors, timeouts, 429 and 5xx, with exponential backoff and
  jitter; a ``Retry-After`` (seconds or an HTTP date) is honoured, for the whole host,
  up to ``max_retry_after`` (longer waits fail the request instead of stalling a crawl).
- **Timeouts** for connecting and reading, a **total deadline** per response
  (``response_deadline``: a server that drips its answer a byte at a time is cut off, see
  :mod:`.httpwatch`), and a **size cap** on responses. A body that ends before its
  ``Content-Length`` or in the middle of a chunk is an error (retried).
- **Redirects only within the host asked**: followed by hand, at most ``max_redirects``,
  each hop checked before it is made (:func:`redirect_refusal`): the same host and port
  (``http`` → ``https`` on the same host included); another host, port or scheme is refused
  without connecting, so the caller's headers (``api_key``…) never reach another host.
- **A crawl's deadline** (:class:`~.limits.CrawlDeadline`): after it no request starts,
  and one under way is cut off.
- **Identification**: a ``User-Agent`` and, when configured, a ``From`` header.
- **Conditional requests**: given an ETag or Last-Modified from before, the request
  carries ``If-None-Match``/``If-Modified-Since``; a ``304`` comes back as such and the
  caller reuses the body it archived.
- **Lean requests on kept-alive connections** (:mod:`.senders`, :mod:`.transport`):
  requests go straight to the standard library's :mod:`http.client` (no cookies, hooks or
  ``.netrc``: the APIs need none), and a connection whose answer was read to its end
  serves the next request. The environment's proxy settings (``HTTPS_PROXY``,
  ``HTTP_PROXY``, ``NO_PROXY``…, read as ``requests`` reads them) are resolved once per
  origin at its first request (a proxy is used through urllib3, :mod:`.proxied`); the CA
  bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's) once per fetcher.
- **robots.txt** is honoured where asked for (HTML sources); an unreachable robots.txt
  means "do not fetch", a missing one (4xx) means "fetch anything".

Errors of the transport are worded here as :class:`FetchError` and
:class:`HTTPStatusError`, each naming the URL of the hop that failed.
"""

from __future__ import annotations

import email.utils
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from .config import HttpSettings
from .errors import FetchError, HTTPStatusError
from .httpwatch import Watch, Watchdog
from .limits import CrawlDeadline
from .senders import Senders, authority, prepared_url
from .transport import (
    ACCEPT_ENCODING,
    Answer,
    CannotConnect,
    TimedOut,
    TransportError,
    Undecodable,
)

if TYPE_CHECKING:
    from urllib.robotparser import RobotFileParser

__all__ = ["Fetcher", "Response", "Validators", "redirect_refusal"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Bytes asked for per read of a body: whatever arrives is taken (``read1``), so the
#: deadline is checked between reads however slowly the server sends.
_READ_CHUNK = 65536


@dataclass(frozen=True)
class Validators:
    """What a server said identifies a response, for a conditional request next time."""

    etag: str = ""
    last_modified: str = ""

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Response:
    """What the server answered: a 2xx, or 304 to a conditional request (empty body)."""

    url: str
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 1

    @classmethod
    def made(cls, url: str, status: int, content_type: str, body: bytes,
             headers: Mapping[str, str], attempts: int = 1) -> Response:
        """``Response(url, status, content_type, body, headers, attempts)``, made at a
        third of the cost: a frozen dataclass's ``__init__`` sets each field through
        ``object.__setattr__``; here they are filled in at once (one per GET)."""
        response = object.__new__(cls)
        response.__dict__.update(url=url, status=status, content_type=content_type,
                                 body=body, headers=headers, attempts=attempts)
        return response

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(_field(self.headers, "ETag") or "",
                          _field(self.headers, "Last-Modified") or "")


@dataclass
class _HostLimit:
    min_interval: float
    #: One token per request that may run at once (a ``SimpleQueue`` takes and gives in
    #: C; a ``BoundedSemaphore`` costs microseconds of Python per request).
    slots: queue.SimpleQueue[None]
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0


class _Retryable(Exception):
    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _Expired(Exception):
    """The watch of the request ran out while ``url`` was being read."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def redirect_refusal(asked: str, target: str) -> str | None:
    """Why a redirect from a request for ``asked`` to ``target`` is not followed, or None.

    Followed only to the same host (case-insensitive) and port as ``asked``, over the same
    scheme or from ``http`` to ``https`` (default ports, or the same explicit port). Both
    the standard library's and urllib3's reading of ``target`` must agree on that (a
    ``\\`` or ``@`` in the authority that they read differently is refused)."""
    host = (urlsplit(asked).hostname or "").lower()
    refused = (f"redirect from {asked} to {target} refused: zufiwatch follows redirects "
               f"only within {host}")
    try:
        want = _origin(asked)
        got = {_origin(target), _origin(target, parser="urllib3")}
    except ValueError:
        return refused
    if len(got) != 1:
        return refused
    scheme, target_host, port, userinfo = got.pop()
    if userinfo or target_host != want[1]:
        return refused
    if scheme == want[0]:
        return None if port == want[2] else refused
    if (want[0], scheme) == ("http", "https") and (
            port == want[2] or (want[2], port) == (80, 443)):
        return None
    if (want[0], scheme) == ("https", "http"):
        return (f"redirect from {asked} to {target} refused: zufiwatch does not follow a "
                "redirect from https to http")
    return refused


def _origin(url: str, parser: str = "stdlib") -> tuple[str, str, int, bool]:
    """(scheme, host, port, has userinfo) of an http(s) URL; ValueError for anything else."""
    if parser == "urllib3":
        from urllib3.exceptions import LocationParseError
        from urllib3.util import parse_url

        try:
            parts = parse_url(url)
        except LocationParseError as exc:
            raise ValueError(str(exc)) from exc
        scheme, host, port, userinfo = (parts.scheme or "").lower(), parts.host or "", \
            parts.port, bool(parts.auth)
    else:
        split = urlsplit(url)
        scheme, host, port, userinfo = split.scheme.lower(), split.hostname or "", \
            split.port, "@" in split.netloc
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an http(s) URL: {url}")
    return scheme, host.lower().rstrip("."), port or _DEFAULT_PORTS[scheme], userinfo


def _same_host(asked: str, hop: str) -> bool:
    return (urlsplit(asked).hostname or "").lower() == (urlsplit(hop).hostname or "").lower()


class Fetcher:
    """GET with pacing per host; thread-safe, so a source may call it from a pool."""

    def __init__(self, http: HttpSettings, *, retries: int | None = None,
                 backoff: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self._http = http
        self.retries = http.retries if retries is None else retries
        self.backoff = http.backoff if backoff is None else backoff
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._limits: dict[str, _HostLimit] = {}
        self._limits_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_lock = threading.Lock()
        self.requests = 0
        self.retried = 0
        self.bytes_received = 0
        self._watchdog = Watchdog()
        self._headers = {"User-Agent": http.user_agent, "Accept": "*/*",
                         "Accept-Encoding": ACCEPT_ENCODING}
        if http.contact:
            self._headers["From"] = http.contact
        self._senders = Senders(connect_timeout=http.connect_timeout,
                                read_timeout=http.read_timeout)

    @property
    def settings(self) -> HttpSettings:
        """The ``[http]`` settings this fetcher was made with."""
        return self._http

    def limit_host(self, host: str, *, max_concurrency: int, min_interval: float) -> None:
        """Set the pacing for one host (``netloc`` of its URLs)."""
        with self._limits_lock:
            self._limits[host.lower()] = _HostLimit(min_interval, _tokens(max_concurrency))

    def close(self) -> None:
        self._senders.close()
        self._watchdog.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, validators: Validators | None = None,
            robots: bool = False, deadline: CrawlDeadline | None = None) -> Response:
        """Fetch ``url``; raise :class:`FetchError` unless the answer is a 2xx (or a 304
        to the conditional request that ``validators`` make). After ``deadline`` no
        attempt starts, and one under way is cut off."""
        if robots and not self.allowed_by_robots(url):
            raise FetchError(f"disallowed by robots.txt: {url}", url=url)
        sent = self._headers  # what every request carries; the caller's after (and over) it
        if headers or validators:
            sent = {**sent, **(headers or {})}
            if validators:
                sent.update(validators.headers())
        attempt = 0
        while True:
            try:
                response = self._paced(url, params, sent, deadline)
                return response if attempt == 0 else replace(response, attempts=attempt + 1)
            except _Retryable as retry:
                if attempt >= self.retries:
                    raise retry.error from None
                delay = self._delay(attempt, retry.retry_after, retry.error)
                if deadline is not None and deadline.remaining() <= delay:
                    raise retry.error from None
                attempt += 1
                with self._count_lock:
                    self.retried += 1
                self._hold_host(url, delay)

    def _delay(self, attempt: int, retry_after: float | None, error: FetchError) -> float:
        if retry_after is not None:
            if retry_after > self._http.max_retry_after:
                raise FetchError(f"{error} (the server asks to wait {retry_after:.0f} s, more "
                                 f"than max_retry_after = {self._http.max_retry_after:.0f} s)",
                                 url=error.url) from None
            return retry_after
        base = self.backoff * (2 ** attempt)
        return base + self._rng.uniform(0, self.backoff)

    def _limit_of(self, url: str) -> _HostLimit | None:
        return self._limits.get(authority(url)) if self._limits else None

    def _hold_host(self, url: str, delay: float) -> None:
        """Wait ``delay`` before the next attempt; paced hosts hold every request."""
        limit = self._limit_of(url)
        if limit is None:
            self._sleep(delay)
            return
        with limit.lock:
            limit.next_at = max(limit.next_at, self._monotonic() + delay)

    def _paced(self, url: str, params: Mapping[str, str] | None,
               headers: Mapping[str, str], deadline: CrawlDeadline | None = None) -> Response:
        limit = self._limit_of(url)
        if limit is None:
            return self._once(url, params, headers, deadline)
        limit.slots.get()
        try:
            self._wait_turn(limit)
            return self._once(url, params, headers, deadline)
        finally:
            limit.slots.put(None)

    def _wait_turn(self, limit: _HostLimit) -> None:
        with limit.lock:
            now = self._monotonic()
            wait = limit.next_at - now
            limit.next_at = max(now, limit.next_at) + limit.min_interval
        if wait > 0:
            self._sleep(wait)

    def _once(self, url: str, params: Mapping[str, str] | None,
              headers: Mapping[str, str], deadline: CrawlDeadline | None = None) -> Response:
        """One attempt: the request and its redirects, under one watch of
        ``response_deadline`` (or what is left of the crawl's deadline, if less)."""
        asked = prepared_url(url, params)
        seconds, by_crawl = self._http.response_deadline, False
        if deadline is not None:
            left = deadline.remaining()
            if left <= 0:
                raise deadline.refuse(asked)
            seconds, by_crawl = min(seconds, left), left < seconds
        watch = self._watchdog.begin(seconds)
        try:
            answer = self._exchange(asked, headers, watch)
            if isinstance(answer, Response):
                return answer
            return self._follow(asked, answer, headers, watch)
        except _Expired as late:
            if by_crawl and deadline is not None:
                raise deadline.refuse(late.url) from None
            raise FetchError(f"the answer took longer than response_deadline = "
                             f"{self._http.response_deadline:g} s: {late.url}",
                             url=late.url) from None
        finally:
            self._watchdog.end(watch)

    def _follow(self, asked: str, target: str, headers: Mapping[str, str],
                watch: Watch) -> Response:
        """Follow the GET of ``asked`` where it redirects to (``target``), and on, within
        its host (see :func:`redirect_refusal`), at most ``max_redirects``, never in a
        loop. ``headers`` are all the request's (the fetcher's own and the caller's)."""
        hop = asked
        visited = {asked}
        redirects = 0
        while True:
            refusal = redirect_refusal(asked, target)
            if refusal:
                raise FetchError(refusal, url=hop)
            if target in visited:
                raise FetchError(f"redirect loop: {hop} leads back to {target}", url=hop)
            if redirects >= self._http.max_redirects:
                raise FetchError(f"more than max_redirects = {self._http.max_redirects} "
                                 f"redirects from {asked}; the last from {hop} to {target}",
                                 url=hop)
            visited.add(target)
            redirects += 1
            hop = target
            # Defence in depth: the caller's headers only ever go to the host asked.
            answer = self._exchange(hop, headers if _same_host(asked, hop) else self._headers,
                                    watch)
            if isinstance(answer, Response):
                return answer
            target = answer

    def _exchange(self, url: str, headers: Mapping[str, str],
                  watch: Watch) -> Response | str:
        """One GET of ``url`` (encoded, see :func:`prepared_url`) with ``headers``: its
        answer, or where it redirects to."""
        size = 0
        try:
            try:
                sender, target = self._senders.sender(url)
                answer = sender.send(target, headers, watch.attach)
            except TransportError as exc:
                if watch.expired:
                    raise _Expired(url) from exc
                raise _sent(exc, url) from exc
            try:
                status = answer.status
                fields = answer.headers
                if status in REDIRECT_STATUSES:
                    location = _field(fields, "Location")
                    if location:
                        return urljoin(url, location)
                body = self._read_body(answer, url, watch)
                size = len(body)
            finally:
                answer.release()
        finally:
            with self._count_lock:
                self.requests += 1
                self.bytes_received += size
        if status in RETRY_STATUSES:
            error = HTTPStatusError(f"HTTP {status} from {url}", url=url, status=status)
            raise _Retryable(error, _retry_after(_field(fields, "Retry-After")))
        if status != 304 and not 200 <= status < 300:
            raise HTTPStatusError(f"HTTP {status} from {url}", url=url, status=status)
        return Response.made(url, status, _field(fields, "Content-Type") or "", body, fields)

    def _read_body(self, answer: Answer, url: str, watch: Watch) -> bytes:
        """The body, whatever arrives per read, checking the size cap and the watch
        between reads; an answer cut short is an error (retried), never a body."""
        limit = self._http.max_response_bytes
        chunks = []
        size = 0
        read1, passed = answer.read1, watch.passed
        try:
            while not passed():
                chunk = read1(_READ_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"response larger than {limit} bytes: {url}", url=url)
                chunks.append(chunk)
        except TransportError as exc:
            if watch.expired:
                raise _Expired(url) from exc
            if isinstance(exc, TimedOut):
                raise _Retryable(FetchError(f"timed out: {url}", url=url)) from exc
            if isinstance(exc, Undecodable):
                raise FetchError(f"the answer from {url} cannot be decoded "
                                 f"({answer.header('Content-Encoding') or ''})",
                                 url=url) from exc
            raise _Retryable(FetchError(f"the answer from {url} ended early after {size} "
                                        "bytes", url=url)) from exc
        if passed():
            # Cut off: what arrived is not the answer, even where it looks complete.
            raise _Expired(url)
        return b"".join(chunks)

    def allowed_by_robots(self, url: str) -> bool:
        """Whether the host's robots.txt lets our User-Agent fetch ``url`` (cached per host)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            known = origin in self._robots
            rules = self._robots.get(origin)
        if not known:
            rules = self._load_robots(origin)
            with self._robots_lock:
                self._robots[origin] = rules
        if rules is None:
            return False
        return rules.can_fetch(self._http.user_agent, url)

    def _load_robots(self, origin: str) -> RobotFileParser | None:
        from urllib.robotparser import RobotFileParser  # HTML sources only

        rules = RobotFileParser()
        try:
            response = self._paced(f"{origin}/robots.txt", None, self._headers)
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:
                rules.parse([])  # no robots.txt: everything allowed (RFC 9309)
                return rules
            return None
        except (FetchError, _Retryable):
            return None  # unreachable: assume complete disallow (RFC 9309)
        rules.parse(response.body.decode("utf-8", errors="replace").splitlines())
        return rules


def _tokens(count: int) -> queue.SimpleQueue[None]:
    tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
    for _ in range(count):
        tokens.put(None)
    return tokens


def _field(fields: Mapping[str, str], name: str) -> str | None:
    """The value of the header field ``name`` (any case) among an answer's ``fields``
    (one entry per name, see :attr:`.transport.Answer.headers`), or None: what the
    answer's ``header(name)`` gives, without parsing the head again."""
    value = fields.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, value in fields.items():
        if key.lower() == wanted:
            return value
    return None


def _sent(exc: TransportError, url: str) -> Exception:
    """A request that got no answer, as the fetcher reports it; timeouts and connection
    errors are retried."""
    if isinstance(exc, TimedOut):
        return _Retryable(FetchError(f"timed out: {url}", url=url))
    if isinstance(exc, CannotConnect):
        return _Retryable(FetchError(f"cannot connect: {url}", url=url))
    return FetchError(f"request failed: {url}: {exc.cause}", url=url)  # Refused


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
