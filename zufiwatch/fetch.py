"""The polite HTTP client shared by all sources.

- **Pacing per host**: a minimum interval between requests and a concurrency limit. Every
  attempt, retries included, waits for its turn, so retries never exceed the pacing.
- **Retries** on connection errors, timeouts, 429 and 5xx, with exponential backoff and
  jitter; a ``Retry-After`` (seconds or an HTTP date) is honoured, for the whole host,
  up to ``max_retry_after`` (longer waits fail the request instead of stalling a crawl).
- **Timeouts** for connecting and reading, and a **size cap** on responses.
- **Identification**: a ``User-Agent`` and, when configured, a ``From`` header.
- **Conditional requests**: given an ETag or Last-Modified from before, the request
  carries ``If-None-Match``/``If-Modified-Since``; a ``304`` comes back as such and the
  caller reuses the body it archived.
- **robots.txt** is honoured where asked for (HTML sources); an unreachable robots.txt
  means "do not fetch", a missing one (4xx) means "fetch anything".

Errors of requests and urllib3 are translated here into :class:`FetchError` and
:class:`HTTPStatusError`.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import requests
from requests.adapters import HTTPAdapter

from .config import HttpSettings
from .errors import FetchError, HTTPStatusError

__all__ = ["Fetcher", "Response", "Validators"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("ETag", ""), self.headers.get("Last-Modified", ""))


@dataclass
class _HostLimit:
    min_interval: float
    slots: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0


class _Retryable(Exception):
    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


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
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = http.user_agent
        if http.contact:
            self._session.headers["From"] = http.contact

    @property
    def settings(self) -> HttpSettings:
        """The ``[http]`` settings this fetcher was made with."""
        return self._http

    def limit_host(self, host: str, *, max_concurrency: int, min_interval: float) -> None:
        """Set the pacing for one host (``netloc`` of its URLs)."""
        with self._limits_lock:
            self._limits[host.lower()] = _HostLimit(
                min_interval, threading.BoundedSemaphore(max_concurrency))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, validators: Validators | None = None,
            robots: bool = False) -> Response:
        """Fetch ``url``; raise :class:`FetchError` unless the answer is a 2xx (or a 304
        to the conditional request that ``validators`` make)."""
        if robots and not self.allowed_by_robots(url):
            raise FetchError(f"disallowed by robots.txt: {url}", url=url)
        sent = dict(headers or {})
        if validators:
            sent.update(validators.headers())
        attempt = 0
        while True:
            try:
                response = self._paced(url, params, sent)
                return Response(response.url, response.status, response.content_type,
                                response.body, response.headers, attempt + 1)
            except _Retryable as retry:
                if attempt >= self.retries:
                    raise retry.error from None
                delay = self._delay(attempt, retry.retry_after, retry.error)
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
        return self._limits.get(urlsplit(url).netloc.lower())

    def _hold_host(self, url: str, delay: float) -> None:
        """Wait ``delay`` before the next attempt; paced hosts hold every request."""
        limit = self._limit_of(url)
        if limit is None:
            self._sleep(delay)
            return
        with limit.lock:
            limit.next_at = max(limit.next_at, self._monotonic() + delay)

    def _paced(self, url: str, params: Mapping[str, str] | None,
               headers: Mapping[str, str]) -> Response:
        limit = self._limit_of(url)
        if limit is None:
            return self._once(url, params, headers)
        with limit.slots:
            self._wait_turn(limit)
            return self._once(url, params, headers)

    def _wait_turn(self, limit: _HostLimit) -> None:
        with limit.lock:
            now = self._monotonic()
            wait = limit.next_at - now
            limit.next_at = max(now, limit.next_at) + limit.min_interval
        if wait > 0:
            self._sleep(wait)

    def _once(self, url: str, params: Mapping[str, str] | None,
              headers: Mapping[str, str]) -> Response:
        timeout = (self._http.connect_timeout, self._http.read_timeout)
        try:
            with self._session.get(url, params=params, headers=headers, timeout=timeout,
                                   stream=True, allow_redirects=True) as answer:
                body = self._read_capped(answer)
                final_url = answer.url
                status = answer.status_code
                answer_headers = dict(answer.headers)
        except requests.exceptions.Timeout as exc:
            raise _Retryable(FetchError(f"timed out: {url}", url=url)) from exc
        except requests.exceptions.ConnectionError as exc:
            raise _Retryable(FetchError(f"cannot connect: {url}", url=url)) from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(f"request failed: {url}: {type(exc).__name__}", url=url) from exc
        finally:
            with self._count_lock:
                self.requests += 1
        with self._count_lock:
            self.bytes_received += len(body)
        if status in RETRY_STATUSES:
            error = HTTPStatusError(f"HTTP {status} from {final_url}", url=final_url,
                                    status=status)
            raise _Retryable(error, _retry_after(answer_headers.get("Retry-After")))
        if status != 304 and not 200 <= status < 300:
            raise HTTPStatusError(f"HTTP {status} from {final_url}", url=final_url,
                                  status=status)
        content_type = answer_headers.get("Content-Type", "")
        return Response(final_url, status, content_type, body, answer_headers)

    def _read_capped(self, answer: requests.Response) -> bytes:
        limit = self._http.max_response_bytes
        chunks = []
        size = 0
        for chunk in answer.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"response larger than {limit} bytes: {answer.url}",
                                 url=answer.url)
            chunks.append(chunk)
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
        rules = RobotFileParser()
        try:
            response = self._paced(f"{origin}/robots.txt", None, {})
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:
                rules.parse([])  # no robots.txt: everything allowed (RFC 9309)
                return rules
            return None
        except (FetchError, _Retryable):
            return None  # unreachable: assume complete disallow (RFC 9309)
        rules.parse(response.body.decode("utf-8", errors="replace").splitlines())
        return rules


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
